"""The demo's HTML report: `run_dir/report.html` plus PNGs in `run_dir/report/`.

One page a person can open offline to see whether the recipe worked: what ran, the per-domain accuracy table,
training curves, the curriculum and dynamic sampling at work, and real responses. No JavaScript and no external
assets, so it opens anywhere and can run nothing. Every string read from the run is HTML-escaped — responses are
model output and domain names come from data files, so both are untrusted. Any part of the run may be missing
(a `--no-rl` run has no rl/): the page says what is absent instead of failing.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkvl.data.loaders import atomic_write_text
from thinkvl.metrics import read_metrics

COLUMN_LABELS = {"sft": "SFT", "rlcs": "RLCS", "sft_sampled": "SFT sampled", "rlcs_sampled": "RLCS sampled"}
STAGE_COLORS = {
    "sft": "#4c72b0",
    "rlcs": "#dd8452",
    "sft_sampled": "#a6bddb",
    "rlcs_sampled": "#f4c39b",
    "baseline": "#b0b0b0",
}
# Tiers from easiest to hardest, coloured green → red; tiers not listed here are drawn after them in grey shades.
TIER_COLORS = {
    "very_easy": "#1a9850",
    "easy": "#91cf60",
    "medium": "#fee08b",
    "hard": "#fc8d59",
    "very_hard": "#d73027",
    "ungraded": "#bdbdbd",
}
MAX_RESPONSE_CHARS = 1500  # a runaway generation must not bury the page


@dataclass
class Run:
    """Everything the report reads from a run directory; `missing` lists what was absent or unreadable."""

    root: Path
    summary: dict[str, Any] = field(default_factory=dict)
    pretrain: list[dict[str, Any]] = field(default_factory=list)
    long_context: list[dict[str, Any]] = field(default_factory=list)
    sft: list[dict[str, Any]] = field(default_factory=list)
    rl: list[dict[str, Any]] = field(default_factory=list)
    grades: list[dict[str, Any]] = field(default_factory=list)
    predictions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        res = self.summary.get("results")
        return {k: v for k, v in res.items() if isinstance(v, dict)} if isinstance(res, dict) else {}

    @property
    def baseline(self) -> dict[str, float]:
        base = self.summary.get("majority_baseline")
        return {k: float(v) for k, v in base.items() if _num(v)} if isinstance(base, dict) else {}


PREDICTION_DIRS = {"sft": "eval/sft", "rlcs": "eval/rl"}  # result column → its greedy evaluation's directory
# The sampled evaluations keep only their table, no predictions file.
EVAL_DIRS = PREDICTION_DIRS | {"sft_sampled": "eval/sft_sampled", "rlcs_sampled": "eval/rl_sampled"}


def load_run(root: Path) -> Run:
    run = Run(root=root)
    summary, problem = _json_object(root / "summary.json")
    if summary is not None:
        run.summary = summary
    else:
        # A run that stopped early has no summary.json, but each finished evaluation wrote its own table.
        results = {name: t for name, sub in EVAL_DIRS.items() if (t := _json_object(root / sub / "summary.json")[0])}
        run.summary = {"results": results} if results else {}
        run.missing.append(f"summary.json {problem}" + ("; results read from eval/*/summary.json" if results else ""))
    run.pretrain = _jsonl(run, "pretrain/metrics.jsonl", "no pre-training")
    if (root / "long_context" / "metrics.jsonl").is_file():  # runs from before the stage existed lack it: not missing
        run.long_context = _jsonl(run, "long_context/metrics.jsonl", "no long-context pre-training")
    run.sft = _jsonl(run, "sft/metrics.jsonl", "no SFT")
    run.rl = _jsonl(run, "rl/metrics.jsonl", "RL was not run")
    run.grades = _jsonl(run, "rl/grades.jsonl", "no offline grading")
    for name, sub in PREDICTION_DIRS.items():
        path = predictions_file(root / sub)
        rel = path.relative_to(root).as_posix() if path else f"{sub}/predictions/*.jsonl"
        rows = _jsonl(run, rel, f"no {COLUMN_LABELS[name]} predictions")
        if rows:
            run.predictions[name] = rows
    return run


def _budget(path: Path) -> float:
    """The thinking budget in a runner's ``<benchmark>@<budget>.jsonl`` name; "none" (no cap) is the largest."""
    key = path.stem.rpartition("@")[2]
    return math.inf if key == "none" else float(key) if key.isdigit() else -math.inf


