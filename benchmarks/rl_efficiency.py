"""Does RL train the model? RLCS and plain GRPO (ours) against TRL's GRPOTrainer, from one SFT model, over seeds.

Every run starts from the same SFT checkpoint, draws from the same RL prompt pool, is scored by the same
`RewardSystem` and gets the same rollout budget; every model is evaluated on the same content-disjoint held-out
items with the same scorer, and compared with the SFT model item by item (McNemar's exact test for greedy
right/wrong, a paired bootstrap for the per-item share of sampled answers that are right).

Variants (``--variants``):
- ``grpo``: ours, plain GRPO — uniform prompt sampling, no dynamic sampling, symmetric clip 0.2/0.2;
- ``rlcs``: ours, RLCS — curriculum sampling from ``--grades``, dynamic sampling expansion, clip-higher 0.2/0.28;
- ``grpo_image`` and ``trl``: the peer check. TRL's GRPOTrainer has no video input, so both train on the image
  records of the pool only and are evaluated on the image items of the held-out set: ``grpo_image`` is ours with
  the ``grpo`` settings, ``trl`` is TRL with the same settings (`benchmarks/trl_grpo.py` lists what maps to what).

All variants take the demo's RL config (``--config``: budgets, group size, batch sizes, lr, warm-up, temperature)
and differ only as listed. Greedy held-out accuracy is measured every ``--eval-every`` rollouts for ``grpo`` and
``rlcs`` (for the rollouts RLCS needs to reach GRPO's final accuracy), and greedy plus sampled (``--sample-k``
answers per item at the RL temperature) at the end of every run. Results are written to ``--out`` after each run;
re-running with the same ``--out`` skips the runs already there. ``--plots DIR`` draws the curves.

    python benchmarks/rl_efficiency.py --model runs/demo/sft/model --data runs/demo/data/rl \
        --heldout runs/demo/data/heldout --grades runs/demo/rl/grades.jsonl --seeds 0 1 2 --budget 8192 \
        --out rl_efficiency.json --plots docs/rl_efficiency
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from common import add_threads_argument

from thinkvl.config import load_yaml
from thinkvl.data.loaders import Dataset, load_records
from thinkvl.data.synth.splits import split_stats
from thinkvl.demo import demo_config_path
from thinkvl.eval.stats import binomial_se, mcnemar, paired_bootstrap
from thinkvl.model import load_bundle, save_bundle
from thinkvl.model.generate import TransformersEngine, make_generate, modality
from thinkvl.reward import RewardSystem
from thinkvl.rl.config import RLConfig, sampling_params
from thinkvl.rl.curriculum import UNIFORM_TIER_WEIGHTS, read_grades
from thinkvl.rl.run import sample_verdicts
from thinkvl.rl.trainer import RLCSTrainer

VARIANTS = ("grpo", "rlcs", "grpo_image", "trl")
HEALTH = ("rewards/mean", "actor/approx_kl", "actor/clip_frac", "actor/entropy", "actor/weight_change")


def evaluate(bundle: Any, heldout: Dataset, reward: Any, cfg: RLConfig, k: int, seed: int) -> dict[str, Any]:
    """Per held-out item: greedy right/wrong (and the response), and with ``k`` the share of ``k`` answers sampled
    under the RL config's own sampling that are right."""
    bundle.model.eval()
    generate = make_generate(TransformersEngine(bundle, batch_size=64), answer_budget=cfg.answer_budget)
    texts = generate(heldout.records, heldout.root, cfg.thinking_budget)
    verdicts = reward.score_batch(texts, heldout.records)
    out: dict[str, Any] = {
        "greedy": {r.id: bool(v.correct) for r, v in zip(heldout.records, verdicts)},
        "texts": {r.id: t for r, t in zip(heldout.records, texts)},
    }
    if k:
        params = sampling_params(cfg, n=k)
        sampled = sample_verdicts(
            bundle, heldout.records, heldout.root, reward, params, 64, show_progress=False, seed=seed
        )
        out["sampled"] = {rid: sum(v.correct for v in vs) / len(vs) for rid, vs in sampled.items()}
    return out


