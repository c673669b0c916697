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
_LOOSE_SPACE = re.compile(r"(?<!\\)(?:(?<!\w) | (?!\w))")  # a space next to punctuation carries no meaning
# Number formats that can't be misread: thousands grouped by spaces (1 234 567) or dots (1.234.567), and the
# European 1.234,5; a lone decimal comma (3,5) only in a prediction whose gold is one number (else it's a list).
_SPACE_GROUPS = re.compile(r"[+-]?\d{1,3}(?: \d{3})+(?:\.\d+)?")
_DOT_GROUPS = re.compile(r"[+-]?\d{1,3}(?:(?:\.\d{3}){2,}(?:,\d+)?|\.\d{3},\d+)")
_DECIMAL_COMMA = re.compile(r"[+-]?(?:0,\d+|\d+,(?:\d{1,2}|\d{4,}))")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname)\s*\{([^{}]*)\}")
_TEXT_LAYOUT = re.compile(r"\\(?:left|right|[ ,;:!]|q?quad\b|displaystyle)")


@lru_cache(maxsize=8192)
def parse_value(text: str) -> Any:
    """The comparable value of a math answer (cached: ground truths repeat across a rollout group)."""
    return build(parse_math(text))


@lru_cache(maxsize=8192)
def _canon(text: str) -> str:
    text = _SPACE.sub(" ", normalise(text)).strip()
    if _SPACE_GROUPS.fullmatch(text):
        return text.replace(" ", "")
    if _DOT_GROUPS.fullmatch(text):
        return text.replace(".", "").replace(",", ".")
    return _LOOSE_SPACE.sub("", text)


def _text_form(canon: str) -> str:
    """An answer as plain text: ``\\text{}`` wrappers, ``\\left``/``\\right`` and spacing dropped; case folded
    unless it is one character (``\\text{E}`` is ``E``; ``b`` is not ``B``)."""
    text = _TEXT_LAYOUT.sub(" ", _TEXT_WRAP.sub(r"\1", canon))
    text = _LOOSE_SPACE.sub("", _SPACE.sub(" ", text).strip())
    return text.lower() if len(text) > 1 else text


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
    if _PLAIN_NUMBER.fullmatch(g) and _DECIMAL_COMMA.fullmatch(p):
        p = p.replace(",", ".")
    inexact = bool(_DECIMAL.search(g) or _DECIMAL.search(p))
    if _PLAIN_NUMBER.fullmatch(g) and _PLAIN_NUMBER.fullmatch(p):
        a, b = Fraction(g), Fraction(p)
        if a == b:
            return True, "equal numbers"
        ok = inexact and abs(a - b) <= Fraction(rel_tol) * max(abs(a), abs(b))
        return ok, "equal within tolerance" if ok else "different numbers"
    # Parse the text as written unless it was a number reformatted above (spacing inside LaTeX can matter).
    gold, pred = (g if _PLAIN_NUMBER.fullmatch(g) else gold), (p if _PLAIN_NUMBER.fullmatch(p) else pred)
    try:
        gold_value = parse_value(gold)
    except _REJECTED:
        # A ground truth that is not an expression ("no solution"): compare the answers as text.
        ok = _text_form(g) == _text_form(p)
        return ok, "same text" if ok else "different text"
    try:
        pred_value = parse_value(pred)
    except _REJECTED as err:
        if _text_form(g) == _text_form(p):
            return True, "same text"
        return False, f"unparseable answer: {err}"
    try:
        ok = values_equal(gold_value, pred_value, Tolerance(inexact, rel_tol))
    except _REJECTED as err:
        return False, f"can't compare: {type(err).__name__}"
    return ok, "equivalent" if ok else "not equivalent"
