"""Put several evaluation runs side by side: one markdown table, benchmarks by group, one column per run.

A benchmark a run didn't evaluate (or didn't evaluate at the chosen budget) shows as "—". By default each run is
read at its first thinking budget; ``budget`` picks one ("none" for no cap, or a number).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from thinkvl.eval.registry import BENCHMARK_LIST, GROUPS
from thinkvl.eval.report import MISSING, budgets_of, format_value, group_scores


def load_run(path: str | Path) -> dict[str, Any]:
    """A run's results.json (given the run directory or the file)."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise FileNotFoundError(f"no results.json in {path}: is it an evaluation run directory?")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{file}: not valid JSON ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), dict):
        raise ValueError(f"{file}: not an evaluation results file (no 'benchmarks')")
    return data


def _pick(run: dict[str, Any], budget: str | None) -> str | None:
    budgets = budgets_of(run)
    if budget is None:
        return budgets[0] if budgets else None
    return budget if budget in budgets else None


def compare_runs(runs: Sequence[str | Path], *, labels: Sequence[str] | None = None, budget: str | None = None) -> str:
    """The markdown table comparing ``runs`` (directories or results.json files)."""
    if not runs:
        raise ValueError("compare needs at least one run")
    loaded = [load_run(r) for r in runs]
    names = list(labels) if labels else [Path(r).name if Path(r).is_dir() else Path(r).parent.name for r in runs]
    if len(names) != len(loaded):
        raise ValueError(f"{len(names)} labels for {len(loaded)} runs")
    chosen = [_pick(run, budget) for run in loaded]
    present = {name for run in loaded for name in run["benchmarks"]}
    order = [b.name for b in BENCHMARK_LIST if b.name in present] + sorted(present - {b.name for b in BENCHMARK_LIST})
    head = ["Group", "Benchmark", *names]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group in GROUPS:
        rows = [n for n in order if any(run["benchmarks"].get(n, {}).get("group") == group for run in loaded)]
        if not rows:
            continue
        for name in rows:
            title = next(run["benchmarks"][name]["title"] for run in loaded if name in run["benchmarks"])
            cells = [group, title]
            for run, key in zip(loaded, chosen):
                entry = run["benchmarks"].get(name)
                cells.append(format_value(entry["budgets"].get(key)) if entry and key else MISSING)
            lines.append("| " + " | ".join(cells) + " |")
        means = []
        for run, key in zip(loaded, chosen):
            value = group_scores(run).get(group, {}).get(key) if key else None
            means.append(f"**{value:.1f}**" if value is not None else MISSING)
        lines.append("| " + " | ".join([group, "**group mean**", *means]) + " |")
    footer = ", ".join(f"{n}: budget {k or MISSING}" for n, k in zip(names, chosen))
    return "\n".join(lines) + f"\n\nRead at: {footer}\n"
