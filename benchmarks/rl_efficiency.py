"""Sample efficiency of RLCS against plain GRPO, from one SFT checkpoint, at the same rollout budget.

(a) plain GRPO: uniform prompt sampling, symmetric clip 0.2, no dynamic sampling (all-equal groups are trained
    on and give zero gradient); (b) RLCS: curriculum sampling from offline grades, dynamic sampling expansion,
    clip-higher 0.2/0.28. Both: the demo RL config (model, data, group size, budgets, lr, temperature), seeds. Held-out
    accuracy (greedy, scored by the reward system) is measured every ``--eval-every`` rollouts; the script prints
    both curves per seed, the fraction of (a)'s rollouts that (b) needs to reach (a)'s final accuracy, and the
    final per-domain accuracy of both against the SFT model's (how many domains each variant raised, per seed),
    greedy and sampled (the mean of ``--sample-k`` answers per item at the RL temperature). The RL prompt pool and
    the held-out set must be content-disjoint (no item with the same pixels, question and answer; the demo writes
    them so): the script checks it and stops otherwise.

    python benchmarks/rl_efficiency.py --model runs/demo/sft/model --data runs/demo/data/rl \
        --heldout runs/demo/data/heldout --grades runs/demo/rl/grades.jsonl --seeds 0 1 2 --budget 2048
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import replace
from pathlib import Path

import torch
from common import add_threads_argument

from thinkvl.config import load_yaml
from thinkvl.data.loaders import load_records
from thinkvl.data.synth.splits import split_stats
from thinkvl.demo import demo_config_path, sampled_table
from thinkvl.model import load_bundle
from thinkvl.model.generate import TransformersEngine, make_generate
from thinkvl.reward import RewardSystem
from thinkvl.rl.config import RLConfig, sampling_params
from thinkvl.rl.curriculum import UNIFORM_TIER_WEIGHTS
from thinkvl.rl.run import sample_verdicts
from thinkvl.rl.trainer import RLCSTrainer, load_grades


def heldout_accuracy(bundle, heldout, reward, cfg: RLConfig) -> dict[str, float]:
    """Greedy held-out accuracy under the RL config's budgets: ``"all"`` and one entry per domain."""
    bundle.model.eval()
    engine = TransformersEngine(bundle, batch_size=64)
    generate = make_generate(engine, answer_budget=cfg.answer_budget)
    texts = generate(heldout.records, heldout.root, cfg.thinking_budget)
    verdicts = reward.score_batch(texts, heldout.records)
    one_each = {record.id: [verdict] for record, verdict in zip(heldout.records, verdicts)}
    return {domain: row["accuracy"] for domain, row in sampled_table(heldout.records, one_each).items()}


def sampled_accuracy(bundle, heldout, reward, cfg: RLConfig, k: int, seed: int) -> dict[str, float]:
    """Held-out accuracy under the RL run's own sampling (mean over ``k`` answers per item at its temperature):
    ``"all"`` and one entry per domain."""
    torch.manual_seed(seed)
    params = sampling_params(cfg, n=k)
    records, root = heldout.records, heldout.root
    verdicts = sample_verdicts(bundle, records, root, reward, params, batch_size=64, show_progress=False)
    return {domain: row["accuracy"] for domain, row in sampled_table(records, verdicts).items()}


def variant_config(variant: str, args, seed: int) -> RLConfig:
    """Both variants start from the demo's RL settings (budgets, batch sizes, lr, temperature) and differ only in
    what RLCS adds on top of GRPO."""
    cfg = load_yaml(RLConfig, args.config, model=args.model, data=args.data, seed=seed, lr=args.lr)
    if variant == "grpo":
        return replace(
            cfg,
            curriculum=False,
            dynamic_sampling=False,
            clip_eps_low=0.2,
            clip_eps_high=0.2,
            tier_weights=UNIFORM_TIER_WEIGHTS,
        )
    return replace(cfg, curriculum=True, dynamic_sampling=True)


def run(variant: str, seed: int, args, data, heldout, reward, start: dict[str, float]) -> dict:
    """One RL run from the SFT checkpoint (whose greedy held-out accuracy is ``start``): the greedy held-out
    accuracy every ``--eval-every`` rollouts (``curve``) and, at the end, the sampled one (``sampled``)."""
    torch.manual_seed(seed)
    bundle = load_bundle(args.model)
    cfg = variant_config(variant, args, seed)
    grades = load_grades(args.grades) if variant == "rlcs" else None
    engine = TransformersEngine(bundle, batch_size=cfg.rollout_batch_size)
    trainer = RLCSTrainer(cfg, bundle, data, reward, engine, grades=grades)
    curve = [(0, start)]
    next_eval = args.eval_every
    while trainer.rollouts_used < args.budget:
        trainer.step()
        if trainer.rollouts_used >= next_eval or trainer.rollouts_used >= args.budget:
            curve.append((trainer.rollouts_used, heldout_accuracy(bundle, heldout, reward, cfg)))
            next_eval += args.eval_every
            n, acc = curve[-1]
            print(f"  {variant} seed {seed}: {n} rollouts, held-out accuracy {acc['all']:.3f}", flush=True)
    sampled = sampled_accuracy(bundle, heldout, reward, cfg, args.sample_k, seed) if args.sample_k else {}
    return {"curve": curve, "sampled": sampled}


def rollouts_to_reach(curve: list[tuple[int, dict[str, float]]], target: float) -> int | None:
    return next((n for n, acc in curve if acc["all"] >= target), None)


