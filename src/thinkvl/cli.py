"""The `thinkvl` command line: one entry point for every stage of the recipe."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

# Quiet transformers' per-call notices; our own progress bars say what is happening.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _stage_command(stage: str):
    def run(args: argparse.Namespace) -> int:
        from thinkvl.config import config_from_args
        from thinkvl.train.config import StageConfig
        from thinkvl.train.trainer import run_stage

        cfg = config_from_args(StageConfig, args, args.config)
        if stage == "sft" and cfg.stage != "sft":
            raise SystemExit(f"{args.config} is a {cfg.stage!r} config; `thinkvl sft` runs sft configs")
        if stage == "pretrain" and cfg.stage == "sft":
            raise SystemExit(f"{args.config} is an sft config; use `thinkvl sft`")
        result = run_stage(cfg)
        if os.environ.get("RANK", "0") != "0":
            return 0
        if result.final_loss is None:
            print(f"{cfg.stage}: already complete ({result.steps} steps) → {result.out}")
            return 0
        print(
            f"{cfg.stage}: {result.steps} steps, final loss {result.final_loss:.4f}, "
            f"pack fill {result.packing.fill:.1%} ({result.packing.truncated} truncated, "
            f"{result.packing.dropped} dropped, {result.skipped_records} records skipped), "
            f"{result.tokens_per_second:,.0f} tokens/s → {result.out}"
        )
        return 0

    return run


def _add_stage(sub: argparse._SubParsersAction, name: str, help: str) -> None:  # noqa: A002
    from thinkvl.config import add_config_flags_later

    p = sub.add_parser(name, help=help, description=f"{help}. Flags override the YAML's fields.")
    p.add_argument("config", help="stage YAML (fields of thinkvl.train.config.StageConfig; see configs/)")
    add_config_flags_later(p, "thinkvl.train.config:StageConfig")
    p.set_defaults(func=_stage_command(name))


def _group(sub: argparse._SubParsersAction, name: str, help: str, module: str) -> None:  # noqa: A002
    import importlib

    group = sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)
    importlib.import_module(module).add_commands(group)


def _generate_factory(args: argparse.Namespace):
    """`thinkvl eval run --model DIR`: greedy generation through the transformers engine, thinking budget
    enforced by forced answering."""
    from thinkvl.config import config_from_args
    from thinkvl.eval.runner import EvalConfig
    from thinkvl.model import load_bundle
    from thinkvl.model.generate import TransformersEngine, make_generate

    config = config_from_args(EvalConfig, args, args.config)
    bundle = load_bundle(args.model)
    bundle.model.eval()
    return make_generate(TransformersEngine(bundle, batch_size=config.batch_size), answer_budget=config.answer_budget)


def _normalise_argv(argv: list[str]) -> list[str]:
    """`thinkvl eval --model DIR …` is short for `thinkvl eval run --model DIR …`: only options are rewritten, so
    every subcommand (`run`, `compare`, `list`) keeps working and an unknown one is argparse's error."""
    if len(argv) >= 2 and argv[0] == "eval" and argv[1].startswith("-") and argv[1] not in ("-h", "--help"):
        return ["eval", "run", *argv[1:]]
    return argv


def build_parser() -> argparse.ArgumentParser:
    from thinkvl.config import CommandParser

    parser = CommandParser(prog="thinkvl", description="GLM-4.1V-Thinking recipe: data → SFT → RLCS → eval")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    from thinkvl import demo

    demo.add_command(sub)
    data = sub.add_parser("data", help="synthesise, inspect, filter and recaption datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    from thinkvl.data.pipeline import commands as pipeline_commands
    from thinkvl.data.synth import commands as synth_commands

    synth_commands.add_commands(data_sub)
    pipeline_commands.add_commands(data_sub)
    _add_stage(sub, "pretrain", "multimodal pre-training or long-context training on packed sequences")
    _add_stage(sub, "sft", "supervised fine-tuning on the thinking format")
    from thinkvl.rl import commands as rl_commands

    rl_commands.add_commands(sub)
    from thinkvl.eval import commands as eval_commands

    eval_group = sub.add_parser("eval", help="evaluate a model on benchmarks (`eval --model DIR …`); compare runs")
    eval_commands.add_commands(eval_group.add_subparsers(dest="eval_command", required=True), _generate_factory)
    _group(sub, "reward", "score responses with the unified reward system", "thinkvl.reward.commands")
    from thinkvl.model import commands as model_commands

    model_commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_normalise_argv(list(sys.argv[1:] if argv is None else argv)))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bars say what is happening
    try:
        return int(args.func(args) or 0)
    except ValueError as err:  # bad configs, records and weights raise ValueError with the cause
        print(f"thinkvl: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # an output path that is a file, a read-only directory, a full disk: the cause in a line
        cause = f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err)
        print(f"thinkvl: error: {cause}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
