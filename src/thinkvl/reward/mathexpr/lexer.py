"""Tokenise a math answer (LaTeX or plain text) into a short, closed vocabulary of tokens.

The tokenizer is the safety boundary of the math verifier: everything downstream sees only numbers, single-letter
symbols, known function/constant names and operators. Unknown commands and English words (other than known units)
are errors, so "4 or 5", "a number between 0 and 10" or "\\input{...}" never reach an expression.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_TOKENS = 600
MAX_LITERAL_DIGITS = 400


class MathSyntaxError(ValueError):
    """The text is not a math answer this parser understands (the reason says why)."""


@dataclass(frozen=True)
class Tok:
    kind: str  # num, id, func, const, op, unit, text, env, end
    text: str


FUNCS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "log", "ln", "lg", "exp", "sqrt",
}  # fmt: skip
GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}  # fmt: skip
UNITS = {
    "cm", "mm", "km", "m", "nm", "kg", "mg", "g", "lb", "lbs", "oz", "s", "sec", "secs", "second", "seconds",
    "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour", "hours", "day", "days", "week", "weeks",
    "month", "months", "year", "years", "yr", "yrs", "degree", "degrees", "deg", "dollar", "dollars", "cent",
    "cents", "unit", "units", "meter", "meters", "metre", "metres", "inch", "inches", "foot", "feet", "ft",
    "yard", "yards", "mile", "miles", "mph", "kmh", "liter", "liters", "litre", "litres", "ml", "mL", "L",
    "sq", "square", "cubic", "radians", "rad", "people", "students", "times", "ways", "items",
    "points", "pounds", "euros", "yuan", "rupees", "volts", "V", "W", "J", "N", "Pa", "kPa", "Hz",
}  # fmt: skip
# Commands that are pure layout.
SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle", "left", "right", "big", "Big",
           "bigl", "bigr", "Bigl", "Bigr", "limits", "boxed", "fbox", "$"}  # fmt: skip
OPERATORS = {
    "cdot": "*", "times": "*", "div": "/", "pm": "pm", "mp": "mp", "le": "<=", "leq": "<=", "leqslant": "<=",
    "ge": ">=", "geq": ">=", "geqslant": ">=", "ne": "!=", "neq": "!=", "lt": "<", "gt": ">", "approx": "~=",
    "cup": "cup", "cap": "cap", "in": "in", "%": "%", "{": "\\{", "}": "\\}", "|": "|", "vert": "|", "mid": "|",
    "lvert": "|", "rvert": "|", "\\": "\\\\", "&": "&", "to": "->", "rightarrow": "->",
}  # fmt: skip
CONSTS = {
    "pi": "pi",
    "oo": "oo",
    "infty": "oo",
    "infinity": "oo",
    "inf": "oo",
    "emptyset": "empty",
    "varnothing": "empty",
}
FRACS = {"frac": "frac", "dfrac": "frac", "tfrac": "frac", "cfrac": "frac", "binom": "binom", "dbinom": "binom",
         "tbinom": "binom", "sqrt": "sqrt"}  # fmt: skip
TEXTLIKE = {"text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mathit", "mbox", "operatorname", "rm", "bf"}

_SUPER = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_SUB = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_SYMBOLS = {
    "−": "-", "–": "-", "×": r"\times ", "·": r"\cdot ", "⋅": r"\cdot ", "÷": r"\div ", "√": r"\sqrt ",
    "π": r"\pi ", "∞": r"\infty ", "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "±": r"\pm ", "∓": r"\mp ",
    "∪": r"\cup ", "∩": r"\cap ", "∈": r"\in ", "≈": r"\approx ", "∅": r"\emptyset ", "°": r" \degree ",
    "α": r"\alpha ", "β": r"\beta ", "γ": r"\gamma ", "δ": r"\delta ", "θ": r"\theta ", "λ": r"\lambda ",
    "μ": r"\mu ", "σ": r"\sigma ", "φ": r"\phi ", "ω": r"\omega ",
}  # fmt: skip
_SYMBOL_RE = re.compile("|".join(map(re.escape, _SYMBOLS)))
_SUPER_RE = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUB_RE = re.compile("[₀₁₂₃₄₅₆₇₈₉]+")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?")
_THOUSANDS_RE = re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>\d+(?:\.\d+)?|\.\d+)"
    r"|(?P<cmd>\\(?:[A-Za-z]+|.))"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<op>\*\*|<=|>=|!=|==|=<|=>|->|[-+*/^_()\[\]{}|,;=<>!%&:'])"
)
_BRACED = re.compile(r"\s*\{([^{}]*)\}")
HEDGES = {"not", "maybe", "about", "around", "approximately", "approx", "roughly", "nearly", "to"}
# Words that separate the items of a list of solutions ("x = 1 or x = 2", "12 and 13"). A list never equals a
# single value, so "4 or 5" still fails against 4.
SEPARATORS = {"or", "and"}
PERCENT_WORDS = {"percent", "pct"}
# Spacing between two bracketed items is a separator: "(1,2)\ (3,4)" lists two pairs.
_GROUP_GAP = re.compile(r"(?<=[)\]])\s*(?:\\ |\\q?quad\b|\\;)+\s*(?=[(\[])")
_PER_CENT = re.compile(r"\bper\s+cent\b")


def normalise(text: str) -> str:
    """Map Unicode math to LaTeX commands, fold compatibility forms, drop math delimiters."""
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _SUPER_RE.sub(lambda m: "^{" + m.group().translate(_SUPER) + "}", text)
    text = _SUB_RE.sub(lambda m: "_{" + m.group().translate(_SUB) + "}", text)
    text = _SYMBOL_RE.sub(lambda m: _SYMBOLS[m.group()], text)
    text = unicodedata.normalize("NFKC", text)
    text = _DEGREE_RE.sub(r" \\degree ", text)
    text = re.sub(r"(?<=\d)(?:\{,\}|\\,|\\!|\\ )(?=\d{3})", "", text)  # 1{,}000 and 1\,000
    text = _GROUP_GAP.sub(", ", text)
    text = _PER_CENT.sub("percent", text)
    text = text.replace("\\(", " ").replace("\\)", " ").replace("\\[", " ").replace("\\]", " ").replace("$", " ")
    text = text.strip().rstrip(".").strip()
    if _THOUSANDS_RE.fullmatch(text):
        text = text.replace(",", "")
    return text


def tokenize(text: str) -> list[Tok]:
    """Tokens of a normalised answer, ending with an ``end`` token; raises MathSyntaxError."""
    out: list[Tok] = []
    pos, n = 0, len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:
            raise MathSyntaxError(f"unexpected character {text[pos]!r}")
        pos = m.end()
        kind, value = m.lastgroup, m.group()
        if kind == "ws":
            continue
        if kind == "num":
            if len(value) > MAX_LITERAL_DIGITS:
                raise MathSyntaxError("number literal too long")
            out.append(Tok("num", value))
        elif kind == "word":
            out.extend(_word(value))
        elif kind == "op":
            out.append(Tok("op", {"**": "^", "==": "=", "=<": "<=", "=>": ">="}.get(value, value)))
        else:
            pos = _command(value[1:], text, pos, out)
        if len(out) > MAX_TOKENS:
            raise MathSyntaxError("expression too long")
    out.append(Tok("end", ""))
    return out


def _word(word: str) -> list[Tok]:
    if word in FUNCS:
        return [Tok("func", word)]
    if word in CONSTS:
        return [Tok("const", CONSTS[word])]
    if word == "in":
        return [Tok("op", "in")]
    if word.lower() in SEPARATORS:
        return [Tok("op", ",")]
    if word.lower() in PERCENT_WORDS:
        return [Tok("op", "%")]
    if len(word) > 1 and word in UNITS:
        return [Tok("unit", word)]
    if word.lower() in HEDGES or len(word) > 3:
        raise MathSyntaxError(f"word {word!r} in a math answer")
    # A short run of letters in plain text is a product of single-letter symbols: "xy" is x*y.
    return [Tok("id", ch) for ch in word]


def _command(name: str, text: str, pos: int, out: list[Tok]) -> int:
    """Append the token(s) of ``\\name``; returns the new position (commands may consume an argument)."""
    if name in SPACING:
        # \left. and \right. are invisible delimiters
        return pos + 1 if name in ("left", "right") and text.startswith(".", pos) else pos
    if name in OPERATORS:
        out.append(Tok("op", OPERATORS[name]))
    elif name in FUNCS:
        out.append(Tok("func", name))
    elif name in CONSTS:
        out.append(Tok("const", CONSTS[name]))
    elif name in GREEK:
        out.append(Tok("id", name))
    elif name in FRACS:
        out.append(Tok("func", FRACS[name]))
    elif name in ("degree", "circ"):
        out.append(Tok("unit", "degree"))
    elif name in ("begin", "end"):
        m = _BRACED.match(text, pos)
        if m is None:
            raise MathSyntaxError(f"\\{name} without an environment name")
        out.append(Tok("env", f"{name}:{m.group(1).strip()}"))
        return m.end()
    elif name in TEXTLIKE:
        m = _BRACED.match(text, pos)
        if m is None:
            if name in ("rm", "bf"):
                return pos
            raise MathSyntaxError(f"\\{name} without a braced argument")
        out.extend(_text_arg(name, m.group(1).strip()))
        return m.end()
    else:
        raise MathSyntaxError(f"unsupported command \\{name}")
    return pos


def _text_arg(command: str, content: str) -> list[Tok]:
    """\\text{cm} is a unit, \\mathrm{x} a symbol, \\operatorname{sin} a function; other text is kept as text."""
    if not content:
        return []
    if command == "operatorname" and content in FUNCS:
        return [Tok("func", content)]
    if command in ("mathrm", "mathbf", "mathit", "rm", "bf") and re.fullmatch(r"[A-Za-z]", content):
        return [Tok("id", content)]
    words = re.findall(r"[A-Za-z]+", content)
    if content.lower() in PERCENT_WORDS:
        return [Tok("op", "%")]
    if re.search(r"\d", content):  # \text{28 percent}: math written inside text (no braces, so this is bounded)
        inner = tokenize(content)[:-1]
        if all(t.kind in ("num", "unit", "op") for t in inner):
            return inner
    if words and all(w in UNITS or w == "per" for w in words) and re.fullmatch(r"[A-Za-z\s/^0-9.]+", content):
        return [Tok("unit", content)]
    if content.lower() in (",", *SEPARATORS):
        return [Tok("op", ",")]
    return [Tok("text", content)]
