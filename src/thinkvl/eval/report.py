"""Results → a markdown table by group and PNG plots (per-group bars; accuracy against thinking budget).

Group scores average the members' normalised values (0–100; OCRBench's count becomes its share correct), over the
benchmarks that were run.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from thinkvl.data.loaders import atomic_write_text
from thinkvl.eval.registry import BENCHMARKS, GROUPS

MISSING = "—"


def budget_label(key: str) -> str:
    return "no cap" if key == "none" else key


def budgets_of(results: dict[str, Any]) -> list[str]:
    """Budget keys in run order."""
    seen: list[str] = []
    for entry in results.get("benchmarks", {}).values():
        for key in entry.get("budgets", {}):
            if key not in seen:
                seen.append(key)
    return seen


def group_scores(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Group → budget → mean normalised value of the group's benchmarks that were run."""
    out: dict[str, dict[str, float]] = {}
    for group in GROUPS:
        members = [e for e in results.get("benchmarks", {}).values() if e.get("group") == group]
        if not members:
            continue
        out[group] = {}
        for key in budgets_of(results):
            values = [e["budgets"][key]["normalized"] for e in members if key in e.get("budgets", {})]
            if values:
                out[group][key] = sum(values) / len(values)
    return out


def format_value(result: dict[str, Any] | None) -> str:
    if result is None:
        return MISSING
    if result.get("unit") == "count":
        return f"{result['value']:.0f}/{result['n']}"
    return f"{result['value']:.1f}"


def markdown_table(results: dict[str, Any]) -> str:
    """One table: each group's benchmarks with their metric per budget, and the group's mean."""
    budgets = budgets_of(results)
    head = ["Group", "Benchmark", "Metric", "n", *(f"budget {budget_label(b)}" for b in budgets)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups = results.get("groups") or group_scores(results)
    for group in GROUPS:
        entries = [(name, e) for name, e in results.get("benchmarks", {}).items() if e.get("group") == group]
        if not entries:
            continue
        for name, e in entries:
            first = next(iter(e["budgets"].values()), None)
            n = str(first["n"]) if first else MISSING
            note = " *" if e.get("scoring") == "approx" else ""
            cells = [group, e.get("title", name) + note, e.get("metric", ""), n]
            cells += [format_value(e["budgets"].get(b)) for b in budgets]
            lines.append("| " + " | ".join(cells) + " |")
        avg = groups.get(group, {})
        cells = [
            group,
            "**group mean**",
            "normalised",
            "",
            *(f"**{avg[b]:.1f}**" if b in avg else MISSING for b in budgets),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if any(e.get("scoring") == "approx" for e in results.get("benchmarks", {}).values()):
        lines.append("")
        lines.append("\\* scored by rule where the official protocol uses an LLM judge or extractor.")
    return "\n".join(lines) + "\n"


def write_report(results: dict[str, Any], out_dir: str | Path) -> list[Path]:
    """results.md and the plots; returns the files written."""
    out = Path(out_dir)
    title = "# Evaluation results\n\n"
    skipped = {n: e["skipped"] for n, e in results.get("benchmarks", {}).items() if e.get("skipped")}
    notes = "".join(
        f"\n{BENCHMARKS[n].title if n in BENCHMARKS else n}: {len(s)} items skipped, e.g. {s[0]}\n"
        for n, s in skipped.items()
    )
    notes += "".join(
        f"\n{e.get('title', n)}: not run: {e['error']}\n"
        for n, e in results.get("benchmarks", {}).items()
        if e.get("error")
    )
    atomic_write_text(out / "results.md", title + markdown_table(results) + notes)
    written = [out / "results.md"]
    written.append(plot_groups(results, out / "plots" / "groups.png"))
    if len(budgets_of(results)) > 1:
        written.append(plot_budgets(results, out / "plots" / "budget.png"))
    return written


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_groups(results: dict[str, Any], path: Path) -> Path:
    """Bars of each group's mean score, one bar per thinking budget."""
    plt = _pyplot()
    groups = results.get("groups") or group_scores(results)
    names = list(groups)
    budgets = budgets_of(results)
    width = 0.8 / max(1, len(budgets))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(names) + 2), 3.6))
    for k, b in enumerate(budgets):
        xs = [i + (k - (len(budgets) - 1) / 2) * width for i in range(len(names))]
        ys = [groups[g].get(b, math.nan) for g in names]
        bars = ax.bar(xs, ys, width=width, label=f"budget {budget_label(b)}")
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylabel("score (0–100)")
    ax.set_ylim(0, 105)
    ax.set_title("Score by benchmark group")
    if len(budgets) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_budgets(results: dict[str, Any], path: Path) -> Path:
    """Each benchmark's normalised score against the thinking budget; "no cap" is drawn right of the largest."""
    plt = _pyplot()
    budgets = budgets_of(results)
    capped = sorted(int(b) for b in budgets if b != "none")
    xs = {str(b): float(b) for b in capped}
    if "none" in budgets:
        xs["none"] = (capped[-1] * 2.0) if capped else 1.0
    order = sorted(budgets, key=lambda b: xs[b])
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for name, e in results.get("benchmarks", {}).items():
        pts = [(xs[b], e["budgets"][b]["normalized"]) for b in order if b in e["budgets"]]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=e.get("title", name))
    ax.set_xticks([xs[b] for b in order], [budget_label(b) for b in order])
    if capped and capped[0] > 0 and len(capped) > 1:
        ax.set_xscale("log", base=2)
        ax.set_xticks([xs[b] for b in order], [budget_label(b) for b in order])
        ax.minorticks_off()
    ax.set_xlabel("thinking budget (tokens)")
    ax.set_ylabel("score (0–100)")
    ax.set_ylim(0, 105)
    ax.set_title("Accuracy against thinking budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
