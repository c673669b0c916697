"""Read one number from a short answer: ``"1,234.5"``, ``"-3"``, ``"45%"``, ``"$12"``, ``"3 apples"``, ``"three"``.

A number followed by a few unit words is accepted (units are stripped); a second number, a hedge word
("4 or 5", "about 3") or anything that is not a unit makes the answer unreadable, so it scores as wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from thinkvl.reward.text import HEDGES, NUMBER_WORDS, unwrap

_NUM = re.compile(
    r"(?P<cur>[$€£¥])?\s*(?P<sign>[+-])?\s*(?P<cur2>[$€£¥])?\s*"
    r"(?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:\s*/\s*(?P<den>\d+))?"
    r"(?:[eE](?P<exp>[+-]?\d{1,3}))?"
    r"\s*(?P<pct>%|\\%|percent\b)?"
    r"(?P<rest>.*)",
    re.S,
)
# At most four unit words ("km/h", "°C", "square meters"), separated by spaces: no ambiguous repetition.
_UNITS = re.compile(r"\s*(?:(?:[^\W\d_]|[°²³/])+\.?(?:\s+(?:[^\W\d_]|[°²³/])+\.?){0,3})?\s*")
_MAX_DIGITS = 60
_DIGIT_LOOKALIKES = {"O", "o", "l", "I", "Z", "S", "B", "OO", "Oo", "oo", "lO", "Ol", "ll"}


@dataclass(frozen=True)
class Num:
    value: Fraction
    percent: bool = False  # written with a percent sign
    decimals: int = 0  # digits after the decimal point as written


def parse_number(text: str) -> Num | None:
    """The single number a short answer states, or None when it states none or several.

    >>> parse_number("1,234.50 dollars")
    Num(value=Fraction(2469, 2), percent=False, decimals=2)
    >>> parse_number("4 or 5") is None
    True
    """
    text = unwrap(text).replace("\u2212", "-").replace("\\%", "%").rstrip(".").strip()
    word = text.lower().split(" ", 1)
    if word[0] in NUMBER_WORDS:
        text = NUMBER_WORDS[word[0]] + (" " + word[1] if len(word) > 1 else "")
    m = _NUM.fullmatch(text)
    if m is None or len(m.group("num")) > _MAX_DIGITS:
        return None
    rest = m.group("rest")
    if rest[:1].isalpha() and rest.split(" ", 1)[0] in _DIGIT_LOOKALIKES:
        return None  # "1O", "1l": a letter posing as a digit, not a unit
    if len(rest) > 40 or not _UNITS.fullmatch(rest) or any(w in HEDGES for w in re.findall(r"[a-z]+", rest.lower())):
        return None
    digits = m.group("num").replace(",", "")
    value = Fraction(digits)
    if m.group("den"):
        if int(m.group("den")) == 0 or "." in digits:
            return None
        value /= int(m.group("den"))
    if m.group("exp"):
        value *= Fraction(10) ** int(m.group("exp"))
    if m.group("sign") == "-":
        value = -value
    decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
    return Num(value, percent=bool(m.group("pct")), decimals=decimals)
