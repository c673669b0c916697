"""Counting: the box must state one non-negative integer equal to the count (digits or a number word).

The ground truth may be a number or a numeric string (``"7"``), as public datasets store it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinkvl.data.record import count_value
from thinkvl.reward.extract import final_value
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
        if count_value(answer) is None:
            return f'a count is a non-negative integer (a number or digits such as "7"), got {answer!r}'
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        num = parse_number(pred)
        if num is None and lenient:  # another model's free text: the count its reasoning ends on
            value = final_value(pred)
            num = parse_number(value) if value else None
        if num is None or num.percent:
            return Check(0.0, False, "no single number in the answer")
        if num.value.denominator != 1 or num.value < 0:
            return Check(0.0, False, f"{float(num.value):g} is not a count")
        gold = count_value(answer)
        ok = gold is not None and abs(num.value - gold) <= self.options.tolerance
        return Check(float(ok), ok, "right count" if ok else f"counted {num.value}, expected {gold}")