def predictions_file(eval_dir: Path) -> Path | None:
    """The eval runner's predictions file in ``eval_dir/predictions/``: the largest budget's if there are several."""
    files = sorted((eval_dir / "predictions").glob("*.jsonl"), key=lambda p: (_budget(p), p.name))
    return files[-1] if files else None


def _json_object(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The JSON object in ``path``, or None and what is wrong with the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError) as e:
        return None, f"is unreadable ({e})"
    return (data, "") if isinstance(data, dict) else (None, "is unreadable (not a JSON object)")


def _jsonl(run: Run, rel: str, why: str) -> list[dict[str, Any]]:
    path = run.root / rel
    if not path.is_file():
        run.missing.append(f"{rel} ({why})")
        return []
    try:
        rows = [r for r in read_metrics(path) if isinstance(r, dict)]
    except (OSError, UnicodeDecodeError) as e:
        run.missing.append(f"{rel} is unreadable ({e})")
        return []
    if not rows:
        run.missing.append(f"{rel} is empty")
    return rows


# --- numbers -------------------------------------------------------------------------------------------------------


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _pct(v: Any) -> str:
    return f"{v:.0%}" if _num(v) else "—"


def _fmt(v: Any, spec: str = ".3g") -> str:
    return format(v, spec) if _num(v) else "—"


