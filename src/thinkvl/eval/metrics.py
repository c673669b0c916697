"""Each benchmark's own metric, computed from per-sample predictions (one dict per item, as the runner saves them:
``id``, ``correct``, ``score``, ``meta``, ``verdict``).

Headline numbers are on the benchmark's own scale: percentages for most, OCRBench's count of correct items (out of
1000 on the full set). `MetricResult.normalized` puts every benchmark on 0–100 for group averages. Breakdowns by
record meta keys (a list value, like MathVista's skills, counts the item under each element) carry correct/total
counts so they can be compared with the official per-category tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from thinkvl.eval.registry import Benchmark

Row = dict[str, Any]


@dataclass
class MetricResult:
    value: float  # the headline number on the benchmark's scale
    n: int  # items scored
    unit: str = "%"  # "%" or "count"
    breakdown: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # key -> group -> value/correct/n
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def normalized(self) -> float:
        """The value on 0–100 (a count becomes the share of items correct)."""
        return 100.0 * self.value / self.n if self.unit == "count" and self.n else self.value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "normalized": self.normalized}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricResult:
        return cls(**{k: v for k, v in data.items() if k != "normalized"})


def _pct(num: float, den: int) -> float:
    return 100.0 * num / den if den else 0.0


def breakdown(
    rows: Sequence[Row], keys: Sequence[str], *, use_score: bool = False
) -> dict[str, dict[str, dict[str, float]]]:
    """Per meta key, per value: the metric value (accuracy, or mean score), items correct, and items."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for key in keys:
        sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])  # value sum, correct, n
        for row in rows:
            value = (row.get("meta") or {}).get(key, row.get(key))  # meta first, then the row ("domain")
            if value is None or value == "":
                continue
            for group in value if isinstance(value, list) else [value]:
                acc = sums[str(group)]
                acc[0] += row["score"] if use_score else float(row["correct"])
                acc[1] += float(row["correct"])
                acc[2] += 1
        if sums:
            out[key] = {
                g: {"value": _pct(s, int(n)), "correct": int(c), "n": int(n)} for g, (s, c, n) in sorted(sums.items())
            }
    return out


