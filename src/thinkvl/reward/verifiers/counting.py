"""Counting: the box must state one non-negative integer equal to the count (digits or a number word)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinkvl.reward.numbers import parse_number
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.verdict import Check


@dataclass
class CountingOptions:
    tolerance: int = field(default=0, metadata={"help": "absolute difference still counted as correct"})

    def __post_init__(self) -> None:
        if self.tolerance < 0:
            raise ValueError("counting tolerance must be >= 0")


@register
class CountingVerifier(Verifier):
    name = "counting"
    Options = CountingOptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        ok = isinstance(answer, (int, float)) and not isinstance(answer, bool) and float(answer).is_integer()
        return None if ok and answer >= 0 else f"a count is a non-negative integer, got {answer!r}"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        num = parse_number(pred)
        if num is None or num.percent:
            return Check(0.0, False, "no single number in the answer")
        if num.value.denominator != 1 or num.value < 0:
            return Check(0.0, False, f"{float(num.value):g} is not a count")
        ok = abs(num.value - int(answer)) <= self.options.tolerance
        return Check(float(ok), ok, "right count" if ok else f"counted {num.value}, expected {int(answer)}")