def table(records: list[Any], values: dict[str, float]) -> dict[str, float]:
    """Mean of per-item values: ``"all"``, per domain, and per difficulty level (``"level N"``) when there are
    several."""
    groups: dict[str, list[float]] = {"all": []}
    levels = {r.difficulty for r in records}
    for r in records:
        if r.id not in values:
            continue
        v = float(values[r.id])
        groups["all"].append(v)
        groups.setdefault(r.domain, []).append(v)
        if len(levels) > 1:
            groups.setdefault(f"level {r.difficulty}", []).append(v)
    return {k: sum(v) / len(v) for k, v in groups.items() if v}


def variant_config(variant: str, args: argparse.Namespace, seed: int) -> RLConfig:
    """The demo's RL settings, with what makes a run plain GRPO or RLCS."""
    over = {"lr": args.lr} if args.lr is not None else {}
    cfg = load_yaml(RLConfig, args.config, model=args.model, data=args.data, seed=seed, **over)
    if variant == "rlcs":
        return replace(cfg, curriculum=True, dynamic_sampling=True)
    return replace(
        cfg, curriculum=False, dynamic_sampling=False, clip_eps_low=0.2, clip_eps_high=0.2,
        tier_weights=UNIFORM_TIER_WEIGHTS,
    )  # fmt: skip


def run_ours(variant: str, seed: int, args, pool: Dataset, heldout: Dataset, reward: Any, log_dir: Path) -> dict:
    """One RL run of our trainer: held-out greedy accuracy every ``--eval-every`` rollouts (``curve``), the
    per-iteration metrics, and the final per-item evaluation."""
    torch.manual_seed(seed)
    cfg = variant_config(variant, args, seed)
    bundle = load_bundle(args.model)
    grades = read_grades(args.grades) if variant == "rlcs" and args.grades else None
    engine = TransformersEngine(bundle, batch_size=cfg.rollout_batch_size)
    trainer = RLCSTrainer(cfg, bundle, pool, reward, engine, grades=grades)
    curve, metrics = [], []
    next_eval = args.eval_every if variant in ("grpo", "rlcs") else args.budget
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "metrics.jsonl").open("w") as log:
        while trainer.rollouts_used < args.budget:
            m = trainer.step()
            m["iteration"] = trainer.iteration
            metrics.append({k: v for k, v in m.items() if isinstance(v, (int, float))})
            log.write(json.dumps(metrics[-1]) + "\n")
            log.flush()
            if trainer.rollouts_used >= next_eval and trainer.rollouts_used < args.budget:
                greedy = evaluate(bundle, heldout, reward, cfg, 0, seed)["greedy"]
                curve.append((trainer.rollouts_used, table(heldout.records, greedy)["all"]))
                print(f"  {variant} seed {seed}: {curve[-1][0]} rollouts, greedy {curve[-1][1]:.3f}", flush=True)
                next_eval += args.eval_every
    # The final policy stays next to its logs (~20 MB here), so it can be evaluated again on other held-out items.
    save_bundle(bundle, log_dir / "model")
    final = evaluate(bundle, heldout, reward, cfg, args.sample_k, seed)
    curve.append((trainer.rollouts_used, table(heldout.records, final["greedy"])["all"]))
    return {"curve": curve, "metrics": metrics, "final": final, "config": cfg.to_dict()}


def run_trl(seed: int, args, pool: Dataset, heldout: Dataset, reward: Any, log_dir: Path) -> dict:
    from trl_grpo import train_trl

    torch.manual_seed(seed)
    cfg = variant_config("grpo", args, seed)
    model_dir = train_trl(cfg, pool.records, pool.root, args.budget, log_dir)
    final = evaluate(load_bundle(model_dir), heldout, reward, cfg, args.sample_k, seed)
    logs = json.loads((log_dir / "trl_log.json").read_text())
    curve = [(args.budget, table(heldout.records, final["greedy"])["all"])]
    return {"curve": curve, "metrics": logs, "final": final, "config": cfg.to_dict()}


