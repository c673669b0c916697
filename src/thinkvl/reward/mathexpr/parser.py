"""Recursive-descent parser from tokens to a small tuple AST (no sympy, no eval).

Nodes: ``("num", "2.5")``, ``("sym", "x")``, ``("const", "pi"|"e"|"i"|"oo"|"empty")``, ``("add", (a, b))``,
``("neg", a)``, ``("pm", a, b)`` (a ± b), ``("mul", (a, b))``, ``("div", a, b)``, ``("pow", a, b)``,
``("fact", a)``, ``("pct", a)``, ``("func", name, arg, base)``, ``("sqrt", a, n)``, ``("binom", n, k)``,
``("abs", a)``; structures ``("group", open, close, items)`` (tuples, intervals), ``("set", items)``,
``("list", items)`` (a bare comma list), ``("ratio", items)`` (``a:b``), ``("rel", items, ops)``,
``("union", items)``, ``("matrix", rows)``.
Nesting depth is bounded, so deeply nested input is rejected instead of exhausting the stack.
"""

from __future__ import annotations

from typing import Any

from thinkvl.reward.mathexpr.lexer import MathSyntaxError, Tok, normalise, tokenize

MAX_DEPTH = 40
RELOPS = {"=", "<", ">", "<=", ">=", "!=", "~=", "in"}
Node = tuple[Any, ...]


def parse_math(text: str) -> Node:
    """Parse a math answer into an AST; raises MathSyntaxError with the reason.

    >>> parse_math("\\\\frac{1}{2}")
    ('div', ('num', '1'), ('num', '2'))
    >>> parse_math("x = 2")
    ('rel', (('sym', 'x'), ('num', '2')), ('=',))
    """
    return _Parser(tokenize(normalise(text))).top()


