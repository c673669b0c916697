"""Equivalence of built math values: exact for rationals, high-precision relative for closed forms.

Why not floats: ``1/2004!`` and ``1/2006!`` are both 0.0 as Python floats, and ``1/2^99`` vs ``1/2^98`` differ by
less than any absolute tolerance; exact rationals and a *relative* tolerance at 40 digits keep them apart.
Expressions with symbols are compared at fixed generic points (no `simplify`, whose cost is unbounded).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import permutations
from typing import Any

import mpmath
import sympy

from thinkvl.reward.mathexpr.build import Pct
from thinkvl.reward.mathexpr.evaluate import PREC, Undefined, Value, evaluate, to_mp

EXACT_TOL = mpmath.mpf("1e-25")  # two exact closed forms agreeing to 25 digits are taken as equal
# Generic points: symbols get distinct positive non-integers (so sqrt and log stay real and poles are unlikely).
_POINTS = (
    (Fraction(7, 5), Fraction(13, 9), Fraction(9, 7), Fraction(17, 11)),
    (Fraction(23, 10), Fraction(5, 13), Fraction(31, 17), Fraction(8, 19)),
    (Fraction(7, 12), Fraction(29, 14), Fraction(11, 23), Fraction(37, 15)),
    (Fraction(43, 16), Fraction(19, 21), Fraction(3, 29), Fraction(26, 9)),
)


@dataclass(frozen=True)
class Tolerance:
    inexact: bool  # a decimal was written on either side: compare with rel_tol, not exactly
    rel_tol: float


def values_equal(gold: Any, pred: Any, tol: Tolerance) -> bool:
    """Whether two values built by `build` denote the same answer."""
    if isinstance(gold, Pct) or isinstance(pred, Pct):
        return _pct_equal(gold, pred, tol)
    gk, pk = _kind(gold), _kind(pred)
    if gk == "rel" or pk == "rel":
        return _rel_equal(gold, pred, tol)
    if gk == "expr" and pk == "expr":
        return expr_equal(gold, pred, tol)
    if gk in ("list", "set") and pk in ("list", "set"):
        return _unordered(gold[1], pred[1], tol)
    if gk == "set" and len(gold[1]) == 1 and pk == "expr":
        return values_equal(gold[1][0], pred, tol)
    if pk == "set" and len(pred[1]) == 1 and gk == "expr":
        return values_equal(gold, pred[1][0], tol)
    if gk == "group" and pk == "group":
        return gold[1:3] == pred[1:3] and _ordered(gold[3], pred[3], tol)
    if {gk, pk} == {"group", "list"}:  # "(1, 2)" answered as "1, 2"
        g_items = gold[3] if gk == "group" else gold[1]
        p_items = pred[3] if pk == "group" else pred[1]
        group = gold if gk == "group" else pred
        return group[1:3] == ("(", ")") and _ordered(g_items, p_items, tol)
    if gk == "union" and pk == "union":
        return _unordered(gold[1], pred[1], tol)
    if gk == "matrix" and pk == "matrix":
        g, p = gold[1], pred[1]
        return len(g) == len(p) and all(_ordered(a, b, tol) for a, b in zip(g, p))
    return False


def _kind(v: Any) -> str:
    return v[0] if isinstance(v, tuple) else "expr"


def _ordered(g: tuple, p: tuple, tol: Tolerance) -> bool:
    return len(g) == len(p) and all(values_equal(a, b, tol) for a, b in zip(g, p))


def _unordered(g: tuple, p: tuple, tol: Tolerance) -> bool:
    """A perfect matching between the items (sizes are small: greedy with backtracking over candidates)."""
    if len(g) != len(p):
        return False
    if len(g) <= 6:
        return any(_ordered(g, perm, tol) for perm in permutations(p))
    remaining = list(p)
    for item in g:
        hit = next((k for k, cand in enumerate(remaining) if values_equal(item, cand, tol)), None)
        if hit is None:
            return False
        remaining.pop(hit)
    return True


def _pct_equal(gold: Any, pred: Any, tol: Tolerance) -> bool:
    if isinstance(gold, Pct) and isinstance(pred, Pct):
        return values_equal(gold.value, pred.value, tol)
    pct, other = (gold, pred) if isinstance(gold, Pct) else (pred, gold)
    if _kind(other) != "expr":
        return False
    return expr_equal(pct.value, other, tol) or expr_equal(pct.value / 100, other, tol)


# -- relations --------------------------------------------------------------------------------------------
def _assigned(v: Any) -> Any:
    """The value of ``x = value`` (a lone symbol on the left), else None."""
    if _kind(v) == "rel" and v[2] == ("=",) and isinstance(v[1][0], sympy.Symbol):
        return v[1][1]
    return None


def _as_interval(v: Any) -> Any:
    """``x > 3`` as ``(3, oo)``, ``1 <= x < 2`` as ``[1, 2)``, ``x in S`` as S; None when not of that shape."""
    items, ops = v[1], v[2]
    if ops == ("in",) and isinstance(items[0], sympy.Symbol):
        return items[1]
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
    if len(ops) == 1 and ops[0] in flip:
        a, b = items
        if isinstance(b, sympy.Symbol) and not isinstance(a, sympy.Symbol):
            a, b, op = b, a, flip[ops[0]]
        else:
            op = ops[0]
        if not isinstance(a, sympy.Symbol) or _kind(b) != "expr" or not b.is_number:
            return None
        if op in ("<", "<="):
            return ("group", "(", ")" if op == "<" else "]", (-sympy.oo, b))
        return ("group", "(" if op == ">" else "[", ")", (b, sympy.oo))
    if len(ops) == 2 and ops[0] == ops[1] and ops[0] in ("<", "<=") and isinstance(items[1], sympy.Symbol):
        lo, hi = items[0], items[2]
        if _kind(lo) == "expr" and _kind(hi) == "expr" and lo.is_number and hi.is_number:
            return ("group", "(" if ops[0] == "<" else "[", ")" if ops[1] == "<" else "]", (lo, hi))
    return None


def _rel_equal(gold: Any, pred: Any, tol: Tolerance) -> bool:
    g_val, p_val = _assigned(gold), _assigned(pred)
    if g_val is not None and p_val is not None:
        return gold[1][0] == pred[1][0] and values_equal(g_val, p_val, tol)
    if g_val is not None and _kind(pred) != "rel":
        return values_equal(g_val, pred, tol)
    if p_val is not None and _kind(gold) != "rel":
        return values_equal(gold, p_val, tol)
    g_int = _as_interval(gold) if _kind(gold) == "rel" else gold
    p_int = _as_interval(pred) if _kind(pred) == "rel" else pred
    if g_int is not None and p_int is not None and _kind(g_int) != "rel" and _kind(p_int) != "rel":
        return values_equal(g_int, p_int, tol)
    if _kind(gold) != "rel" or _kind(pred) != "rel":
        return False
    if gold[2] == ("=",) and pred[2] == ("=",):
        f, g = _difference(gold), _difference(pred)
        return f is not None and g is not None and _proportional(f, g, tol)
    return gold[2] == pred[2] and _ordered(gold[1], pred[1], tol)


def _difference(rel: Any) -> sympy.Expr | None:
    a, b = rel[1]
    if _kind(a) != "expr" or _kind(b) != "expr":
        return None
    return a - b


def _proportional(f: sympy.Expr, g: sympy.Expr, tol: Tolerance) -> bool:
    """Equations f = 0 and g = 0 are the same when f = c·g for a constant c != 0."""
    if f == g or f == -g:
        return True
    symbols = f.free_symbols | g.free_symbols
    if not symbols:
        return False
    ratios = []
    for env in _substitutions(symbols):
        vf, vg = _at(f, env), _at(g, env)
        if vf is None or vg is None or vg == 0:
            continue
        ratios.append(vf / vg if isinstance(vf, Fraction) and isinstance(vg, Fraction) else to_mp(vf) / to_mp(vg))
    return len(ratios) >= 2 and ratios[0] != 0 and all(_same(r, ratios[0], tol) for r in ratios)


# -- expressions ------------------------------------------------------------------------------------------
def expr_equal(a: sympy.Expr, b: sympy.Expr, tol: Tolerance) -> bool:
    """Equality of two sympy expressions under the tolerance."""
    if a == b:
        return True
    if a.has(sympy.oo, -sympy.oo, sympy.zoo) or b.has(sympy.oo, -sympy.oo, sympy.zoo):
        return False  # infinities compare structurally only
    symbols = a.free_symbols | b.free_symbols  # sin^2 x + cos^2 x = 1: a side may lose its symbol
    if not symbols:
        va, vb = _at(a, {}), _at(b, {})
        return va is not None and vb is not None and _same(va, vb, tol)
    agree = 0
    for env in _substitutions(symbols):
        va, vb = _at(a, env), _at(b, env)
        if va is None or vb is None:
            continue
        if not _same(va, vb, tol):
            return False
        agree += 1
    return agree >= 2


def _substitutions(symbols: set[sympy.Symbol]) -> list[dict[sympy.Symbol, Fraction]]:
    ordered = sorted(symbols, key=lambda s: s.name)
    return [{s: point[k % len(point)] + k for k, s in enumerate(ordered)} for point in _POINTS]


def _at(e: sympy.Expr, env: dict) -> Value | None:
    """``e`` at a point (exact when rational), or None where it has no finite value."""
    try:
        v = evaluate(e, env)
    except Undefined:
        if env:
            return None
        v = _num(e)  # a constant our evaluator doesn't know: let sympy evaluate it
        if v is None:
            return None
    if not isinstance(v, Fraction) and not (mpmath.isfinite(mpmath.re(v)) and mpmath.isfinite(mpmath.im(v))):
        return None
    return v


def _same(a: Value, b: Value, tol: Tolerance) -> bool:
    """Two values: exactly for rationals (unless a decimal was written), else to 40 digits."""
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        if a == b or not tol.inexact:
            return a == b
    with mpmath.workdps(PREC):
        return _close(mpmath.mpmathify(to_mp(a)), mpmath.mpmathify(to_mp(b)), tol)


def _num(e: sympy.Expr) -> mpmath.mpc | None:
    """``e`` as a 40-digit mpmath complex via sympy's evalf, or None when it has no finite value."""
    try:
        v = e.evalf(PREC)
        re, im = v.as_real_imag()
        if not (re.is_Number and im.is_Number and re.is_finite and im.is_finite):
            return None
        prec = int(PREC * 3.33) + 10
        return mpmath.mpc(re._to_mpmath(prec), im._to_mpmath(prec))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, OverflowError):
        return None


def _close(x: mpmath.mpc, y: mpmath.mpc, tol: Tolerance) -> bool:
    rel = mpmath.mpf(tol.rel_tol) if tol.inexact else EXACT_TOL
    scale = max(abs(x), abs(y))
    if scale == 0:
        return True
    return abs(x - y) <= rel * scale