TRACE = re.compile(r"shows (\d+) \+ (\d+)\. Adding: (\d+) \+ (\d+) = (\d+)\.")
BOX = re.compile(r"<\|begin_of_box\|>(.*?)<\|end_of_box\|>")


def math_traces(records: list[Any], final: dict[str, Any]) -> dict[str, float] | None:
    """On the level-0 math items ("a+b" in the image): how often the thought reads the two digits right, adds what
    it read right, and boxes what it added, and how many right answers rest on a misread. A right answer after a
    wrong reading is luck (three possible sums), which RL may trade away while reading better."""
    rows = []
    for r in records:
        expr = r.meta.get("expression", "") if r.domain == "math" else ""
        if not re.fullmatch(r"\d\+\d", expr) or r.id not in final["texts"]:
            continue
        a, b = map(int, expr.split("+"))
        text = final["texts"][r.id]
        m, box = TRACE.search(text), BOX.search(text)
        read = m is not None and (int(m[1]), int(m[2])) == (a, b)
        added = m is not None and int(m[5]) == int(m[3]) + int(m[4])
        follows = m is not None and box is not None and box[1].strip() == m[5]
        rows.append((read, added, follows, final["greedy"][r.id]))
    if not rows:
        return None
    n = len(rows)
    return {
        "items": n,
        "reads_digits": sum(x[0] for x in rows) / n,
        "adds_correctly": sum(x[1] for x in rows) / n,
        "boxes_its_sum": sum(x[2] for x in rows) / n,
        "correct": sum(x[3] for x in rows) / n,
        "correct_after_misreading": sum(x[3] and not x[0] for x in rows) / n,
    }


def paired_vs(base: dict, other: dict, ids: list[str]) -> dict[str, Any]:
    """``other`` against ``base`` on the items ``ids``: McNemar on greedy, paired bootstrap on sampled."""
    out = {"greedy": mcnemar([base["greedy"][i] for i in ids], [other["greedy"][i] for i in ids]).to_dict()}
    if "sampled" in base and "sampled" in other:
        a, b = [base["sampled"][i] for i in ids], [other["sampled"][i] for i in ids]
        out["sampled"] = paired_bootstrap(a, b).to_dict()
    return out


def rollouts_to_reach(curve: list, target: float) -> int | None:
    return next((n for n, acc in curve if acc >= target), None)