def series(rows: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows where ``key`` holds a finite number; a row without a step uses its index."""
    xs, ys = [], []
    for i, r in enumerate(rows):
        v = r.get(key)
        if _num(v):
            step = r.get("step")
            xs.append(float(step) if _num(step) else float(i))
            ys.append(float(v))
    return xs, ys


def _last(rows: Sequence[dict[str, Any]], key: str) -> Any:
    ys = series(rows, key)[1]
    return ys[-1] if ys else None


def _keys_under(rows: Sequence[dict[str, Any]], prefix: str, suffix: str = "") -> list[str]:
    """The middle parts of keys ``prefix<name>suffix`` logged in ``rows``, in first-seen order."""
    names: dict[str, None] = {}
    for r in rows:
        for k in r:
            if k.startswith(prefix) and k.endswith(suffix) and len(k) > len(prefix) + len(suffix):
                names.setdefault(k[len(prefix) : len(k) - len(suffix)], None)
    return list(names)


# --- plots ---------------------------------------------------------------------------------------------------------


def _figure(ncols: int, height: float = 3.4):
    # The object API with an Agg canvas: no pyplot global state, no display, safe to call from any process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * ncols, height), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig, list(axes)


def _label(text: str) -> str:
    """Text for a plot: a "$" in a name from the data would otherwise start matplotlib mathtext."""
    return str(text).replace("$", r"\$")


def _domain_colors(domains: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {d: cmap(i % 10) for i, d in enumerate(domains)}


def plot_losses(run: Run, path: Path) -> bool:
    stages = [
        (name, rows) for name, rows in (("pre-train", run.pretrain), ("SFT", run.sft)) if series(rows, "train/loss")[0]
    ]
    if not stages:
        return False
    fig, axes = _figure(len(stages))
    for ax, (name, rows) in zip(axes, stages):
        xs, ys = series(rows, "train/loss")
        ax.plot(xs, ys, color="#4c72b0")
        if min(ys) > 0 and max(ys) / min(ys) > 3:  # log scale only where it spreads the curve out
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # "0.5", not 5×10⁻¹
            ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set(title=f"{name} loss", xlabel="step", ylabel="train loss")
    fig.savefig(path, dpi=100)
    return True


def plot_rewards(run: Run, path: Path) -> bool:
    # (prefix, suffix, label, the all-domain key); runs from before the unclosed-thought metric lack its panel
    panels = [("rewards/", "/mean", "reward", "rewards/mean"), ("accuracy/", "", "accuracy", "accuracy/mean")]
    if any("response/unclosed_thought_rate" in r for r in run.rl):
        panels.append(
            ("response/", "/unclosed_thought_rate", "share of unclosed thoughts", "response/unclosed_thought_rate")
        )
    domains = [d for d in _keys_under(run.rl, "accuracy/") if d != "mean"]
    domains += [d for d in _keys_under(run.rl, "rewards/", "/mean") if d not in domains]
    curves = {  # panel → [(label, xs, ys)], the mean last so it is drawn on top
        label: [(d, *series(run.rl, f"{prefix}{d}{suffix}")) for d in domains] + [("mean", *series(run.rl, mean_key))]
        for prefix, suffix, label, mean_key in panels
    }
    if not any(xs for lines in curves.values() for _, xs, _ in lines):
        return False
    colors = _domain_colors(domains) | {"mean": "black"}
    fig, axes = _figure(len(panels), height=3.8)
    legend: dict[str, Any] = {}
    for ax, (label, lines) in zip(axes, curves.items()):
        for name, xs, ys in lines:
            if xs:
                width = 2.5 if name == "mean" else 1.0
                (legend[name],) = ax.plot(xs, ys, color=colors[name], lw=width, alpha=0.9, label=_label(name))
        ax.set(title=f"rollout {label} per RL iteration", xlabel="RL iteration", ylabel=label)
    order = [n for n in (*domains, "mean") if n in legend]
    fig.legend(
        [legend[n] for n in order],
        [_label(n) for n in order],
        loc="outside lower center",
        ncols=min(8, len(order)),
        frameon=False,
    )
    fig.savefig(path, dpi=100)
    return True


def plot_curriculum(run: Run, path: Path) -> bool:
    panels = [
        ("curriculum/tier/", "records per tier", "records"),
        ("curriculum/mass/", "sampling mass per tier", "share"),
    ]
    panels = [p for p in panels if _keys_under(run.rl, p[0])]
    if not panels:
        return False
    fig, axes = _figure(len(panels), height=3.8)
    for ax, (prefix, title, ylabel) in zip(axes, panels):
        found = _keys_under(run.rl, prefix)
        tiers = [t for t in TIER_COLORS if t in found] + [t for t in found if t not in TIER_COLORS]
        steps = sorted({x for t in tiers for x in series(run.rl, prefix + t)[0]})
        stacks = []
        for t in tiers:
            values = dict(zip(*series(run.rl, prefix + t)))
            stacks.append([values.get(s, 0.0) for s in steps])
        colors = [TIER_COLORS.get(t, "#888888") for t in tiers]
        ax.stackplot(steps, stacks, labels=[_label(t) for t in tiers], colors=colors, alpha=0.9)
        ax.set(title=title, xlabel="RL iteration", ylabel=ylabel)
        ax.margins(x=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles[::-1], labels[::-1], loc="outside right center", frameon=False)
    fig.savefig(path, dpi=100)
    return True


def plot_dynamic_sampling(run: Run, path: Path) -> bool:
    keys = [
        ("dynamic_sampling/expansion_ratio", "expansion ratio (EMA)", "#8172b3"),
        ("dynamic_sampling/not_valid_rate", "not-valid rate (all-equal groups)", "#c44e52"),
    ]
    keys = [k for k in keys if series(run.rl, k[0])[0]]
    if not keys:
        return False
    fig, axes = _figure(len(keys))
    for ax, (key, title, color) in zip(axes, keys):
        ax.plot(*series(run.rl, key), color=color, marker=".", lw=1.5)
        ax.set(title=title, xlabel="RL iteration")
        if key.endswith("not_valid_rate"):
            ax.set_ylim(-0.02, 1.02)
        else:
            ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    fig.savefig(path, dpi=100)
    return True


POLICY_PANELS = (
    ("actor/approx_kl", "KL(old ‖ new) per token", True),
    ("actor/clip_frac", "clipped token fraction", False),
    ("actor/entropy", "policy entropy (nats/token)", False),
    ("actor/weight_change", "weight change from SFT (relative L2)", False),
)


def plot_policy(run: Run, path: Path) -> bool:
    """Whether RL moved the policy: the per-update KL and clip fraction, entropy, and distance from the start."""
    panels = [p for p in POLICY_PANELS if series(run.rl, p[0])[0]]
    if not panels:
        return False
    fig, axes = _figure(len(panels))
    for ax, (key, title, log) in zip(axes, panels):
        xs, ys = series(run.rl, key)
        ax.plot(xs, ys, color="#8172b3", marker=".", lw=1.2)
        if log and min(ys) > 0:
            ax.set_yscale("log")
        ax.set(title=title, xlabel="RL iteration")
    fig.savefig(path, dpi=100)
    return True


def plot_accuracy_bars(run: Run, path: Path) -> bool:
    import numpy as np

    results, baseline = run.results, run.baseline
    if not results:
        return False
    domains = _table_domains(results)
    groups = [(name, [_cell(results, name, d, "accuracy") for d in domains]) for name in results]
    if baseline:
        groups.append(("baseline", [_baseline_of(baseline, d) for d in domains]))
    fig, axes = _figure(1, height=3.8)
    ax = axes[0]
    fig.set_figwidth(max(7.0, 1.1 * len(domains) + 2))
    width = 0.8 / len(groups)
    x = np.arange(len(domains))
    for i, (name, accs) in enumerate(groups):
        values = [100 * a if _num(a) else 0.0 for a in accs]
        label = "majority baseline" if name == "baseline" else _label(COLUMN_LABELS.get(name, name))
        # Error bars: one binomial standard error of each accuracy (n held-out items of the domain).
        ns = [_cell(results, name, d, "n") for d in domains] if name != "baseline" else [None] * len(domains)
        errs = [100 * (a * (1 - a) / n) ** 0.5 if _num(a) and _num(n) and n > 0 else 0.0 for a, n in zip(accs, ns)]
        bars = ax.bar(
            x + (i - (len(groups) - 1) / 2) * width, values, width, label=label, color=STAGE_COLORS.get(name),
            yerr=errs, error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#333333"},
        )  # fmt: skip
        ax.bar_label(bars, labels=[f"{v:.0f}" if _num(a) else "" for v, a in zip(values, accs)], fontsize=7)
    ax.set_xticks(x, [_label(d) for d in domains])
    ax.set(ylabel="accuracy (%)", ylim=(0, 118), title="held-out accuracy per domain (± 1 binomial SE)")
    ax.legend(loc="upper center", ncols=len(groups), fontsize=8, frameon=False)
    fig.savefig(path, dpi=100)
    return True


@dataclass(frozen=True)
class Plot:
    file: str  # PNG name inside run_dir/report/
    draw: Callable[[Run, Path], bool]  # writes the PNG; False when the run lacks its data
    caption: str
    needs: str  # what the run must contain, named when it does not


PLOTS = (
    Plot("accuracy.png", plot_accuracy_bars, "Held-out accuracy per domain: after SFT and after RL (RLCS), greedy "
         "and, where measured, sampled at the RL temperature; and the majority baseline", "summary.json results"),
    Plot("loss.png", plot_losses, "Training loss of pre-training and SFT", "pretrain/ or sft/ metrics"),
    Plot("rewards.png", plot_rewards, "Rollout reward, accuracy and share of unclosed thoughts over RL "
         "iterations (mean and per domain)", "rl/metrics.jsonl"),
    Plot("policy.png", plot_policy, "Is the policy moving? Per RL iteration: the KL between the policy before and "
         "after its updates, the share of tokens the PPO clip stopped, the policy's entropy, and the relative distance "
         "of the weights from the SFT model", "rl/ actor metrics"),
    Plot("curriculum.png", plot_curriculum, "The curriculum: records per difficulty tier and each tier's share of "
         "the sampling weight, over RL iterations", "rl/ curriculum metrics"),
    Plot("dynamic_sampling.png", plot_dynamic_sampling, "Dynamic sampling: the expansion ratio and the share of "
         "groups with no gradient (all rollouts right or all wrong)", "rl/ dynamic-sampling metrics"),
)  # fmt: skip


# --- html ----------------------------------------------------------------------------------------------------------


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _cell(results: dict[str, dict[str, Any]], column: str, domain: str, key: str) -> Any:
    """results[column][domain][key], or None wherever the summary does not have that shape."""
    row = results.get(column, {}).get(domain)
    return row.get(key) if isinstance(row, dict) else None


def _table_domains(results: dict[str, dict[str, Any]]) -> list[str]:
    last = list(results.values())[-1]
    seen: dict[str, None] = {}
    for col in (last, *results.values()):
        for d in col:
            if d != "all":
                seen.setdefault(d, None)
    return list(seen) + (["all"] if any("all" in c for c in results.values()) else [])


def _baseline_of(baseline: dict[str, float], domain: str) -> float | None:
    if domain == "all":
        return sum(baseline.values()) / len(baseline) if baseline else None
    return baseline.get(domain)


def results_table(run: Run) -> str:
    results, baseline = run.results, run.baseline
    if not results:
        return "<p class=missing>No evaluation results (summary.json has none).</p>"
    names = list(results)
    delta = "sft" in results and "rlcs" in results
    head = [COLUMN_LABELS.get(n, n) + " accuracy" for n in names]
    head += ["Δ RL"] if delta else []
    head += ["majority baseline"] + [f"format ({COLUMN_LABELS.get(n, n)})" for n in names] + ["n"]
    rows = []
    for d in _table_domains(results):
        cells = [_pct(_cell(results, n, d, "accuracy")) for n in names]
        if delta:
            a, b = _cell(results, "sft", d, "accuracy"), _cell(results, "rlcs", d, "accuracy")
            cells.append(f"{100 * (b - a):+.0f} pt" if _num(a) and _num(b) else "—")
        base = _baseline_of(baseline, d)
        cells.append(_pct(base) + (" (mean)" if d == "all" and base is not None else ""))
        cells += [_pct(_cell(results, n, d, "format")) for n in names]
        cells.append(_fmt(_cell(results, names[-1], d, "n"), ".0f"))
        cls = " class=total" if d == "all" else ""
        rows.append(f"<tr{cls}><th>{_e(d)}</th>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    header = "<tr><th>domain</th>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
    note = "" if "rlcs" in results else "<p class=missing>No RLCS column: RL was not run.</p>"
    return f"<table class=results><thead>{header}</thead><tbody>{''.join(rows)}</tbody></table>{note}{paired(run)}"


def paired(run: Run) -> str:
    """RLCS against SFT item by item (summary.json's "paired"), as sentences."""
    data = run.summary.get("paired")
    if not isinstance(data, dict):
        return ""
    lines = []
    for kind, by_domain in data.items():
        p = by_domain.get("all") if isinstance(by_domain, dict) else None
        if not isinstance(p, dict) or not all(_num(p.get(k)) for k in ("mean_a", "mean_b", "diff", "se", "p_value")):
            continue
        swaps = ""
        if _num(p.get("only_a")) and _num(p.get("only_b")):
            swaps = f"; {p['only_a']:.0f} items right → wrong, {p['only_b']:.0f} wrong → right"
        verdict = "beyond two standard errors" if abs(p["diff"]) > 2 * p["se"] else "within two standard errors"
        lines.append(
            f"<li>{_e(kind)}: {_pct(p['mean_a'])} → {_pct(p['mean_b'])}, {100 * p['diff']:+.1f} ± "
            f"{100 * p['se']:.1f} points ({_e(p.get('test', ''))}, p = {p['p_value']:.2g}{_e(swaps)}): {verdict}</li>"
        )
    if not lines:
        return ""
    return "<p>RLCS against SFT on the same held-out items (paired):</p><ul>" + "".join(lines) + "</ul>"


def splits_table(run: Run) -> str:
    """Per split and domain, how the held-out set and the RL pool compare with training by content
    (`thinkvl.data.synth.splits.split_stats`), from summary.json's "splits"; empty when the summary has none."""
    splits = run.summary.get("splits")
    if not isinstance(splits, dict):
        return ""
    head = ["items", "distinct", "identical to a training item", "answers also in training"]
    keys = ["items", "distinct", "identical_to_reference", "answers_in_reference"]
    rows = []
    for name, stats in splits.items():
        if not isinstance(stats, dict):
            continue
        for domain, row in stats.items():
            if not isinstance(row, dict):
                continue
            cells = [_fmt(row.get(k), ".0f") for k in keys[:3]] + [_pct(row.get(keys[3]))]
            cls = " class=total" if domain == "all" else ""
            rows.append(
                f"<tr{cls}><th>{_e(name)} / {_e(domain)}</th>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>"
            )
    if not rows:
        return ""
    header = "<tr><th>split / domain</th>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>"
    rl_vs_heldout = splits.get("rl_vs_heldout")
    extra = f"<p>RL items identical to a held-out item: {_e(rl_vs_heldout)}.</p>" if _num(rl_vs_heldout) else ""
    return (
        "<h2>Data splits</h2><p>Held-out means content-disjoint from training (no item with the same pixels, "
        "question and answer), drawn from the same task families and levels.</p>"
        f"<table class=results><thead>{header}</thead><tbody>{''.join(rows)}</tbody></table>{extra}"
    )


def pretrain_data(run: Run) -> str:
    """What the data pipeline kept and dropped for pre-training (summary.json's "pretrain_data", written by
    `thinkvl.demo.write_long_context_data`): per filter and reason, images and documents; empty when absent."""
    data = run.summary.get("pretrain_data")
    if not isinstance(data, dict):
        return ""
    out = ["<h2>Pre-training data</h2>"]
    web = data.get("interleaved")
    if isinstance(web, dict):
        out.append(
            f"<p>Interleaved web pages (OBELICS layout) through the interleaved builder: documents "
            f"{_e(_fmt(web.get('documents_in'), '.0f'))} → {_e(_fmt(web.get('documents_out'), '.0f'))} kept, images "
            f"{_e(_fmt(web.get('images_in'), '.0f'))} → {_e(_fmt(web.get('images_out'), '.0f'))} kept.</p>"
        )
        examples = web.get("examples") if isinstance(web.get("examples"), dict) else {}
        rows = []
        dropped = web.get("dropped") if isinstance(web.get("dropped"), dict) else {}
        for filt, kinds in dropped.items():
            if not isinstance(kinds, dict):
                continue
            images, docs = kinds.get("images") or {}, kinds.get("documents") or {}
            if not isinstance(images, dict) or not isinstance(docs, dict):
                continue
            for code in sorted(set(images) | set(docs)):
                cells = [_fmt(images.get(code, 0), ".0f"), _fmt(docs.get(code, 0), ".0f")]
                example = examples.get(f"{filt}/{code}", "")
                rows.append(
                    f"<tr><th>{_e(filt)}</th><td>{_e(code)}</td>" + "".join(f"<td>{_e(c)}</td>" for c in cells)
                    + f"<td style='text-align:left'>{_e(example)}</td></tr>"
                )  # fmt: skip
        if rows:
            head = "<tr><th>filter</th><th>reason</th><th>images dropped</th><th>documents dropped</th><th>e.g.</th>"
            out.append(f"<table class=results><thead>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    docs = data.get("long_documents")
    if isinstance(docs, dict):
        tokens = docs.get("tokens") if isinstance(docs.get("tokens"), list) else []
        out.append(
            f"<p>Long documents: a {_e(_fmt(docs.get('pages'), '.0f'))}-page PDF (page images and their text) became "
            f"{_e(_fmt(docs.get('samples'), '.0f'))} interleaved sample(s) of "
            f"{_e(', '.join(_fmt(t, '.0f') for t in tokens))} tokens, for packs of "
            f"{_e(_fmt(docs.get('pack_len'), '.0f'))}.</p>"
        )
    return "".join(out)


def _stage_facts(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "not run"
    parts = [f"{_fmt(_last(rows, 'step'), '.0f')} steps", f"final loss {_fmt(_last(rows, 'train/loss'))}"]
    tps = series(rows, "perf/tokens_per_s")[1]
    if tps:
        parts.append(f"median {sorted(tps)[len(tps) // 2]:,.0f} tokens/s")
    fill = next((r["packing/fill"] for r in rows if _num(r.get("packing/fill"))), None)
    if fill is not None:
        parts.append(f"packing fill {_pct(fill)}")
    return ", ".join(parts)


def run_facts(run: Run) -> str:
    facts = [("pre-training", _stage_facts(run.pretrain))]
    if run.long_context:
        facts.append(("long-context pre-training", _stage_facts(run.long_context)))
    facts.append(("SFT", _stage_facts(run.sft)))
    if run.grades:
        tiers: dict[str, int] = {}
        for g in run.grades:
            tiers[str(g.get("tier"))] = tiers.get(str(g.get("tier")), 0) + 1
        order = [t for t in TIER_COLORS if t in tiers] + [t for t in tiers if t not in TIER_COLORS]
        facts.append(("offline grading", f"{len(run.grades)} records: " + ", ".join(f"{t} {tiers[t]}" for t in order)))
    if run.rl:
        rl = [f"{_fmt(_last(run.rl, 'step'), '.0f')} iterations"]
        if _num(_last(run.rl, "rollouts/total")):
            rl.append(f"{_last(run.rl, 'rollouts/total'):,.0f} rollouts")
        rl.append(f"final rollout accuracy {_pct(_last(run.rl, 'accuracy/mean'))}")
        facts.append(("RLCS", ", ".join(rl)))
    else:
        facts.append(("RLCS", "not run"))
    for name in run.results:
        n = _cell(run.results, name, "all", "n")
        facts.append((f"evaluation ({COLUMN_LABELS.get(name, name)})", f"{_fmt(n, '.0f')} held-out items"))
    minutes = run.summary.get("minutes")
    if _num(minutes):
        facts.append(("wall time", f"{minutes:.1f} minutes"))
    return "<dl class=facts>" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>"


def examples(run: Run) -> str:
    """A correct and a wrong response per domain, from the last model evaluated."""
    if not run.predictions:
        return "<p class=missing>No predictions to show.</p>"
    name = "rlcs" if "rlcs" in run.predictions else next(iter(run.predictions))
    rows = run.predictions[name]
    by_domain: dict[str, dict[bool, dict[str, Any]]] = {}
    for r in rows:
        by_domain.setdefault(str(r.get("domain", "?")), {}).setdefault(bool(r.get("correct")), r)
    out = [f"<p>Greedy responses of the {_e(COLUMN_LABELS.get(name, name))} model on held-out items.</p>"]
    for domain in by_domain:
        out.append(f"<h3>{_e(domain)}</h3><div class=pair>")
        for correct in (True, False):
            r = by_domain[domain].get(correct)
            label = "correct" if correct else "wrong"
            if r is None:
                out.append(f"<div class='ex {label}'><p class=missing>No {label} response in this domain.</p></div>")
                continue
            out.append(_example(r, label))
        out.append("</div>")
    return "".join(out)


def _example(r: dict[str, Any], label: str) -> str:
    text = str(r.get("response", ""))
    if len(text) > MAX_RESPONSE_CHARS:
        text = text[:MAX_RESPONSE_CHARS] + f" … [{len(text) - MAX_RESPONSE_CHARS} more characters]"
    verdict = r.get("verdict")
    v = verdict if isinstance(verdict, dict) else r  # the runner nests the verdict; a flat row holds it inline
    extracted = v.get("extracted")
    meta = f"{label} · id {r.get('id')} · reward {_fmt(r.get('reward'), '.2f')} · "
    meta += "nothing extracted" if extracted is None else f"extracted {extracted!r}"
    reason = f"<p class=reason>{_e(v.get('reason'))}</p>" if v.get("reason") else ""
    return f"<div class='ex {label}'><p class=meta>{_e(meta)}</p>{reason}<pre>{_e(text)}</pre></div>"


CSS = """
body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:#222;max-width:1100px;margin:2em auto;
padding:0 1em}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
table.results{border-collapse:collapse;margin:1em 0}
table.results th,table.results td{border:1px solid #ccc;padding:.3em .7em;text-align:right}
table.results th:first-child{text-align:left}table.results thead th{background:#f3f3f3}
tr.total{font-weight:bold;background:#fafafa}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
figure{margin:1.5em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
.missing{color:#8a6d3b;background:#fcf8e3;padding:.4em .8em;border-radius:4px}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.ex{border-left:4px solid;padding:0 .8em;min-width:0}.ex.correct{border-color:#55a868}.ex.wrong{border-color:#c44e52}
.ex pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f7;padding:.6em;font-size:.85em;max-height:20em;
overflow:auto}
.meta{font-size:.85em;color:#555;margin:.3em 0}.reason{font-size:.85em;margin:.2em 0;font-style:italic}
"""


def render(run: Run, images: dict[str, str | None]) -> str:
    """The page, given each plot's relative image path (None when its data was absent)."""
    figures = []
    for plot in PLOTS:
        src, caption = images.get(plot.file), plot.caption
        if src is None:
            figures.append(f"<p class=missing>{_e(caption)}: not available ({_e(plot.needs)} missing).</p>")
        else:
            figures.append(
                f"<figure><img src='{_e(src)}' alt='{_e(caption)}'><figcaption>{_e(caption)}</figcaption></figure>"
            )
    missing = ""
    if run.missing:
        missing = "<div class=missing><b>Absent from this run:</b><ul>" + "".join(
            f"<li>{_e(m)}</li>" for m in run.missing
        )
        missing += "</ul></div>"
    table_md = run.summary.get("table")
    md = (
        f"<details><summary>as markdown</summary><pre>{_e(table_md)}</pre></details>"
        if isinstance(table_md, str)
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width,initial-scale=1">
<title>thinkvl demo report — {_e(run.root.name)}</title><style>{CSS}</style></head><body>
<h1>thinkvl demo report</h1>
<p>Run directory <code>{_e(run.root.name)}</code>: a tiny glm4v trained with the GLM-4.1V-Thinking recipe —
pre-training (captions, then interleaved pages and a long document) → SFT → offline grading → RLCS (RL with
curriculum sampling) → evaluation on held-out synthetic items.</p>
{run_facts(run)}{missing}
<h2>Held-out accuracy</h2>{results_table(run)}{md}
{splits_table(run)}
{pretrain_data(run)}
<h2>Plots</h2>{"".join(figures)}
<h2>Example responses</h2>{examples(run)}
</body></html>
"""


def write_report(run_dir: Path) -> Path:
    """Write `run_dir/report.html` and its PNGs in `run_dir/report/`; return the HTML path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    run = load_run(run_dir)
    img_dir = run_dir / "report"
    img_dir.mkdir(exist_ok=True)
    images: dict[str, str | None] = {}
    for plot in PLOTS:
        path = img_dir / plot.file
        if plot.draw(run, path):
            images[plot.file] = f"report/{plot.file}"
        else:
            path.unlink(missing_ok=True)  # a stale plot from an earlier run must not pass for this one's
            images[plot.file] = None
    out = run_dir / "report.html"
    atomic_write_text(out, render(run, images))
    return out
