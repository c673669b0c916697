"""Sample efficiency of RLCS against plain GRPO, from one SFT checkpoint, at the same rollout budget.

(a) plain GRPO: uniform prompt sampling, symmetric clip 0.2, no dynamic sampling (all-equal groups are trained
    on and give zero gradient); (b) RLCS: curriculum sampling from offline grades, dynamic sampling expansion,
    clip-higher 0.2/0.28. Both: the demo RL config (model, data, group size, budgets, lr, temperature), seeds. Held-out
    accuracy (greedy, scored by the reward system) is measured every ``--eval-every`` rollouts; the script prints
    both curves per seed and the fraction of (a)'s rollouts that (b) needs to reach (a)'s final accuracy.

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

from thinkvl.config import load_yaml
from thinkvl.data.loaders import load_records
from thinkvl.demo import demo_config_path
from thinkvl.model import load_bundle
from thinkvl.reward import RewardSystem
from thinkvl.rl.config import RLConfig
from thinkvl.rl.curriculum import UNIFORM_TIER_WEIGHTS
from thinkvl.rl.engine import TransformersEngine, make_generate
from thinkvl.rl.trainer import RLCSTrainer, load_grades


def heldout_accuracy(bundle, heldout, reward, budget: int) -> float:
    bundle.model.eval()
    generate = make_generate(TransformersEngine(bundle, batch_size=64), default_budget=budget)
    texts = generate(heldout.records, heldout.root, budget)
    verdicts = reward.score_batch(texts, heldout.records)
    return sum(v.correct for v in verdicts) / len(verdicts)


def run(variant: str, seed: int, args, reward) -> list[tuple[int, float]]:
    """One RL run from the SFT checkpoint; held-out accuracy every ``--eval-every`` rollouts."""
    torch.manual_seed(seed)
    bundle = load_bundle(args.model)
    data, heldout = load_records(args.data), load_records(args.heldout)
    # Both variants start from the demo's RL settings (budgets, batch sizes, lr, temperature) and differ only in
    # what RLCS adds on top of GRPO.
    cfg = load_yaml(RLConfig, args.config, model=args.model, data=args.data, seed=seed, lr=args.lr)
    if variant == "grpo":
        cfg = replace(
            cfg,
            curriculum=False,
            dynamic_sampling=False,
            clip_eps_low=0.2,
            clip_eps_high=0.2,
            tier_weights=UNIFORM_TIER_WEIGHTS,
        )
        grades = None
    else:
        cfg = replace(cfg, curriculum=True, dynamic_sampling=True)
        grades = load_grades(args.grades)
    engine = TransformersEngine(bundle, batch_size=cfg.rollout_batch_size)
    trainer = RLCSTrainer(cfg, bundle, data, reward, engine, grades=grades)
    curve = [(0, heldout_accuracy(bundle, heldout, reward, cfg.thinking_budget))]
    next_eval = args.eval_every
    while trainer.rollouts_used < args.budget:
        trainer.step()
        if trainer.rollouts_used >= next_eval or trainer.rollouts_used >= args.budget:
            curve.append((trainer.rollouts_used, heldout_accuracy(bundle, heldout, reward, cfg.thinking_budget)))
            next_eval += args.eval_every
            print(f"  {variant} seed {seed}: {curve[-1][0]} rollouts, held-out accuracy {curve[-1][1]:.3f}", flush=True)
    return curve


def rollouts_to_reach(curve: list[tuple[int, float]], target: float) -> int | None:
    return next((n for n, acc in curve if acc >= target), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--grades", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budget", type=int, default=2048, help="rollouts per run")
    ap.add_argument("--eval-every", type=int, default=512)
    ap.add_argument("--config", default=str(demo_config_path("rl.yaml")), help="base RL config of both variants")
    ap.add_argument("--lr", type=float, default=None, help="override the config's learning rate")
    ap.add_argument("--out", type=Path, default=Path("rl_efficiency.json"))
    args = ap.parse_args()
    reward = RewardSystem()
    results = {"grpo": {}, "rlcs": {}}
    for seed in args.seeds:
        for variant in ("grpo", "rlcs"):
            results[variant][seed] = run(variant, seed, args, reward)
    fractions = []
    print("\nseed | GRPO final | RLCS final | RLCS rollouts to reach GRPO's final / GRPO's rollouts")
    for seed in args.seeds:
        grpo, rlcs = results["grpo"][seed], results["rlcs"][seed]
        need = rollouts_to_reach(rlcs, grpo[-1][1])
        frac = need / grpo[-1][0] if need is not None else float("nan")
        fractions.append(frac)
        print(f"{seed} | {grpo[-1][1]:.3f} | {rlcs[-1][1]:.3f} | {frac:.2f}")
    for variant in ("grpo", "rlcs"):
        finals = [results[variant][seed][-1][1] for seed in args.seeds]
        spread = statistics.pstdev(finals) if len(finals) > 1 else 0.0
        print(f"{variant} final held-out accuracy: mean {statistics.mean(finals):.3f} ± {spread:.3f}")
    finite = [f for f in fractions if f == f]
    if finite:
        spread = statistics.pstdev(finite) if len(finite) > 1 else 0.0
        print(
            f"fraction of GRPO's rollouts RLCS needs: mean {statistics.mean(finite):.2f} ± {spread:.2f} "
            f"({len(finite)}/{len(fractions)} seeds reached it)"
        )
    args.out.write_text(json.dumps({k: {str(s): c for s, c in v.items()} for k, v in results.items()}, indent=1))


if __name__ == "__main__":
    main()