def report(results: dict, sft: dict, heldout: Dataset, image_ids: set[str], args) -> dict[str, Any]:
    """Print the tables and return the summary (also written to the JSON)."""
    summary: dict[str, Any] = {}
    for variant, runs in results.items():
        ids = [r.id for r in heldout.records if variant not in ("trl", "grpo_image") or r.id in image_ids]
        records = [r for r in heldout.records if r.id in set(ids)]
        base = {k: table(records, v) for k, v in sft.items() if k in ("greedy", "sampled")}
        rows = {}
        for seed, run in runs.items():
            final = {k: table(records, v) for k, v in run["final"].items() if k in ("greedy", "sampled")}
            rows[seed] = {"final": final, "vs_sft": paired_vs(sft, run["final"], ids)}
        for seed, run in runs.items():
            rows[seed]["math_traces"] = math_traces(records, run["final"])
        summary[variant] = {"sft": base, "seeds": rows, "items": len(ids), "sft_math_traces": math_traces(records, sft)}
        print(f"\n== {variant} ({len(ids)} held-out items; SFT greedy {base['greedy']['all']:.1%}"
              + (f", sampled {base['sampled']['all']:.1%})" if "sampled" in base else ")"))  # fmt: skip
        for kind in ("greedy", "sampled"):
            finals = [r["final"][kind]["all"] for r in rows.values() if kind in r["final"]]
            if not finals:
                continue
            spread = statistics.pstdev(finals) if len(finals) > 1 else 0.0
            se = binomial_se(base[kind]["all"], len(ids))
            mean = statistics.mean(finals)
            print(f"{kind}: SFT {base[kind]['all']:.1%} (binomial SE {se:.1%}); final mean {mean:.1%}"
                  f" ± {spread:.1%} over {len(finals)} seeds")  # fmt: skip
            for seed, r in rows.items():
                p = r["vs_sft"].get(kind)
                if p:
                    beyond = p["diff"] > 2 * p["se"]
                    print(f"  seed {seed}: {_paired_line(p)}{'  [> 2 SE above SFT]' if beyond else ''}")
        traces = [("SFT", summary[variant]["sft_math_traces"])]
        traces += [(f"seed {seed}", r["math_traces"]) for seed, r in rows.items()]
        for name, t in traces:
            if t:
                print(f"  math traces, {name}: " + ", ".join(f"{k} {v:.0%}" for k, v in t.items() if k != "items"))
        domains = [d for d in base["greedy"] if d != "all"]
        print("per domain (mean over seeds; seeds above SFT): " + ", ".join(
            f"{d} {base['greedy'][d]:.0%}→{statistics.mean(r['final']['greedy'][d] for r in rows.values()):.0%}"
            f" ({sum(r['final']['greedy'][d] > base['greedy'][d] for r in rows.values())}/{len(rows)})"
            for d in domains
        ))  # fmt: skip
    if "grpo" in results and "rlcs" in results:
        fractions = {}
        for seed in results["grpo"]:
            if seed not in results["rlcs"]:
                continue
            grpo, rlcs = results["grpo"][seed]["curve"], results["rlcs"][seed]["curve"]
            target = grpo[-1][1]
            need = rollouts_to_reach(rlcs, target)
            fractions[seed] = need / grpo[-1][0] if need is not None else None
            print(f"seed {seed}: GRPO final {target:.1%}; RLCS reaches it at "
                  + (f"{need} rollouts = {fractions[seed]:.2f} of GRPO's" if need else "— (never)"))  # fmt: skip
        summary["rlcs_rollouts_to_reach_grpo_final"] = fractions
        ids = [r.id for r in heldout.records]
        summary["rlcs_vs_grpo"] = {
            s: paired_vs(results["grpo"][s]["final"], results["rlcs"][s]["final"], ids)
            for s in results["grpo"]
            if s in results["rlcs"]
        }
    return summary


def _paired_line(p: dict) -> str:
    swaps = f", {p['only_a']} right→wrong, {p['only_b']} wrong→right" if p.get("only_a") is not None else ""
    return (f"{p['mean_a']:.1%} → {p['mean_b']:.1%} ({p['diff']:+.1%} ± {p['se']:.1%}; {p['test']} p = "
            f"{p['p_value']:.2g}{swaps})")  # fmt: skip


