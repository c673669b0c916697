"""Math answers: tokenizer → parser → bounded sympy builder → equivalence. No text is ever evaluated.

>>> math_equal("\\\\frac{1}{2}", "0.5")
(True, 'equivalent')
>>> math_equal("\\\\frac{1}{2004!}", "\\\\frac{1}{2006!}")[0]
False
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import Any

from thinkvl.reward.mathexpr.build import build
from thinkvl.reward.mathexpr.equal import Tolerance, values_equal
from thinkvl.reward.mathexpr.lexer import MathSyntaxError, normalise
from thinkvl.reward.mathexpr.parser import parse_math

__all__ = ["MathSyntaxError", "math_equal", "parse_value", "parse_math"]

# Besides our own syntax errors, sympy/mpmath may refuse an odd construct: that is a failed answer, never a crash.
_REJECTED = (MathSyntaxError, ArithmeticError, ValueError, TypeError, RecursionError)
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DECIMAL = re.compile(r"\d*\.\d+")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=8192)
def parse_value(text: str) -> Any:
    """The comparable value of a math answer (cached: ground truths repeat across a rollout group)."""
    return build(parse_math(text))


@lru_cache(maxsize=8192)
def _canon(text: str) -> str:
    return _SPACE.sub("", normalise(text))


def math_equal(gold: str, pred: str, rel_tol: float = 1e-6) -> tuple[bool, str]:
    """Whether ``pred`` is mathematically the same answer as ``gold``, and why.

    Rationals compare exactly; if either side writes a decimal, numbers compare with relative tolerance
    ``rel_tol``; exact irrational forms compare to 25 significant digits.
    """
    g, p = _canon(gold), _canon(pred)
    if not p:
        return False, "empty answer"
    if g == p:
        return True, "identical"
    inexact = bool(_DECIMAL.search(g) or _DECIMAL.search(p))
    if _PLAIN_NUMBER.fullmatch(g) and _PLAIN_NUMBER.fullmatch(p):
        a, b = Fraction(g), Fraction(p)
        if a == b:
            return True, "equal numbers"
        ok = inexact and abs(a - b) <= Fraction(rel_tol) * max(abs(a), abs(b))
        return ok, "equal within tolerance" if ok else "different numbers"
    try:
        gold_value = parse_value(gold)
    except _REJECTED:
        # A ground truth that is not an expression ("no solution"): compare the normalised text.
        ok = g.lower() == p.lower()
        return ok, "same text" if ok else "different text"
    try:
        pred_value = parse_value(pred)
    except _REJECTED as err:
        return False, f"unparseable answer: {err}"
    try:
        ok = values_equal(gold_value, pred_value, Tolerance(inexact, rel_tol))
    except _REJECTED as err:
        return False, f"can't compare: {type(err).__name__}"
    return ok, "equivalent" if ok else "not equivalent"