def domain_table(title: str, start: dict[str, float], finals: dict[str, dict[int, dict[str, float]]]) -> None:
    """Per domain: the SFT model's accuracy, each variant's final accuracy (mean over seeds) and on how many seeds
    it ended above the SFT model; then how many domains each variant raised and lowered, per seed."""
    domains = [d for d in start if d != "all"]
    seeds = list(finals["grpo"])
    print(f"\n{title}\ndomain | SFT | GRPO final (seeds above SFT) | RLCS final (seeds above SFT)")
    for domain in domains + ["all"]:
        cells = []
        for variant in ("grpo", "rlcs"):
            values = [finals[variant][seed][domain] for seed in seeds]
            above = sum(v > start[domain] for v in values)
            cells.append(f"{statistics.mean(values):.3f} ({above}/{len(seeds)})")
        print(f"{domain} | {start[domain]:.3f} | {cells[0]} | {cells[1]}")
    for variant in ("grpo", "rlcs"):
        raised = [sum(finals[variant][s][d] > start[d] for d in domains) for s in seeds]
        lowered = [sum(finals[variant][s][d] < start[d] for d in domains) for s in seeds]
        print(f"{variant}: domains raised per seed {raised}, lowered {lowered} (of {len(domains)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--grades", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budget", type=int, default=2048, help="rollouts per run")
    ap.add_argument("--eval-every", type=int, default=256)
    ap.add_argument("--config", default=str(demo_config_path("rl.yaml")), help="base RL config of both variants")
    ap.add_argument("--lr", type=float, default=None, help="override the config's learning rate")
    ap.add_argument(
        "--sample-k", type=int, default=8, help="answers per held-out item for the final sampled accuracy (0: skip)"
    )
    ap.add_argument(
        "--heldout-per-domain", type=int, default=None, help="evaluate on the first N held-out items of each domain"
    )
    ap.add_argument("--out", type=Path, default=Path("rl_efficiency.json"))
    add_threads_argument(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reward = RewardSystem()
    cfg = load_yaml(RLConfig, args.config, model=args.model, data=args.data)
    overlap = split_stats(args.heldout, args.data)["all"]
    print(
        f"held-out: {overlap['items']} items, {overlap['identical_to_reference']} identical to an RL prompt, "
        f"{overlap['answers_in_reference']:.0%} with an answer that also occurs in the RL pool",
        flush=True,
    )
    if overlap["identical_to_reference"]:
        raise SystemExit("error: the held-out set shares items with the RL prompts; write it with --exclude")
    data, heldout = load_records(args.data), load_records(args.heldout)
    if args.heldout_per_domain:
        by_domain: dict[str, list] = {}
        for record in heldout.records:
            by_domain.setdefault(record.domain, []).append(record)
        keep = [r for rs in by_domain.values() for r in rs[: args.heldout_per_domain]]
        heldout = replace(heldout, records=keep)
    sft = load_bundle(args.model)
    # Greedy decoding: the SFT model's held-out accuracy is the same for every variant and seed.
    start = heldout_accuracy(sft, heldout, reward, cfg)
    start_sampled = sampled_accuracy(sft, heldout, reward, cfg, args.sample_k, 0) if args.sample_k else {}
    print(f"SFT model: held-out accuracy {start['all']:.3f} (greedy)", flush=True)
    results = {"grpo": {}, "rlcs": {}}
    # Every GRPO run first: they need no grades, and each finished run is saved at once.
    for variant in ("grpo", "rlcs"):
        for seed in args.seeds:
            results[variant][seed] = run(variant, seed, args, data, heldout, reward, start)
            partial = {k: {str(s): c for s, c in v.items()} for k, v in results.items()}
            args.out.write_text(json.dumps(partial | {"sft": {"greedy": start}}, indent=1))
    curves = {v: {seed: r["curve"] for seed, r in runs.items()} for v, runs in results.items()}
    fractions = []
    print("\nseed | GRPO final | RLCS final | RLCS rollouts to reach GRPO's final / GRPO's rollouts")
    for seed in args.seeds:
        grpo, rlcs = curves["grpo"][seed], curves["rlcs"][seed]
        target = grpo[-1][1]["all"]
        # GRPO ending at or below the SFT model leaves nothing to reach: the fraction is undefined, not 0.
        need = rollouts_to_reach(rlcs, target) if target > start["all"] else None
        frac = need / grpo[-1][0] if need is not None else float("nan")
        fractions.append(frac)
        print(f"{seed} | {target:.3f} | {rlcs[-1][1]['all']:.3f} | {frac:.2f}")
    for variant in ("grpo", "rlcs"):
        finals = [curves[variant][seed][-1][1]["all"] for seed in args.seeds]
        spread = statistics.pstdev(finals) if len(finals) > 1 else 0.0
        print(f"{variant} final held-out accuracy: mean {statistics.mean(finals):.3f} ± {spread:.3f}")
    finite = [f for f in fractions if f == f]
    if finite:
        spread = statistics.pstdev(finite) if len(finite) > 1 else 0.0
        print(
            f"fraction of GRPO's rollouts RLCS needs: mean {statistics.mean(finite):.2f} ± {spread:.2f} "
            f"({len(finite)}/{len(fractions)} seeds reached it)"
        )
    greedy_finals = {v: {seed: c[-1][1] for seed, c in runs.items()} for v, runs in curves.items()}
    domain_table("Greedy held-out accuracy", start, greedy_finals)
    if args.sample_k:
        sampled_finals = {v: {seed: r["sampled"] for seed, r in runs.items()} for v, runs in results.items()}
        domain_table(
            f"Sampled held-out accuracy (mean of {args.sample_k} answers per item, T {cfg.temperature})",
            start_sampled,
            sampled_finals,
        )
    results["sft"] = {"greedy": start, "sampled": start_sampled}
    args.out.write_text(json.dumps({k: {str(s): c for s, c in v.items()} for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