def plot(results: dict, out_dir: Path) -> None:
    """held-out accuracy against rollouts (every seed, and the mean), and the policy's health per iteration."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    colors = {"grpo": "#4c72b0", "rlcs": "#dd8452", "grpo_image": "#55a868", "trl": "#c44e52"}
    fig = Figure(figsize=(6.5, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for variant, runs in results.items():
        for k, run in enumerate(runs.values()):
            xs, ys = zip(*run["curve"])
            ax.plot(xs, [100 * y for y in ys], color=colors[variant], alpha=0.8, marker="o", ms=3,
                    label=variant if k == 0 else None)  # fmt: skip
    ax.set(xlabel="rollouts", ylabel="held-out greedy accuracy (%)", title="held-out accuracy during RL")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.savefig(out_dir / "accuracy_vs_rollouts.png", dpi=100)

    fig = Figure(figsize=(4 * len(HEALTH), 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(HEALTH))
    for ax, key in zip(axes, HEALTH):
        for variant in ("grpo", "rlcs"):
            for k, run in enumerate(results.get(variant, {}).values()):
                pts = [(m["rollouts/total"], m[key]) for m in run["metrics"] if key in m]
                if pts:
                    xs, ys = zip(*pts)
                    ax.plot(xs, ys, color=colors[variant], alpha=0.6, lw=1, label=variant if k == 0 else None)
        ax.set(title=key, xlabel="rollouts")
        if key in ("actor/approx_kl",):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(frameon=False)
    fig.savefig(out_dir / "policy_health.png", dpi=100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="the RL prompt pool")
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--grades", default=None, help="offline grades of the pool (thinkvl grade), read by RLCS")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budget", type=int, default=8192, help="rollouts per run")
    ap.add_argument("--eval-every", type=int, default=2048)
    ap.add_argument("--config", default=str(demo_config_path("rl.yaml")), help="base RL config of every variant")
    ap.add_argument("--lr", type=float, default=None, help="override the config's learning rate")
    ap.add_argument("--sample-k", type=int, default=4, help="sampled answers per held-out item at the end (0: skip)")
    ap.add_argument("--heldout-per-domain", type=int, default=None, help="the first N held-out items per domain")
    ap.add_argument("--out", type=Path, default=Path("rl_efficiency.json"))
    ap.add_argument("--plots", type=Path, default=None, help="write accuracy and policy-health curves here")
    ap.add_argument(
        "--merge", type=Path, nargs="*", default=[],
        help="result files of runs made in parallel (same model, data and held-out): their runs join --out's",
    )  # fmt: skip
    add_threads_argument(ap)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    overlap = split_stats(args.heldout, args.data)["all"]
    print(f"held-out: {overlap['items']} items, {overlap['identical_to_reference']} identical to an RL prompt",
          flush=True)  # fmt: skip
    if overlap["identical_to_reference"]:
        raise SystemExit("error: the held-out set shares items with the RL prompts; write it with --exclude")
    pool, heldout = load_records(args.data), load_records(args.heldout)
    if args.heldout_per_domain:
        by_domain: dict[str, list[Any]] = {}
        for record in heldout.records:
            by_domain.setdefault(record.domain, []).append(record)
        heldout = replace(heldout, records=[r for rs in by_domain.values() for r in rs[: args.heldout_per_domain]])
    image_pool = replace(pool, records=[r for r in pool.records if modality(r) == "image"])
    image_ids = {r.id for r in heldout.records if modality(r) == "image"}
    image_heldout = replace(heldout, records=[r for r in heldout.records if r.id in image_ids])
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
    reward = RewardSystem()
    base_cfg = variant_config("grpo", args, 0)
    if "sft" not in saved:
        start = time.perf_counter()
        saved["sft"] = evaluate(load_bundle(args.model), heldout, reward, base_cfg, args.sample_k, 0)
        print(f"SFT evaluated in {time.perf_counter() - start:.0f} s", flush=True)
        args.out.write_text(json.dumps(saved))
    results: dict[str, dict[str, Any]] = saved.setdefault("runs", {})
    for other in args.merge:
        for variant, runs in json.loads(other.read_text()).get("runs", {}).items():
            for seed, run in runs.items():
                results.setdefault(variant, {}).setdefault(seed, run)
    log_root = args.out.with_suffix("")
    for seed in args.seeds:
        for variant in args.variants:
            if str(seed) in results.get(variant, {}):
                continue
            start = time.perf_counter()
            log_dir = log_root / f"{variant}_seed{seed}"
            if variant == "trl":
                run = run_trl(seed, args, image_pool, image_heldout, reward, log_dir)
            else:
                data, held = (image_pool, image_heldout) if variant == "grpo_image" else (pool, heldout)
                run = run_ours(variant, seed, args, data, held, reward, log_dir)
            run["minutes"] = (time.perf_counter() - start) / 60
            results.setdefault(variant, {})[str(seed)] = run
            print(f"{variant} seed {seed}: final greedy {run['curve'][-1][1]:.3f} ({run['minutes']:.1f} min)",
                  flush=True)  # fmt: skip
            args.out.write_text(json.dumps(saved))
    saved["summary"] = report(results, saved["sft"], heldout, image_ids, args)
    args.out.write_text(json.dumps(saved))
    if args.plots:
        plot(results, args.plots)


if __name__ == "__main__":
    main()
