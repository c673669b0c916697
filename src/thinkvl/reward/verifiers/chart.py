"""Chart values: ChartQA-style relaxed accuracy (relative tolerance) for numbers, exact for years and text.

A bracketed list ground truth ("[2014, 2016]") needs every element matched, in any order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from thinkvl.reward.numbers import Num, parse_number
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import has_hedge, normalize_answer
from thinkvl.reward.verdict import Check


@dataclass
class ChartOptions:
    rel_tol: float = field(default=0.05, metadata={"help": "relative tolerance of numeric answers (ChartQA: 5%)"})
    exact_years: bool = field(default=True, metadata={"help": "integers that look like years must match exactly"})
    year_min: int = field(default=1800, metadata={"help": "smallest integer treated as a year"})
    year_max: int = field(default=2100, metadata={"help": "largest integer treated as a year"})

    def __post_init__(self) -> None:
        if not 0 <= self.rel_tol < 1:
            raise ValueError("chart rel_tol must be in [0, 1)")
        if self.year_min > self.year_max:
            raise ValueError("chart year_min must be <= year_max")


def split_list(text: str) -> list[str] | None:
    """Items of a bracketed list answer, or None when the text is not one."""
    text = text.strip()
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        return [item.strip().strip("'\"") for item in text[1:-1].split(",") if item.strip()]
    return None


@register
class ChartVerifier(Verifier):
    name = "chart"
    Options = ChartOptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        if isinstance(answer, bool) or not isinstance(answer, (int, float, str)):
            return f"a chart answer is a number or a string, got {type(answer).__name__}"
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        gold = answer if isinstance(answer, str) else repr(answer)
        items = split_list(gold)
        if items is not None:
            preds = split_list(pred) or [p.strip() for p in pred.split(",")]
            if len(preds) != len(items):
                return Check(0.0, False, f"expected {len(items)} values, got {len(preds)}")
            remaining = list(preds)
            for item in items:
                hit = next((k for k, p in enumerate(remaining) if self._one(p, item)), None)
                if hit is None:
                    return Check(0.0, False, f"no match for {item!r}")
                remaining.pop(hit)
            return Check(1.0, True, "all values match")
        ok = self._one(pred, gold, is_int=isinstance(answer, int))
        return Check(float(ok), ok, "match" if ok else "no match")

    def _one(self, pred: str, gold: str, is_int: bool = False) -> bool:
        g = parse_number(gold)
        if g is None:
            p_norm = normalize_answer(pred)
            return bool(p_norm) and p_norm == normalize_answer(gold) and not has_hedge(pred, gold)
        p = parse_number(pred)
        if p is None:
            return False
        if self._is_year(g, gold, is_int):
            return p.value == g.value
        if g.value == 0:
            return p.value == 0
        return abs(p.value - g.value) <= Fraction(self.options.rel_tol) * abs(g.value)

    def _is_year(self, g: Num, text: str, is_int: bool) -> bool:
        looks_int = is_int or re.fullmatch(r"\s*\d{4}\s*", text) is not None
        lo, hi = self.options.year_min, self.options.year_max
        return self.options.exact_years and looks_int and g.value.denominator == 1 and lo <= g.value <= hi
