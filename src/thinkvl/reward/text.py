"""Text normalisation shared by the short-answer verifiers.

Deliberately *not* a confusables map: NFKC folds compatibility forms (full-width digits, ligatures), but a
Cyrillic "А" stays distinct from a Latin "A", so look-alike characters can't be used to pass a string match.
"""

from __future__ import annotations

import re
import unicodedata

NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
}  # fmt: skip
ARTICLES = {"a", "an", "the"}
# Words that turn an answer into a hedge ("4 or 5", "about 3", "not sure"): short answers containing them fail.
HEDGES = {
    "or", "maybe", "perhaps", "possibly", "probably", "likely", "about", "around", "approximately", "approx",
    "roughly", "nearly", "almost", "between", "either", "unsure", "unknown", "guess",
}  # fmt: skip
_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]|_")
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox)\s*\{([^{}]*)\}")
_WRAPPERS = re.compile(r"^(?:\$+|\\\(|\\\[)|(?:\$+|\\\)|\\\])$")


def clean(text: str) -> str:
    """NFKC, drop invisible format characters (zero-width spaces, bidi marks), collapse whitespace."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACE.sub(" ", text).strip()


def unwrap(text: str) -> str:
    """Remove math delimiters and ``\\text{}`` wrappers a model may put around a short answer."""
    text = clean(text)
    if "$" not in text and "\\" not in text:
        return text
    for _ in range(3):
        text = _WRAPPERS.sub("", text).strip()
        text = _LATEX_TEXT.sub(r"\1", text)
        if text.startswith("\\boxed{") and text.endswith("}"):
            text = text[len("\\boxed{") : -1]
    return text.strip()


def normalize_answer(text: str) -> str:
    """VQA-style normal form: lower case, no punctuation or articles, number words as digits.

    >>> normalize_answer("The Two red CARS.")
    '2 red cars'
    """
    text = unwrap(text).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,000 -> 1000
    text = re.sub(r"(?<!\d)\.(?!\d)", " ", text)  # keep decimal points
    text = _PUNCT.sub(lambda m: m.group() if m.group() == "." else " ", text)
    words = [NUMBER_WORDS.get(w, w) for w in text.split() if w not in ARTICLES]
    return " ".join(words)


def has_hedge(text: str, gold: str = "") -> bool:
    """Whether a short answer hedges ("4 or 5", "probably 3") with words the ground truth itself lacks.

    >>> has_hedge("red or blue"), has_hedge("black or white", gold="Black or white")
    (True, False)
    """
    allowed = set(re.findall(r"[a-z]+", gold.lower()))
    return any(w in HEDGES and w not in allowed for w in re.findall(r"[a-z]+", text.lower()))


def token_f1(pred: str, gold: str) -> float:
    """Token-overlap F1 of two normalised answers (SQuAD style)."""
    p, g = pred.split(), gold.split()
    if not p or not g:
        return float(p == g)
    common: dict[str, int] = {}
    for w in g:
        common[w] = common.get(w, 0) + 1
    overlap = 0
    for w in p:
        if common.get(w, 0) > 0:
            overlap += 1
            common[w] -= 1
    if not overlap:
        return 0.0
    precision, recall = overlap / len(p), overlap / len(g)
    return 2 * precision * recall / (precision + recall)