def accuracy(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    correct = sum(bool(r["correct"]) for r in rows)
    return MetricResult(
        _pct(correct, len(rows)), len(rows), breakdown=breakdown(rows, bench.breakdown), extra={"correct": correct}
    )


def mean_score(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """Mean of per-item scores in [0, 1] (ChartQAPro's relaxed/ANLS mix, partial list credit)."""
    total = sum(float(r["score"]) for r in rows)
    return MetricResult(
        _pct(total, len(rows)),
        len(rows),
        breakdown=breakdown(rows, bench.breakdown, use_score=True),
        extra={"correct": sum(bool(r["correct"]) for r in rows)},
    )


def circular_accuracy(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """MMBench's CircularEval: a question counts only if every rotation of its options is answered right."""
    groups: dict[Any, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row["meta"].get("circular_group", row["id"])].append(row)
    firsts = [{**g[0], "correct": all(r["correct"] for r in g)} for g in groups.values()]
    passed = sum(r["correct"] for r in firsts)
    vanilla = [r for r in rows if r["meta"].get("index", 0) < 1_000_000]
    return MetricResult(
        _pct(passed, len(firsts)),
        len(firsts),
        breakdown=breakdown(firsts, bench.breakdown),
        extra={
            "questions": len(firsts),
            "rows": len(rows),
            "vanilla_accuracy": _pct(sum(r["correct"] for r in vanilla), len(vanilla)),
        },
    )


def ocrbench_count(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """OCRBench reports the number of correct items (the full set has 1000), per category too."""
    correct = sum(bool(r["correct"]) for r in rows)
    return MetricResult(
        float(correct),
        len(rows),
        unit="count",
        breakdown=breakdown(rows, bench.breakdown),
        extra={"per_1000": 1000.0 * correct / len(rows) if rows else 0.0},
    )


def mean_of_subsets(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """MMMU-Pro's overall: the mean of the subsets' accuracies (standard 10-option and vision)."""
    parts = breakdown(rows, ("subset",)).get("subset", {})
    value = sum(p["value"] for p in parts.values()) / len(parts) if parts else 0.0
    return MetricResult(value, len(rows), breakdown=breakdown(rows, bench.breakdown))


def wemath_strict(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """WeMath's four-dimensional score over multi-step problems (strict), from the one-step sub-problems and the
    composite problem of each: IK (a step and the whole wrong), IG (steps right, whole wrong), CM (all right),
    RM (whole right despite a wrong step). Score = (N − 0.5·IG − RM − IK) / N."""
    problems: dict[tuple[str, str], dict[str, bool]] = defaultdict(dict)
    for row in rows:
        m = row["meta"]
        if m.get("steps") in ("2steps", "3steps"):
            problems[(m["steps"], m["group"])][m["step"]] = bool(row["correct"])
    counts = dict.fromkeys(("IK", "IG", "CM_strict", "CM_loose", "RM_strict", "RM_loose"), 0)
    complete = 0
    for (steps, _), parts in problems.items():
        need = int(steps[0])
        subs = [parts.get(str(k)) for k in range(1, need + 1)]
        if "multi" not in parts or any(s is None for s in subs):
            continue
        complete += 1
        whole, all_sub, any_sub = parts["multi"], all(subs), any(subs)
        if whole:
            counts["CM_strict"] += all_sub
            counts["CM_loose"] += any_sub
            counts["RM_strict"] += not all_sub
            counts["RM_loose"] += not any_sub
        else:
            counts["IG"] += all_sub
            counts["IK"] += not all_sub
    n = complete

    def score(rm: int) -> float:
        return _pct(n - 0.5 * counts["IG"] - rm - counts["IK"], n)

    acc = _pct(sum(bool(r["correct"]) for r in rows), len(rows))
    extra = {"problems": n, **counts, "score_loose": score(counts["RM_loose"]), "accuracy": acc}
    return MetricResult(score(counts["RM_strict"]), n, breakdown=breakdown(rows, bench.breakdown), extra=extra)


def mmlongbench(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """MMLongBench-Doc: accuracy (mean score) and generalised F1 with "Not answerable" as the negative class."""
    total = sum(float(r["score"]) for r in rows)

    def unanswerable(text: Any) -> bool:
        return "not answerable" in str(text or "").lower()

    answerable = [r for r in rows if r["meta"].get("answer_format") != "None"]
    # The answer as extracted: the judge's extraction where the official protocol ran, else the box.
    claimed = [r for r in rows if not unanswerable((r.get("judge") or r.get("verdict") or {}).get("extracted"))]
    recall = sum(float(r["score"]) for r in answerable) / len(answerable) if answerable else 0.0
    gold_answerable = {r["id"] for r in answerable}
    precision = sum(float(r["score"]) for r in claimed if r["id"] in gold_answerable) / len(claimed) if claimed else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return MetricResult(
        _pct(total, len(rows)),
        len(rows),
        breakdown=breakdown(rows, bench.breakdown, use_score=True),
        extra={"f1": 100 * f1, "precision": 100 * precision, "recall": 100 * recall},
    )


DESIGN2CODE_PARTS = ("block_match", "text", "position", "color", "clip")
FLAME_THRESHOLDS = (0.7, 0.8, 0.85, 0.9, 0.95, 0.99)  # the thresholds Flame's released scorer reports pass@1 at


def design2code(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """Design2Code's final score (mean over pages of the five-part mean), with each part's mean beside it."""
    result = mean_score(rows, bench)
    renders = [(r.get("render") or {}) for r in rows]
    for part in DESIGN2CODE_PARTS:
        result.extra[part] = _pct(sum(float(d.get(part, 0.0)) for d in renders), len(rows))
    result.extra["failed_renders"] = sum("error" in d for d in renders)
    return result


def flame_pass(rows: Sequence[Row], bench: Benchmark) -> MetricResult:
    """Flame-React's pass@1 (one greedy answer per design): the share of items whose visual x code similarity
    reaches the threshold (``correct``), with pass@1 at each of Flame's thresholds beside it."""
    result = accuracy(rows, bench)
    for t in FLAME_THRESHOLDS:
        result.extra[f"pass@1@{t:g}"] = _pct(sum(float(r["score"]) >= t for r in rows), len(rows))
    renders = [(r.get("render") or {}) for r in rows]
    result.extra["compiled"] = _pct(sum(bool(d.get("compiled")) for d in renders), len(rows))
    result.extra["rendered"] = _pct(sum(bool(d.get("rendered")) for d in renders), len(rows))
    return result


METRICS: dict[str, Callable[[Sequence[Row], Benchmark], MetricResult]] = {
    "accuracy": accuracy,
    "mean_score": mean_score,
    "circular_accuracy": circular_accuracy,
    "ocrbench_count": ocrbench_count,
    "mean_of_subsets": mean_of_subsets,
    "wemath_strict": wemath_strict,
    "mmlongbench": mmlongbench,
    "design2code": design2code,
    "flame_pass": flame_pass,
}


def compute(bench: Benchmark, rows: Sequence[Row]) -> MetricResult:
    """The benchmark's metric over its scored rows; an unknown metric name is an error."""
    try:
        fn = METRICS[bench.metric]
    except KeyError:
        raise ValueError(f"{bench.title}: unknown metric {bench.metric!r}; known: {', '.join(METRICS)}") from None
    return fn(rows, bench)
