"""`thinkvl grade` and `thinkvl rl`."""

from __future__ import annotations

import argparse
from collections import Counter


def _grade(args: argparse.Namespace) -> int:
    from thinkvl.rl.run import grade

    grades = grade(
        args.model,
        args.data,
        args.out,
        k=args.k,
        thinking_budget=args.thinking_budget,
        temperature=args.temperature,
        batch_size=args.batch_size,
    )
    tiers = Counter(g.tier for g in grades.values())
    print(f"graded {len(grades)} records with pass@{args.k} → {args.out}")
    print("  " + ", ".join(f"{t}: {n}" for t, n in sorted(tiers.items())))
    return 0


def _rl(args: argparse.Namespace) -> int:
    from thinkvl.config import load_yaml
    from thinkvl.rl.config import RLConfig
    from thinkvl.rl.run import run_rl

    overrides = {
        "model": args.model,
        "data": args.data,
        "out": args.out,
        "iterations": args.iterations,
        "grades": args.grades,
    }
    cfg = load_yaml(RLConfig, args.config, **overrides)
    out = run_rl(cfg)
    print(f"RLCS finished {cfg.iterations} iterations → {out}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("grade", help="offline difficulty grading: pass@k of a model per record → tiers")
    g.add_argument("--model", required=True, help="model directory")
    g.add_argument("--data", required=True, help="dataset")
    g.add_argument("--k", type=int, default=8, help="responses per record (default 8)")
    g.add_argument("--out", default="grades.jsonl", help="output JSON lines (id, pass_rate, label, estimate, tier)")
    g.add_argument("--thinking-budget", type=int, default=128, help="forced answering after this many tokens")
    g.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (use the RL run's)")
    g.add_argument("--batch-size", type=int, default=32, help="sequences per generate call")
    g.set_defaults(func=_grade)
    r = sub.add_parser("rl", help="RLCS: reinforcement learning with curriculum sampling")
    r.add_argument("config", help="RL YAML (fields of thinkvl.rl.config.RLConfig)")
    r.add_argument("--model", help="override: starting policy directory")
    r.add_argument("--data", help="override: prompts dataset")
    r.add_argument("--out", help="override: run directory")
    r.add_argument("--iterations", type=int, help="override: iterations")
    r.add_argument("--grades", help="override: offline grades file from `thinkvl grade`")
    r.set_defaults(func=_rl)
