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
    if gk == "ratio" or pk == "ratio":
        return _ratio_equal(gold, pred, tol)
    if gk in ("list", "set") and pk in ("list", "set"):
        return _lists_equal(gold[1], pred[1], tol)
    if gk == "set" and len(gold[1]) == 1 and pk == "expr":
        return values_equal(gold[1][0], pred, tol)
    if pk == "set" and len(pred[1]) == 1 and gk == "expr":
        return values_equal(gold, pred[1][0], tol)
    if gk == "group" and pk == "group":
        return gold[1:3] == pred[1:3] and _ordered(gold[3], pred[3], tol)
    if {gk, pk} == {"group", "list"}:  # "(1, 2)" answered as "1, 2" (or "x = 1, y = 2")
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


def _lists_equal(g: tuple, p: tuple, tol: Tolerance) -> bool:
    """Lists and sets: a set of solutions in any order, but labelled values (``a = 1, b = 2``) by label.

    ``x = 1 or x = 2`` (one label) is the solution set {1, 2}; ``AB = 4, CD = 5`` names two different things, so
    it matches ``CD = 5, AB = 4`` by label, or ``4, 5`` in the order written, never ``5, 4``.
    """
    g_named, p_named = _named(g), _named(p)
    if g_named is not None and p_named is not None:
        return g_named.keys() == p_named.keys() and all(values_equal(g_named[k], p_named[k], tol) for k in g_named)
    if g_named is not None or p_named is not None:
        return _ordered(_values(g), _values(p), tol)
    return _unordered(_values(g), _values(p), tol)


def _named(items: tuple) -> dict | None:
    """{label: value} when every item is an assignment and the labels are distinct (2 or more), else None."""
    pairs = [_assignment(item) for item in items]
    if len(items) < 2 or any(pair is None or pair[0] is None for pair in pairs):
        return None
    named = dict(pairs)  # type: ignore[arg-type]
    return named if len(named) == len(pairs) else None


def _values(items: tuple) -> tuple:
    """The items with assignments replaced by their values (``x = 1, x = 2`` -> ``1, 2``)."""
    out = []
    for item in items:
        pair = _assignment(item)
        out.append(pair[1] if pair is not None else item)
    return tuple(out)


def _ratio_equal(gold: Any, pred: Any, tol: Tolerance) -> bool:
    """``a:b`` equals ``c:d`` when proportional (same length), and a two-term ratio equals the value ``a/b``."""
    if _kind(gold) != "ratio":
        gold, pred = pred, gold
    g = gold[1]
    if _kind(pred) == "ratio":
        p = pred[1]
        if len(g) != len(p) or not all(_kind(x) == "expr" for x in g + p):
            return False
        if _ordered(g, p, tol):
            return True
        if any(x == 0 for x in g + p):
            return False
        factor = p[0] / g[0]
        return bool(factor.is_positive) and all(expr_equal(a * factor, b, tol) for a, b in zip(g, p))
    if len(g) == 2 and _kind(pred) == "expr" and all(_kind(x) == "expr" for x in g) and g[1] != 0:
        return expr_equal(g[0] / g[1], pred, tol)
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
def _assignment(v: Any) -> tuple[Any, Any] | None:
    """(label, value) of ``label = … = value``: an assignment (``x = 11``, ``(p,q) = (3,2)``, ``AB = 4``,
    ``V_1:V_2 = 11:21``) or a worked chain (``x = 5+5+1 = 11``) gives its final value; a numeric chain without a
    label (``5+6 = 11``) gives ``(None, 11)``. None for anything else (``y - 2x = 1`` is an equation)."""
    if _kind(v) != "rel" or set(v[2]) != {"="}:
        return None
    items, labels = v[1], v[3]
    if labels[0] == "label" and not any(labels[1:]):
        return items[0], items[-1]
    if not any(labels) and all(_kind(x) == "expr" and x.is_number for x in items):
        return None, items[-1]
    return None


def _as_interval(v: Any) -> Any:
    """``x > 3`` as ``(3, oo)``, ``1 <= x < 2`` as ``[1, 2)``, ``x in S`` as S, ``1 <= |z| <= 2`` as
    ``[-2, -1] U [1, 2]``; None when not of that shape. The variable may be any label (``0 < f(x) < 1``)."""
    items, ops, labels = v[1], v[2], v[3]
    if ops == ("in",) and labels[0] == "label":
        return items[1]
    flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
    if len(ops) == 1 and ops[0] in flip:
        (a, b), (la, lb), op = items, labels, ops[0]
        if lb and not la:
            a, b, la, op = b, a, lb, flip[op]
        if not la or _kind(b) != "expr" or not b.is_number or not b.is_real:
            return None
        if op in ("<", "<="):
            lo, hi, lo_open, hi_open = -sympy.oo, b, True, op == "<"
        else:
            lo, hi, lo_open, hi_open = b, sympy.oo, op == ">", True
        return _interval(lo, hi, lo_open, hi_open, la == "abs")
    if len(ops) == 2 and all(op in ("<", "<=") for op in ops) and labels[1] and not labels[0] and not labels[2]:
        lo, hi = items[0], items[2]
        if _kind(lo) == "expr" and _kind(hi) == "expr" and lo.is_number and hi.is_number and lo.is_real and hi.is_real:
            return _interval(lo, hi, ops[0] == "<", ops[1] == "<", labels[1] == "abs")
    if len(ops) == 2 and all(op in (">", ">=") for op in ops) and labels[1] and not labels[0] and not labels[2]:
        hi, lo = items[0], items[2]
        if _kind(lo) == "expr" and _kind(hi) == "expr" and lo.is_number and hi.is_number and lo.is_real and hi.is_real:
            return _interval(lo, hi, ops[1] == ">", ops[0] == ">", labels[1] == "abs")
    return None


def _interval(lo: Any, hi: Any, lo_open: bool, hi_open: bool, of_abs: bool) -> Any:
    """The interval lo..hi of a variable, or of its absolute value (then the set of the variable itself)."""

    def group(a: Any, b: Any, a_open: bool, b_open: bool) -> tuple:
        return ("group", "(" if a_open or a == -sympy.oo else "[", ")" if b_open or b == sympy.oo else "]", (a, b))

    if not of_abs:
        return group(lo, hi, lo_open, hi_open)
    if hi.is_extended_negative or (hi == 0 and hi_open):
        return ("set", ())
    if lo.is_extended_negative or (lo == 0 and not lo_open):  # |z| <= hi: one interval around 0
        return group(-hi, hi, hi_open, hi_open)
    return ("union", (group(-hi, -lo, hi_open, lo_open), group(lo, hi, lo_open, hi_open)))


def _rel_equal(gold: Any, pred: Any, tol: Tolerance) -> bool:
    g_pair, p_pair = _assignment(gold), _assignment(pred)
    if g_pair is not None and p_pair is not None:
        same_label = g_pair[0] is None or p_pair[0] is None or g_pair[0] == p_pair[0]
        return same_label and values_equal(g_pair[1], p_pair[1], tol)
    if g_pair is not None and _kind(pred) != "rel":
        return values_equal(g_pair[1], pred, tol)
    if p_pair is not None and _kind(gold) != "rel":
        return values_equal(gold, p_pair[1], tol)
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
