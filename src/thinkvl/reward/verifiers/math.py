"""Math: symbolic/numeric equivalence of the boxed expression with the ground truth (see `mathexpr`).

Numbers, fractions, radicals, expressions, equations, intervals, sets, tuples, matrices and percentages, in
LaTeX or plain text, units stripped. The text is tokenised and parsed by our own grammar; sympy only ever sees
objects built with its constructors, never a string. Where our parser can't read or compare an answer, math-verify
is asked (`thinkvl.reward.math_fallback`: in worker processes only, under its own time budget).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from thinkvl.reward import math_fallback
from thinkvl.reward.extract import final_value
from thinkvl.reward.mathexpr import MathSyntaxError, math_equal, parse_value
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.verdict import Check


@dataclass
class MathOptions:
    rel_tol: float = field(default=1e-6, metadata={"help": "relative tolerance when either side writes a decimal"})
    fallback: bool = field(
        default=True,
        metadata={"help": "ask math-verify where our parser gives no verdict (in reward worker processes only)"},
    )
    fallback_time_s: float = field(
        default=0.5, metadata={"help": "math-verify's time budget per answer, inside the worker's hard limit"}
    )

    def __post_init__(self) -> None:
        if not 0 <= self.rel_tol < 1:
            raise ValueError("math rel_tol must be in [0, 1)")
        if not self.fallback_time_s > 0:
            raise ValueError("math fallback_time_s must be > 0")


def gold_text(answer: Any) -> str:
    """A ground-truth number or string as answer text (floats keep their decimals, never exponent form)."""
    if isinstance(answer, bool):
        raise TypeError("a boolean is not a math answer")
    if isinstance(answer, int):
        return str(answer)
    if isinstance(answer, float):
        if not math.isfinite(answer):
            raise ValueError("a math answer must be finite")
        return format(Decimal(repr(answer)), "f")
    if isinstance(answer, str):
        return answer
    raise TypeError(f"a math answer is a string or a number, got {type(answer).__name__}")


def _parses(text: str) -> bool:
    try:
        parse_value(text)
    except (MathSyntaxError, ArithmeticError, ValueError, TypeError, RecursionError):
        return False
    return True


@register
class MathVerifier(Verifier):
    name = "math"
    Options = MathOptions

    def warm_up(self) -> None:
        for gold, pred in (("\\frac{\\sqrt{3}}{2}", "\\sin(\\pi/3)"), ("(x+1)^2", "x^2+2x+1"), ("2006!", "2006!+1")):
            math_equal(gold, pred)  # first use of sympy/mpmath paths loads their lazy internals
        if self.options.fallback and math_fallback.enabled():
            math_fallback.equal("3", "\\lfloor 3.5 \\rfloor", 30.0)  # math-verify's parser tables load on first use

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        golds = answer if isinstance(answer, list) else [answer]
        try:
            for g in golds:
                gold_text(g)
        except (TypeError, ValueError) as err:
            return str(err)
        return None if golds else "empty list of accepted answers"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        if lenient and not _parses(pred):
            # Free text from another model: judge the one value its reasoning ends on (never a refusal).
            value = final_value(pred)
            if value is None:
                return Check(0.0, False, "no final value in the text")
            pred = value
        reason = "no accepted answer"
        for gold in answer if isinstance(answer, list) else [answer]:
            ok, reason = math_equal(gold_text(gold), pred, self.options.rel_tol)
            if ok:
                return Check(1.0, True, reason)
            if self.options.fallback and math_fallback.undecided(reason):
                if math_fallback.equal(gold_text(gold), pred, self.options.fallback_time_s):
                    return Check(1.0, True, f"math-verify: equivalent ({reason})")
        return Check(0.0, False, reason)
