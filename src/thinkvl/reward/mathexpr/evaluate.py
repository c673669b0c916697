"""Evaluate a sympy expression tree at a point: exact Fractions where possible, else 40-digit mpmath.

Walking ``expr.args`` directly is about 50x faster than ``xreplace``/``evalf``, which run sympy's assumption
system at every node; speed matters because every math rollout is compared at several points.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import sympy

PREC = 40
MAX_INT_EXPONENT = 4096  # exact powers past this go through mpmath (bounded size)
MAX_MAG = 100_000  # values beyond 2^±100000 are not compared numerically: mpmath's cost grows with their size


class Undefined(ValueError):
    """No finite value at this point (pole, log of zero, unsupported node)."""


Value = Fraction | mpmath.mpc | mpmath.mpf

_FUNCS: dict[type, Any] = {
    sympy.sin: mpmath.sin, sympy.cos: mpmath.cos, sympy.tan: mpmath.tan, sympy.cot: mpmath.cot,
    sympy.sec: mpmath.sec, sympy.csc: mpmath.csc, sympy.asin: mpmath.asin, sympy.acos: mpmath.acos,
    sympy.atan: mpmath.atan, sympy.sinh: mpmath.sinh, sympy.cosh: mpmath.cosh, sympy.tanh: mpmath.tanh,
    sympy.exp: mpmath.exp, sympy.Abs: abs,
}  # fmt: skip


def evaluate(e: sympy.Expr, env: dict[sympy.Symbol, Fraction]) -> Value:
    """The value of ``e`` with symbols bound by ``env``; raises Undefined."""
    with mpmath.workdps(PREC):
        try:
            return _ev(e, env)
        except (ZeroDivisionError, OverflowError, ValueError, TypeError) as err:
            raise Undefined(str(err)) from None


def to_mp(v: Value) -> Any:
    return mpmath.mpf(v.numerator) / v.denominator if isinstance(v, Fraction) else v


def _ev(e: Any, env: dict) -> Value:
    if e.is_Rational:
        return Fraction(int(e.p), int(e.q))
    if e.is_Symbol:
        if e not in env:
            raise Undefined(f"unbound symbol {e}")
        return env[e]
    if e is sympy.pi:
        return +mpmath.pi
    if e is sympy.E:
        return +mpmath.e
    if e is sympy.I:
        return mpmath.mpc(0, 1)
    if e.is_Add:
        total: Value = Fraction(0)
        for a in e.args:
            total = _add(total, _ev(a, env))
        return total
    if e.is_Mul:
        prod: Value = Fraction(1)
        for a in e.args:
            prod = _mul(prod, _ev(a, env))
        return prod
    if e.is_Pow:
        return _pow(_ev(e.args[0], env), e.args[1], env)
    if isinstance(e, sympy.log):
        x = to_mp(_ev(e.args[0], env))
        if x == 0:
            raise Undefined("log of zero")
        return mpmath.log(x)
    if isinstance(e, sympy.factorial):
        n = _ev(e.args[0], env)
        if isinstance(n, Fraction) and n.denominator == 1 and 0 <= n <= 5000:
            return Fraction(sympy.factorial(int(n)))
        return mpmath.gamma(_small(to_mp(n), 5000) + 1)
    if isinstance(e, sympy.binomial):
        return _bounded(mpmath.binomial(_small(to_mp(_ev(e.args[0], env)), 5000), to_mp(_ev(e.args[1], env))))
    fn = _FUNCS.get(type(e)) or _FUNCS.get(e.func)
    if fn is not None and len(e.args) == 1:
        # exp of a big argument is huge; sin/cos of a huge one need precision in proportion to its size.
        return _bounded(fn(_small(to_mp(_ev(e.args[0], env)), 1e4 if fn is mpmath.exp else 1e30)))
    raise Undefined(f"can't evaluate {type(e).__name__}")


def _small(x: Any, limit: float) -> Any:
    if abs(x) > limit:
        raise Undefined("argument too large to evaluate")
    return x


def _bounded(x: Any) -> Any:
    if x != 0 and abs(mpmath.mag(x)) > MAX_MAG:
        raise Undefined("value too large to compare")
    return x


def _add(a: Value, b: Value) -> Value:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a + b
    return to_mp(a) + to_mp(b)


def _mul(a: Value, b: Value) -> Value:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a * b
    return to_mp(a) * to_mp(b)


def _pow(base: Value, exp_expr: Any, env: dict) -> Value:
    if exp_expr.is_Integer and isinstance(base, Fraction) and abs(int(exp_expr)) <= MAX_INT_EXPONENT:
        n = int(exp_expr)
        if base == 0 and n < 0:
            raise Undefined("division by zero")
        return base**n
    exp = to_mp(_ev(exp_expr, env))
    b = to_mp(base)
    if b == 0:
        if mpmath.re(exp) <= 0:
            raise Undefined("0 to a non-positive power")
        return mpmath.mpf(0)
    if abs(exp) * max(1, abs(mpmath.mag(b))) > MAX_MAG:  # the result's size, estimated before computing it
        raise Undefined("power too large to compare")
    if exp_expr.is_Rational and mpmath.im(b) == 0 and b < 0:
        return _bounded(mpmath.power(mpmath.mpc(b), exp))  # principal complex root, like sympy
    return _bounded(mpmath.power(b, exp))
