"""``thinkvl eval`` subcommands: ``run`` (evaluate a model or saved responses), ``compare`` (runs side by side) and
``list`` (the benchmark table).

The model side is pluggable: `add_commands` takes a ``generate_factory(args) -> generate`` that builds the
generation callable from ``--model`` (the CLI passes the engine's). ``--endpoint URL --served-model NAME`` evaluates
a model served behind an OpenAI-compatible API instead (`thinkvl.eval.endpoint`). ``--responses FILE`` evaluates
responses saved earlier (JSONL of ``{"id", "response"}``), e.g. another model's outputs scored with ``--lenient``.
``--judge-endpoint URL --judge-model NAME`` scores MathVista, ChartMuseum, MMVU and MMLongBench-Doc with their
official LLM-judge protocols (`thinkvl.eval.judging`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from thinkvl.config import add_config_flags, config_from_args
from thinkvl.data.record import Record
from thinkvl.eval.compare import compare_runs
from thinkvl.eval.judging import JudgeConfig
from thinkvl.eval.registry import BENCHMARK_LIST, BenchmarkError
from thinkvl.eval.runner import EndpointConfig, EvalConfig, EvalError, Generate, StreamingModel, run_eval

GenerateFactory = Callable[[argparse.Namespace], Generate]
# Short names, and the flags of the fields that moved into the endpoint section (--concurrency: --endpoint.concurrency)
EVAL_FLAG_ALIASES = {
    "thinking_budgets": ("--budgets",),
    "endpoint.url": ("--endpoint",),
    **{f"endpoint.{f.name}": (f"--{f.name.replace('_', '-')}",) for f in fields(EndpointConfig) if f.name != "url"},
}
# The judge section's flags also as --judge-FIELD (--judge-endpoint URL --judge-model NAME)
JUDGE_FLAG_ALIASES = {f"judge.{f.name}": (f"--judge-{f.name.replace('_', '-')}",) for f in fields(JudgeConfig)}
EVAL_FLAG_ALIASES.update(JUDGE_FLAG_ALIASES)


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


def make_run_handler(generate_factory: GenerateFactory | None) -> Callable[[argparse.Namespace], int]:
    def handle(args: argparse.Namespace) -> int:
        try:
            config = config_from_args(EvalConfig, args, args.config)
            sources = [bool(args.responses), bool(args.model), config.endpoint is not None]
            if sum(sources) > 1:
                print("error: give one of --model, --endpoint and --responses", file=sys.stderr)
                return 2
            generate: Generate | StreamingModel
            if args.responses:
                generate = replay_generate(args.responses)
            elif config.endpoint is not None:
                from thinkvl.eval.endpoint import EndpointModel

                endpoint = EndpointModel(config.endpoint, answer_budget=config.answer_budget)
                for budget in config.thinking_budgets:
                    endpoint.check([], budget)  # a budget the server can't enforce fails before loading anything
                endpoint.preflight()
                generate = endpoint
            elif generate_factory is not None and args.model:
                generate = generate_factory(args)
            else:
                print(
                    "error: give --model DIR (with a generation engine wired in), --endpoint URL --served-model NAME, "
                    "or --responses FILE",
                    file=sys.stderr,
                )
                return 2
            results = run_eval(config, generate, args.out, progress=not args.quiet)
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
    """The benchmark table; with a judge (flags or ``--config``), the judged benchmarks are marked official."""
    try:
        judge = config_from_args(EvalConfig, args, args.config).judge
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for b in BENCHMARK_LIST:
        scoring = b.scoring_with(judge is not None)
        status = {
            "rule": "offline",
            "approx": "offline (approx.)",
            "judge": "official (judge)",
            "render": "offline (browser)",
            "unavailable": "refused",
        }[scoring]
        source = f"{b.hf_id}:{b.split}" if b.hf_id else b.files
        print(f"{b.name:18} {b.group:14} {b.title:20} {b.metric:18} {status:18} {source}")
        if b.scoring in ("unavailable", "render"):
            print(f"{'':18} needs: {b.needs}")
    if judge is None:
        print("\napprox.: scored by rule; give --judge-endpoint URL --judge-model NAME for the official judge protocol")
    return 0


def add_commands(subparsers: Any, generate_factory: GenerateFactory | None = None) -> None:
    """Add ``run``, ``compare`` and ``list`` to ``subparsers`` (the ``thinkvl eval`` group)."""
    run = subparsers.add_parser("run", help="evaluate a model (or saved responses) on benchmarks")
    run.add_argument("--model", help="model directory (needs a generation engine wired into the CLI)")
    run.add_argument("--responses", help="JSONL of saved {id, response} to score instead of generating")
    run.add_argument("--out", required=True, help="run directory (re-run with the same one to resume)")
    run.add_argument("--config", help="eval YAML (fields of EvalConfig); flags override it")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_flags(run, EvalConfig, aliases=EVAL_FLAG_ALIASES)
    run.set_defaults(func=make_run_handler(generate_factory))

    compare = subparsers.add_parser("compare", help="put evaluation runs side by side")
    compare.add_argument("runs", nargs="+", help="run directories (or results.json files)")
    compare.add_argument("--labels", nargs="+", help="column names (default: directory names)")
    compare.add_argument("--budget", help="thinking budget to read ('none' or a number; default: each run's first)")
    compare.add_argument("--out", help="also write the table to this file")
    compare.set_defaults(func=handle_compare)

    lst = subparsers.add_parser("list", help="the benchmark table: groups, metrics, data sources")
    lst.add_argument("--config", help="eval YAML: its judge section marks the judged benchmarks official")
    add_config_flags(lst, JudgeConfig, prefix="judge.", aliases=JUDGE_FLAG_ALIASES)
    lst.set_defaults(func=handle_list)
