"""`thinkvl grade` and `thinkvl rl`: both read an RL config (fields of `RLConfig`), flags winning over the YAML."""

from __future__ import annotations

import argparse
from collections import Counter

from thinkvl.config import add_config_flags_later

RL_CONFIG = "thinkvl.rl.config:RLConfig"


def _grade(args: argparse.Namespace) -> int:
    from thinkvl.config import config_from_args
    from thinkvl.rl.config import RLConfig
    from thinkvl.rl.run import grade

    cfg = config_from_args(RLConfig, args, args.config)
    grades = grade(cfg)
    tiers = Counter(g.tier for g in grades.values())
    print(f"graded {len(grades)} records with pass@{cfg.grade_k} → {cfg.grades}")
    print("  " + ", ".join(f"{t}: {n}" for t, n in sorted(tiers.items())))
    return 0


def _rl(args: argparse.Namespace) -> int:
    from thinkvl.config import config_from_args
    from thinkvl.rl.config import RLConfig
    from thinkvl.rl.run import run_rl

    cfg = config_from_args(RLConfig, args, args.config)
    out = run_rl(cfg)
    print(f"RLCS finished {cfg.iterations} iterations → {out}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "grade",
        help="offline difficulty grading: pass@k of a model per record → tiers",
        description="Sample grade_k answers per record at the RL config's temperature, top-p and budgets, merge the "
        "pass rates with the records' difficulty labels and write tiers to --grades, the file `thinkvl rl` reads.",
    )
    g.add_argument("config", nargs="?", help="RL YAML (fields of thinkvl.rl.config.RLConfig); flags override it")
    add_config_flags_later(g, RL_CONFIG)
    g.set_defaults(func=_grade)
    r = sub.add_parser("rl", help="RLCS: reinforcement learning with curriculum sampling")
    r.add_argument("config", help="RL YAML (fields of thinkvl.rl.config.RLConfig); flags override it")
    add_config_flags_later(r, RL_CONFIG)
    r.set_defaults(func=_rl)
