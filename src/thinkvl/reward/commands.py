"""``thinkvl reward score ROLLOUTS.jsonl`` and ``thinkvl reward check RESPONSE --domain … --answer …``.

A rollouts file has one JSON object per line: ``{"response": "...", "record": {...}}`` (a full record), or the
record's ``domain``/``answer``/``meta``/``id`` next to ``response``. ``score`` writes one verdict per line and
prints a per-domain summary; ``check`` prints one verdict and exits 0 when correct, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from thinkvl.reward.verdict import RewardError, Verdict


def add_commands(subparsers: Any) -> None:
    """Add ``score`` and ``check`` to an argparse subparsers object (the lead mounts it under ``reward``)."""
    score = subparsers.add_parser("score", help="score a JSONL file of rollouts; write verdicts; print a summary")
    score.add_argument("rollouts", type=Path, help="JSONL: {'response': ..., 'record': {...}} per line")
    score.add_argument("--out", type=Path, help="verdicts JSONL (default: ROLLOUTS.verdicts.jsonl)")
    score.add_argument("--config", type=Path, help="reward YAML (default: the packaged configs/reward.yaml)")
    score.add_argument("--workers", type=int, default=2, help="worker processes")
    score.add_argument("--lenient", action="store_true", help="lenient extraction (evaluating other models)")
    score.set_defaults(func=run_score)

    check = subparsers.add_parser("check", help="score one response against one ground truth")
    check.add_argument("response", help="the response text, @FILE to read it from a file, or - for stdin")
    check.add_argument("--domain", required=True, help="math, counting, chart, ocr, grounding, choice, vqa, ...")
    check.add_argument("--answer", required=True, help="ground truth: JSON if it parses (4, [1,2,3,4]), else text")
    check.add_argument("--choices", nargs="+", help="option texts of a multiple-choice question")
    check.add_argument("--meta", help="extra record metadata as a JSON object")
    check.add_argument("--config", type=Path, help="reward YAML")
    check.add_argument("--lenient", action="store_true", help="lenient extraction (evaluating other models)")
    check.set_defaults(func=run_check)


def _json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _read_response(arg: str) -> str:
    if arg == "-":
        return sys.stdin.read()
    if arg.startswith("@"):
        return Path(arg[1:]).read_text(encoding="utf-8")
    return arg


def run_check(args: argparse.Namespace) -> int:
    from thinkvl.reward.system import RewardSystem

    try:
        meta = json.loads(args.meta) if args.meta else {}
        if not isinstance(meta, dict):
            raise RewardError("--meta must be a JSON object")
        if args.choices:
            meta["choices"] = args.choices
        record = {"domain": args.domain, "answer": _json_or_text(args.answer), "meta": meta}
        with RewardSystem(args.config) as rs:
            verdict = rs.score(_read_response(args.response), record, lenient=args.lenient or None)
    except (RewardError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(verdict.to_dict(), ensure_ascii=False, indent=2))
    return 0 if verdict.correct else 1


def load_rollouts(path: Path) -> tuple[list[Any], list[Any]]:
    """Responses and records of a rollouts file; a malformed line is an error naming its number."""
    responses, records = [], []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:
                raise RewardError(f"{path}:{number}: not JSON ({err})") from None
            if not isinstance(row, dict) or not isinstance(row.get("response"), str):
                raise RewardError(f"{path}:{number}: each line needs a 'response' string")
            record = row.get("record", {k: v for k, v in row.items() if k != "response"})
            if not isinstance(record, dict):
                raise RewardError(f"{path}:{number}: 'record' must be an object")
            responses.append(row["response"])
            records.append(record)
    return responses, records


def summarize(verdicts: list[Verdict]) -> dict[str, dict[str, float]]:
    """Per-domain count, accuracy, mean reward, format pass rate and share of penalised responses."""
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        groups[v.domain].append(v)
        groups["all"].append(v)
    return {
        domain: {
            "n": len(vs),
            "accuracy": sum(v.correct for v in vs) / len(vs),
            "mean_reward": sum(v.reward for v in vs) / len(vs),
            "format_ok": sum(v.format_ok for v in vs) / len(vs),
            "penalised": sum(bool(v.penalties) for v in vs) / len(vs),
        }
        for domain, vs in sorted(groups.items(), key=lambda kv: (kv[0] == "all", kv[0]))
    }


def run_score(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from thinkvl.reward.system import RewardSystem

    out = args.out or args.rollouts.with_suffix(".verdicts.jsonl")
    try:
        responses, records = load_rollouts(args.rollouts)
        with RewardSystem(args.config) as rs:
            verdicts = rs.score_batch(
                responses, records, workers=args.workers, lenient=args.lenient or None, progress=True
            )
    except (RewardError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with out.open("w", encoding="utf-8") as f:
        for record, verdict in zip(records, verdicts):
            f.write(json.dumps({"id": record.get("id", ""), **verdict.to_dict()}, ensure_ascii=False) + "\n")
    table = Table(title=f"rewards: {args.rollouts.name} → {out.name}")
    for col in ("domain", "n", "accuracy", "mean reward", "format ok", "penalised"):
        table.add_column(col, justify="left" if col == "domain" else "right")
    for domain, s in summarize(verdicts).items():
        table.add_row(
            domain,
            str(s["n"]),
            f"{s['accuracy']:.1%}",
            f"{s['mean_reward']:.3f}",
            f"{s['format_ok']:.1%}",
            f"{s['penalised']:.1%}",
        )
    Console().print(table)
    return 0
