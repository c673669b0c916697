"""Build sympy objects from the parser's AST with sympy's constructors, refusing numbers too large to compute.

Every power, factorial and binomial is size-checked *before* sympy evaluates it, so ``9^{9^{9^9}}`` or ``10^{10^6}!``
is a quick "too large" error rather than a worker stuck in big-integer arithmetic. Decimals become exact
rationals; whether any were written is tracked so the comparison knows to allow a tolerance.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy

from thinkvl.reward.mathexpr.lexer import MathSyntaxError
from thinkvl.reward.mathexpr.parser import Node

MAX_BITS = 300_000  # about 90,000 decimal digits: 2006! (19,000 digits) is fine, 9^(9^9) is not
MAX_FACTORIAL = 5_000
BIG_BITS = 256  # about 77 digits: the largest integer accepted inside a root, a fractional power or a function
MAX_ALTERNATIVES = 8  # ± can multiply alternatives; past this the answer is not a sane closed form
STRUCTURES = ("group", "set", "list", "rel", "union", "matrix", "ratio")

_FUNCS: dict[str, Any] = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan, "cot": sympy.cot, "sec": sympy.sec, "csc": sympy.csc,
    "arcsin": sympy.asin, "arccos": sympy.acos, "arctan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh,
    "tanh": sympy.tanh, "ln": sympy.log, "log": sympy.log, "exp": sympy.exp, "sqrt": sympy.sqrt,
}  # fmt: skip
_CONSTS = {"pi": sympy.pi, "e": sympy.E, "i": sympy.I, "oo": sympy.oo}


class Pct:
    """A percentage as written (``50%``): equal to 50 or to 0.5, whichever the other side means."""

    __slots__ = ("value",)

    def __init__(self, value: sympy.Expr):
        self.value = value

    def __repr__(self) -> str:
        return f"Pct({self.value})"


def build(node: Node) -> Any:
    """A comparable value: a sympy expression, a `Pct`, or a structure tuple with values inside."""
    kind = node[0]
    if kind in ("group", "set", "list", "union", "ratio"):
        items = tuple(build(item) for item in node[-1])
        return (kind, node[1], node[2], items) if kind == "group" else (kind, items)
    if kind == "rel":
        return ("rel", tuple(build(item) for item in node[1]), node[2], tuple(label_kind(item) for item in node[1]))
    if kind == "matrix":
        return ("matrix", tuple(tuple(_single(cell) for cell in row) for row in node[1]))
    if kind == "const" and node[1] == "empty":
        return ("set", ())
    if kind == "pct":
        alts = expr(node[1])
        values = tuple(Pct(a) for a in alts)
        return values[0] if len(values) == 1 else ("list", values)
    alts = expr(node)
    return alts[0] if len(alts) == 1 else ("list", alts)


def label_kind(node: Node) -> str:
    """``"label"`` for a name made of letters only (``x``, ``AB``, ``\\frac{NO}{BO}``, ``(p,q)``, ``V_1:V_2``,
    ``f(x)``), ``"abs"`` for ``|label|``, else ``""``: what may stand on the left of an assignment."""
    kind = node[0]
    if kind == "abs":
        return "abs" if label_kind(node[1]) == "label" else ""
    if kind == "sym":
        return "label"
    if kind in ("mul", "group", "ratio"):
        items = node[-1]
    elif kind == "div":
        items = (node[1], node[2])
    else:
        return ""
    return "label" if all(label_kind(item) == "label" for item in items) else ""


def _single(node: Node) -> sympy.Expr:
    alts = expr(node)
    if len(alts) != 1:
        raise MathSyntaxError("± inside a matrix")
    return alts[0]


def expr(node: Node) -> tuple[sympy.Expr, ...]:
    """The alternatives an expression node denotes (one, unless ± appears)."""
    kind = node[0]
    if kind in STRUCTURES or (kind == "const" and node[1] == "empty"):
        raise MathSyntaxError(f"a {kind} can't be used inside arithmetic")
    if kind == "num":
        f = Fraction(node[1])
        return (_checked(sympy.Rational(f.numerator, f.denominator)),)
    if kind == "sym":
        return (sympy.Symbol(node[1]),)
    if kind == "const":
        return (_CONSTS[node[1]],)
    if kind == "neg":
        return tuple(-a for a in expr(node[1]))
    if kind == "pm":
        out = []
        for a in expr(node[1]):
            for b in expr(node[2]):
                out += [_checked(a + b), _checked(a - b)]
        return _limit(tuple(dict.fromkeys(out)))
    if kind in ("add", "mul"):
        combos: list[tuple[sympy.Expr, ...]] = [()]
        for child in node[1]:
            combos = [c + (a,) for c in combos for a in expr(child)]
            _limit(combos)
        op = sympy.Add if kind == "add" else sympy.Mul
        return tuple(_checked(op(*c)) for c in combos)
    return _limit(tuple(_combine(kind, node, [expr(child) for child in _children(node)])))


def _children(node: Node) -> list[Node]:
    kind = node[0]
    if kind in ("div", "pow", "binom"):
        return [node[1], node[2]]
    if kind in ("fact", "pct", "abs"):
        return [node[1]]
    if kind == "sqrt":
        return [node[1]] if node[2] is None else [node[1], node[2]]
    if kind == "func":
        return [node[2]] if node[3] is None else [node[2], node[3]]
    raise MathSyntaxError(f"unsupported node {kind!r}")


def _combine(kind: str, node: Node, args: list[tuple[sympy.Expr, ...]]) -> list[sympy.Expr]:
    combos: list[tuple[sympy.Expr, ...]] = [()]
    for alts in args:
        combos = [c + (a,) for c in combos for a in alts]
        _limit(combos)
    return [_checked(_apply(kind, node, c)) for c in combos]


def _apply(kind: str, node: Node, a: tuple[sympy.Expr, ...]) -> sympy.Expr:
    if kind == "div":
        if a[1] == 0:
            raise MathSyntaxError("division by zero")
        return a[0] / a[1]
    if kind == "pow":
        return _pow(a[0], a[1])
    if kind == "fact":
        return _factorial(a[0])
    if kind == "pct":
        return a[0] / 100
    if kind == "abs":
        return sympy.Abs(a[0])
    if kind == "binom":
        _check_int_size(a[0], "binomial")
        _check_int_size(a[1], "binomial")
        return sympy.binomial(a[0], a[1])
    if kind == "sqrt":
        _refuse_big(a[0])
        if len(a) == 1:
            return sympy.sqrt(a[0])
        if a[1].is_Integer and a[1] > 0:
            return sympy.real_root(a[0], a[1])
        return _pow(a[0], 1 / a[1])
    if kind == "func":
        func = sympy.log if len(a) == 2 else _FUNCS[node[1]]
        if len(a) == 2 and node[1] not in ("log", "ln"):
            raise MathSyntaxError(f"\\{node[1]} takes no base")
        for x in a:
            _refuse_big(x)
        return func(*a)
    raise MathSyntaxError(f"unsupported node {kind!r}")


def _pow(base: sympy.Expr, exp: sympy.Expr) -> sympy.Expr:
    if base == 0 and exp.is_number and exp.is_negative:
        raise MathSyntaxError("division by zero")
    if exp.is_number:
        # sympy evaluates numeric powers eagerly, and distributes integer powers over a product's numeric
        # coefficient ((x/99)^n -> x^n / 99^n): size whatever number it would compute before it does.
        numeric = base if base.is_number else base.as_coeff_Mul()[0]
        if numeric not in (0, 1, -1) and _exponent_size(exp) * _magnitude_bits(numeric) > MAX_BITS:
            raise MathSyntaxError("number too large")
        if not exp.is_Integer:
            _refuse_big(base)
    return sympy.Pow(base, exp)


def _exponent_size(exp: sympy.Expr) -> float:
    if exp.is_Rational:
        return abs(int(exp.p)) // int(exp.q) + 1  # integer arithmetic: huge exponents don't fit a float
    if exp.is_real is False:
        return 0.0  # complex exponents stay unevaluated
    try:
        return abs(float(exp.evalf(15)))
    except (TypeError, ValueError):
        raise MathSyntaxError("exponent can't be sized") from None


def _refuse_big(x: sympy.Expr) -> None:
    """Roots, logs and trig of huge integers send sympy into factoring (primality tests on 1000-digit numbers)."""
    if any(max(int(r.p).bit_length(), int(r.q).bit_length()) > BIG_BITS for r in x.atoms(sympy.Rational)):
        raise MathSyntaxError("number too large inside a root, power or function")


def _magnitude_bits(x: sympy.Expr) -> int:
    """An upper bound on the bits of a number's parts (rationals exactly, other forms by their integers)."""
    if x.is_Rational:
        return max(int(x.p).bit_length(), int(x.q).bit_length(), 1)
    return 64 + sum(max(int(r.p).bit_length(), int(r.q).bit_length()) for r in x.atoms(sympy.Rational))


def _factorial(n: sympy.Expr) -> sympy.Expr:
    if n.is_number:
        if not n.is_Integer or n < 0:
            raise MathSyntaxError("factorial of a non-integer or negative number")
        if n > MAX_FACTORIAL:
            raise MathSyntaxError("factorial too large")
    return sympy.factorial(n)


def _check_int_size(n: sympy.Expr, what: str) -> None:
    if n.is_number and (not n.is_Integer or abs(n) > MAX_FACTORIAL):
        raise MathSyntaxError(f"{what} arguments must be integers up to {MAX_FACTORIAL}")


def _checked(x: sympy.Expr) -> sympy.Expr:
    if x.is_Rational and max(int(x.p).bit_length(), int(x.q).bit_length()) > MAX_BITS:
        raise MathSyntaxError("number too large")
    if x.has(sympy.zoo, sympy.nan):
        raise MathSyntaxError("undefined value (division by zero or similar)")
    return x


def _limit(alts: Any) -> Any:
    if len(alts) > MAX_ALTERNATIVES:
        raise MathSyntaxError("too many ± alternatives")
    return alts
