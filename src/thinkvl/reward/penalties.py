"""Penalties for degenerate output: repetition, a looping tail, mixed languages, over-length.

Each returns a value in score units (0 = none); the verdict reports every non-zero one by name. They apply to
right and wrong answers alike, so a policy can't trade a loop for a correct box.
"""

from __future__ import annotations

import re

from thinkvl.model import tokens as T
from thinkvl.reward.config import PenaltyConfig

_WORD = re.compile(r"[^\W\d_]+|\d+|[\u3400-\u9fff\uf900-\ufaff]", re.UNICODE)
_CJK_ANY = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ALNUM = re.compile(r"[^\W_]")
_SCAN_CHARS = 100_000  # penalties read at most this much of the tail: the cost stays bounded
_CJK_RUN = r"[\u3400-\u9fff\u3040-\u30ff，。、；：！？]{{{n},}}"
# Words separated by spaces/punctuation only: the classes are disjoint, so matching stays linear.
_ENGLISH_RUN = r"(?:[A-Za-z]{{2,}}[\s,.;:'\"!?()\-]+){{{n}}}[A-Za-z]{{2,}}"


def repetition(text: str, n: int, threshold: float) -> float:
    """Severity in [0, 1] of repeated word n-grams beyond ``threshold`` (CJK characters count as words)."""
    text = text[-_SCAN_CHARS:]
    # Whitespace words are enough for Latin text (and 6x faster); CJK has no spaces, so split per character.
    words = _WORD.findall(text) if _CJK_ANY.search(text) else text.split()
    if len(words) < n * 4:
        return 0.0
    total = len(words) - n + 1
    repeated = 1.0 - len(set(zip(*(words[k:] for k in range(n))))) / total
    if repeated <= threshold:
        return 0.0
    return min(1.0, (repeated - threshold) / (1.0 - threshold))


def looping_tail(text: str, min_repeats: int, max_period: int = 400) -> bool:
    """Whether the response ends with a span repeated ``min_repeats`` times back to back (a generation loop).

    >>> looping_tail("Let me check. " + "So x = 3, wait. " * 5, 4)
    True
    """
    tail = text.rstrip()[-max_period * min_repeats :]
    n = len(tail)
    if n < 4 * min_repeats:
        return False
    # Only periods at which the last character recurs can be loop periods: walk back through its occurrences.
    pos = n - 1
    while (pos := tail.rfind(tail[-1], 0, pos)) >= 0:
        period = n - 1 - pos
        if period * min_repeats > n:
            return False
        unit = tail[-period:]
        if period >= 4 and unit == tail[-2 * period : -period] and tail.endswith(unit * min_repeats):
            if _ALNUM.search(unit):
                return True
    return False


def mixed_language(text: str, min_run: int) -> bool:
    """Whether the text holds both a long CJK passage and a long English passage (``min_run`` chars / words).

    >>> zh, en = "我们先计算这个三角形的面积然后求高度。", " Then we compute the height of the triangle here"
    >>> mixed_language(zh + en, 8), mixed_language(zh, 8)
    (True, False)
    """
    text = text[-_SCAN_CHARS:]
    if not re.search(_CJK_RUN.format(n=min_run), text):
        return False
    english = _ENGLISH_RUN.format(n=min_run - 1)
    return re.search(english, text) is not None


def overlength(length: int, max_len: int, buffer: int) -> float:
    """Severity in [0, 1]: 0 up to ``max_len - buffer``, rising linearly to 1 at ``max_len`` (DAPO-style)."""
    if length >= max_len:
        return 1.0
    start = max_len - buffer
    if length <= start or buffer == 0:
        return 0.0
    return (length - start) / buffer


def penalties(text: str, cfg: PenaltyConfig) -> dict[str, float]:
    """Every non-zero penalty of a response, by name, in score units."""
    out: dict[str, float] = {}
    if cfg.repetition_weight:
        severity = repetition(text, cfg.repetition_ngram, cfg.repetition_threshold)
        if severity:
            out["repetition"] = round(cfg.repetition_weight * severity, 6)
    # A loop cut by forced answering sits at the end of the thinking, not of the response.
    thought = text.rsplit(T.THINK_CLOSE, 1)[0].replace(T.END_OF_SOLUTION, "") if T.THINK_CLOSE in text else ""
    if cfg.loop_weight and any(looping_tail(part, cfg.loop_min_repeats) for part in (text, thought) if part):
        out["looping_tail"] = cfg.loop_weight
    if cfg.mixed_language_weight and mixed_language(text, cfg.mixed_language_min_run):
        out["mixed_language"] = cfg.mixed_language_weight
    if cfg.overlength_weight:
        severity = overlength(len(text), cfg.max_chars, cfg.overlength_buffer)
        if severity:
            out["overlength"] = round(cfg.overlength_weight * severity, 6)
    return out
