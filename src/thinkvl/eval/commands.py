"""``thinkvl eval`` subcommands: ``run`` (evaluate a model or saved responses), ``compare`` (runs side by side) and
``list`` (the benchmark table).

The model side is pluggable: `add_commands` takes a ``generate_factory(args) -> generate`` that builds the
generation callable from ``--model`` (the CLI passes the engine's). ``--endpoint URL --served-model NAME`` evaluates
a model served behind an OpenAI-compatible API instead (`thinkvl.eval.endpoint`). ``--responses FILE`` evaluates
responses saved earlier (JSONL of ``{"id", "response"}``), e.g. another model's outputs scored with ``--lenient``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thinkvl.config import load_yaml
from thinkvl.data.record import Record
from thinkvl.eval.compare import compare_runs
from thinkvl.eval.registry import BENCHMARK_LIST, BenchmarkError
from thinkvl.eval.runner import EvalConfig, EvalError, Generate, StreamingModel, run_eval

GenerateFactory = Callable[[argparse.Namespace], Generate]


def parse_budget(text: str) -> int | None:
    if text.lower() in ("none", "null", "inf", "-"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a thinking budget is a token count or 'none', got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a thinking budget can't be negative: {value}")
    return value


def replay_generate(path: str | Path) -> Generate:
    """A generate callable that returns responses saved in a JSONL file (``{"id", "response"}`` per line)."""
    saved: dict[str, str] = {}
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                saved[str(row["id"])] = str(row["response"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise EvalError(f"{path}:{n}: expected a JSON object with 'id' and 'response'") from None

    def generate(records: list[Record], root: Path, budget: int | None) -> list[str]:
        missing = [r.id for r in records if r.id not in saved]
        if missing:
            raise EvalError(f"{path}: no saved response for {missing[0]} (and {len(missing) - 1} more)")
        return [saved[r.id] for r in records]

    return generate


def _config(args: argparse.Namespace) -> EvalConfig:
    overrides: dict[str, Any] = {
        "tasks": args.tasks,
        "data_dir": args.data_dir,
        "thinking_budgets": args.budgets,
        "batch_size": args.batch_size,
        "limit": args.limit,
        "lenient": True if args.lenient else None,
        "on_missing": args.on_missing,
        "download": True if args.download else None,
        "reward_config": args.reward_config,
        "endpoint": args.endpoint,
        "served_model": args.served_model,
        "api_key_env": args.api_key_env,
        "concurrency": args.concurrency,
    }
    if args.config:
        return load_yaml(EvalConfig, args.config, **overrides)
    return EvalConfig(**{k: v for k, v in overrides.items() if v is not None})


def make_run_handler(generate_factory: GenerateFactory | None) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        try:
            config = _config(args)
            sources = [bool(args.responses), bool(args.model), config.endpoint is not None]
            if sum(sources) > 1:
                print("error: give one of --model, --endpoint and --responses", file=sys.stderr)
                return 2
            generate: Generate | StreamingModel
            info: dict[str, Any] | None = None
            if args.responses:
                generate = replay_generate(args.responses)
            elif config.endpoint is not None:
                from thinkvl.eval.endpoint import EndpointModel

                endpoint = EndpointModel.from_config(config)
                for budget in config.thinking_budgets:
                    endpoint.check([], budget)  # a budget the server can't enforce fails before loading anything
                endpoint.preflight()
                generate, info = endpoint, endpoint.describe()
            elif generate_factory is not None and args.model:
                generate = generate_factory(args)
            else:
                print(
                    "error: give --model DIR (with a generation engine wired in), --endpoint URL --served-model NAME, "
                    "or --responses FILE",
                    file=sys.stderr,
                )
                return 2
            results = run_eval(
                config.tasks,
                generate,
                args.out,
                config.thinking_budgets,
                config.batch_size,
                config.limit,
                data_dir=config.data_dir,
                lenient=config.lenient,
                on_missing=config.on_missing,
                download=config.download,
                reward_config=config.reward_config,
                loader_options=config.loader_options,
                scoring_workers=config.scoring_workers,
                progress=not args.quiet,
                model_info=info,
            )
        except (BenchmarkError, EvalError, FileNotFoundError, ValueError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print((Path(args.out) / "results.md").read_text(encoding="utf-8"))
        print(f"{len(results['benchmarks'])} benchmark(s); results in {args.out}")
        failed = _failures(results)
        if failed:
            print(
                f"warning: {failed} item(s) got no response (reasons in predictions/*.jsonl, 'error'); they are left "
                "out of the scores. Run the same command again to retry them.",
                file=sys.stderr,
            )
            return 1
        return 0

    return handle


def _failures(results: dict[str, Any]) -> int:
    return sum(
        b.get("extra", {}).get("errors", 0)
        for entry in results["benchmarks"].values()
        for b in entry.get("budgets", {}).values()
    )


def handle_compare(args: argparse.Namespace) -> int:
    try:
        table = compare_runs(args.runs, labels=args.labels, budget=args.budget)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    print(table)
    return 0


def handle_list(args: argparse.Namespace) -> int:
    for b in BENCHMARK_LIST:
        status = {"rule": "offline", "approx": "offline (approx.)", "unavailable": "needs environment"}[b.scoring]
        source = f"{b.hf_id}:{b.split}" if b.hf_id else b.files
        print(f"{b.name:18} {b.group:14} {b.title:20} {b.metric:18} {status:18} {source}")
    return 0


def add_commands(subparsers: Any, generate_factory: GenerateFactory | None = None) -> None:
    """Add ``run``, ``compare`` and ``list`` to ``subparsers`` (the ``thinkvl eval`` group)."""
    run = subparsers.add_parser("run", help="evaluate a model (or saved responses) on benchmarks")
    run.add_argument("--model", help="model directory (needs a generation engine wired into the CLI)")
    run.add_argument("--responses", help="JSONL of saved {id, response} to score instead of generating")
    help_of = {f.name: f.metadata["help"] for f in dataclasses.fields(EvalConfig)}
    run.add_argument("--endpoint", help=help_of["endpoint"])
    run.add_argument("--served-model", help=help_of["served_model"])
    run.add_argument("--api-key-env", help=help_of["api_key_env"])
    run.add_argument("--concurrency", type=int, help=help_of["concurrency"])
    run.add_argument("--tasks", nargs="+", help="benchmarks, groups, 'all' or 'offline' (see `thinkvl eval list`)")
    run.add_argument("--data-dir", help="directory with one folder per benchmark")
    run.add_argument("--out", required=True, help="run directory (re-run with the same one to resume)")
    run.add_argument("--budgets", nargs="+", type=parse_budget, help="thinking budgets in tokens ('none': no cap)")
    run.add_argument("--batch-size", type=int)
    run.add_argument("--limit", type=int, help="at most this many items per benchmark")
    run.add_argument("--lenient", action="store_true", help="lenient answer extraction (for other models)")
    run.add_argument("--on-missing", choices=("error", "skip"), help="items with missing media: stop or skip")
    run.add_argument("--download", action="store_true", help="fetch missing annotations from the Hub")
    run.add_argument("--reward-config", help="reward YAML (default: the packaged one)")
    run.add_argument("--config", help="eval YAML (fields of EvalConfig); flags override it")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=make_run_handler(generate_factory))

    compare = subparsers.add_parser("compare", help="put evaluation runs side by side")
    compare.add_argument("runs", nargs="+", help="run directories (or results.json files)")
    compare.add_argument("--labels", nargs="+", help="column names (default: directory names)")
    compare.add_argument("--budget", help="thinking budget to read ('none' or a number; default: each run's first)")
    compare.add_argument("--out", help="also write the table to this file")
    compare.set_defaults(func=handle_compare)

    lst = subparsers.add_parser("list", help="the benchmark table: groups, metrics, data sources")
    lst.set_defaults(func=handle_list)