class _Parser:
    def __init__(self, toks: list[Tok]):
        self.t, self.i, self.depth = toks, 0, 0

    # -- token helpers ----------------------------------------------------------------------------------
    def peek(self) -> Tok:
        return self.t[self.i]

    def next(self) -> Tok:
        tok = self.t[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def is_op(self, *texts: str) -> bool:
        tok = self.t[self.i]
        return tok.kind == "op" and tok.text in texts

    def expect_op(self, text: str) -> None:
        tok = self.next()
        if not (tok.kind == "op" and tok.text == text):
            raise MathSyntaxError(f"expected {text!r}, found {tok.text or 'end of answer'!r}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise MathSyntaxError("expression nested too deeply")

    # -- grammar ----------------------------------------------------------------------------------------
    def top(self) -> Node:
        items = self.items(("end",))
        if self.peek().kind != "end":
            raise MathSyntaxError(f"unexpected {self.peek().text!r}")
        if not items:
            raise MathSyntaxError("empty answer")
        return items[0] if len(items) == 1 else ("list", tuple(items))

    def items(self, closers: tuple[str, ...]) -> list[Node]:
        """Comma/semicolon separated relations up to (not including) a closer."""
        if self._at_closer(closers):
            return []
        items = [self.relation()]
        while self.is_op(",", ";"):
            self.next()
            items.append(self.relation())
        return items

    def _at_closer(self, closers: tuple[str, ...]) -> bool:
        tok = self.peek()
        return tok.kind == "end" or (tok.kind == "op" and tok.text in closers)

    def relation(self) -> Node:
        if self.is_op("=", "~="):  # "= 5" / "≈ 5": a value with its left side left out
            self.next()
        items, ops = [self.ratio()], []
        while self.peek().kind == "op" and self.peek().text in RELOPS:
            op = self.next().text
            ops.append("=" if op == "~=" else op)
            items.append(self.ratio())
        return items[0] if not ops else ("rel", tuple(items), tuple(ops))

    def ratio(self) -> Node:
        items = [self.union()]
        while self.is_op(":"):
            self.next()
            items.append(self.union())
        return items[0] if len(items) == 1 else ("ratio", tuple(items))

    def union(self) -> Node:
        items = [self.sum()]
        while self.is_op("cup"):
            self.next()
            items.append(self.sum())
        return items[0] if len(items) == 1 else ("union", tuple(items))

    def sum(self) -> Node:
        terms = [self.term()]
        while self.is_op("+", "-", "pm", "mp"):
            op = self.next().text
            right = self.term()
            if op == "+":
                terms.append(right)
            elif op == "-":
                terms.append(("neg", right))
            else:
                left = terms[0] if len(terms) == 1 else ("add", tuple(terms))
                terms = [("pm", left, right)]
        return terms[0] if len(terms) == 1 else ("add", tuple(terms))

    def term(self) -> Node:
        node = self.unary()
        while True:
            if self.is_op("*", "/"):
                op = self.next().text
                right = self.unary()
                node = ("mul", (node, right)) if op == "*" else ("div", node, right)
            elif self._starts_implicit_factor():
                is_frac = self.peek().kind == "func" and self.peek().text == "frac"
                right = self.power()
                if is_frac and _is_int(node) and right[0] == "div" and _is_int(right[1]) and _is_int(right[2]):
                    node = ("add", (node, right))  # mixed number: 2\frac{1}{2} is 5/2
                else:
                    node = ("mul", (node, right))
            else:
                return node

    def _starts_implicit_factor(self) -> bool:
        tok = self.peek()
        return tok.kind in ("id", "func", "const") or (tok.kind == "op" and tok.text in ("(", "{"))

    def unary(self) -> Node:
        self.enter()
        try:
            if self.is_op("-"):
                self.next()
                return ("neg", self.unary())
            if self.is_op("+"):
                self.next()
                return self.unary()
            if self.is_op("pm", "mp"):
                self.next()
                return ("pm", ("num", "0"), self.unary())
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> Node:
        base = self.postfix()
        if self.is_op("^"):
            self.next()
            return ("pow", base, self.exponent())
        return base

    def exponent(self) -> Node:
        self.enter()
        try:
            if self.is_op("{"):
                return self.braced()
            if self.is_op("-"):
                self.next()
                return ("neg", self.exponent())
            if self.is_op("+"):
                self.next()
                return self.exponent()
            return self.power()
        finally:
            self.depth -= 1

    def postfix(self) -> Node:
        node = self.atom()
        while True:
            tok = self.peek()
            if tok.kind == "op" and tok.text == "!":
                self.next()
                node = ("fact", node)
            elif tok.kind == "op" and tok.text == "%":
                self.next()
                node = ("pct", node)
            elif tok.kind == "unit":
                self.next()
                if self.is_op("^") and self.t[self.i + 1].kind == "num":  # cm^2
                    self.i += 2
            else:
                return node

    def braced(self) -> Node:
        self.expect_op("{")
        items = self.items(("}",))
        self.expect_op("}")
        if len(items) != 1:
            raise MathSyntaxError("expected one expression in braces")
        return items[0]

    def arg(self) -> Node:
        """A command argument: ``{...}`` or a single token (``\\frac12`` is 1/2)."""
        tok = self.peek()
        if tok.kind == "op" and tok.text == "{":
            return self.braced()
        if tok.kind == "num" and len(tok.text) > 1 and tok.text[1] != ".":
            self.t[self.i] = Tok("num", tok.text[1:])
            return ("num", tok.text[0])
        return self.atom()

    def atom(self) -> Node:
        self.enter()
        try:
            return self._atom()
        finally:
            self.depth -= 1

    def _atom(self) -> Node:
        tok = self.next()
        kind, text = tok.kind, tok.text
        if kind == "num":
            return ("num", text)
        if kind == "const":
            return ("const", text)
        if kind == "id":
            return self.symbol(text)
        if kind == "func":
            return self.function(text)
        if kind == "env" and text.startswith("begin:"):
            return self.matrix(text[len("begin:") :])
        if kind == "text":
            raise MathSyntaxError(f"text {text!r} in a math answer")
        if kind == "op" and text in ("(", "["):
            items = self.items((")", "]"))
            close = self.next()
            if close.kind != "op" or close.text not in (")", "]"):
                raise MathSyntaxError(f"unclosed {text!r}")
            if len(items) == 1 and (text + close.text) in ("()", "[]"):
                return items[0]
            if not items:
                raise MathSyntaxError("empty brackets")
            return ("group", text, close.text, tuple(items))
        if kind == "op" and text in ("{", "\\{"):
            closer = "}" if text == "{" else "\\}"
            items = self.items((closer,))
            self.expect_op(closer)
            if text == "{" and len(items) == 1:
                return items[0]
            return ("set", tuple(items))
        if kind == "op" and text == "|":
            inner = self.sum()
            self.expect_op("|")
            return ("abs", inner)
        raise MathSyntaxError(f"unexpected {text or 'end of answer'!r}")

    def symbol(self, name: str) -> Node:
        if self.is_op("_"):
            self.next()
            sub = self.arg()
            if sub[0] not in ("num", "sym"):
                raise MathSyntaxError("subscripts must be a number or a letter")
            return ("sym", f"{name}_{sub[1]}")
        if name == "e":
            return ("const", "e")
        if name == "i":
            return ("const", "i")
        return ("sym", name)

    def function(self, name: str) -> Node:
        if name == "frac":
            return ("div", self.arg(), self.arg())
        if name == "binom":
            return ("binom", self.arg(), self.arg())
        if name == "sqrt":
            index = None
            if self.is_op("["):
                self.next()
                index = self.sum()
                self.expect_op("]")
            return ("sqrt", self.arg(), index)
        power = base = None
        if self.is_op("^"):
            self.next()
            power = self.exponent()
        if self.is_op("_"):
            self.next()
            base = self.arg()
        if self.is_op("(", "{"):
            argument = self.atom()
        else:
            argument = self.power()
        node: Node = ("func", name, argument, base)
        return ("pow", node, power) if power is not None else node

    def matrix(self, env: str) -> Node:
        if env not in ("pmatrix", "bmatrix", "Bmatrix", "matrix", "smallmatrix"):
            raise MathSyntaxError(f"unsupported environment {env!r}")
        rows, row = [], [self.sum()]
        while True:
            tok = self.next()
            if tok.kind == "op" and tok.text == "&":
                row.append(self.sum())
            elif tok.kind == "op" and tok.text == "\\\\":
                rows.append(tuple(row))
                if self.peek().kind == "env" and self.peek().text == f"end:{env}":
                    self.next()
                    break
                row = [self.sum()]
            elif tok.kind == "env" and tok.text == f"end:{env}":
                rows.append(tuple(row))
                break
            else:
                raise MathSyntaxError(f"malformed {env}")
        if len({len(r) for r in rows}) != 1:
            raise MathSyntaxError("matrix rows of different lengths")
        return ("matrix", tuple(rows))


def _is_int(node: Node) -> bool:
    return node[0] == "num" and node[1].isdigit()
