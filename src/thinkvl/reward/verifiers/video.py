"""Video: event timestamps (seconds, within a tolerance), event ordering, and short text answers.

- A numeric ground truth is a time in seconds. The answer may be ``12.5``, ``12.5s``, ``12 seconds``, ``0:12``
  or ``1:02:03``; it is correct within ``time_tolerance_s`` and, with ``time_decay_s`` > 0, earns a score falling
  linearly to 0 over that many further seconds.
- ``meta["video_task"] == "order"``: the ground truth is a comma-separated sequence ("red, green, blue"); the
  answer must list the same items (separated by commas, arrows, ">" or "then") in the same order. With
  ``order_partial`` the score is the share of item pairs in the right relative order (correct only if all are).
- Other answers are checked like short VQA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from thinkvl.reward.numbers import parse_number
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import normalize_answer, unwrap
from thinkvl.reward.verdict import Check
from thinkvl.reward.verifiers.vqa import VQAVerifier

_CLOCK = re.compile(r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2}(?:\.\d+)?)")
_ORDER_SPLIT = re.compile(r"\s*(?:,|;|->|→|=>|>|\bthen\b|\n)\s*", re.IGNORECASE)


@dataclass
class VideoOptions:
    time_tolerance_s: float = field(default=1.0, metadata={"help": "timestamp error still counted as correct"})
    time_decay_s: float = field(default=0.0, metadata={"help": "past the tolerance, score falls to 0 over this"})
    order_partial: bool = field(default=False, metadata={"help": "partial credit for ordering (pairwise order)"})

    def __post_init__(self) -> None:
        if self.time_tolerance_s < 0 or self.time_decay_s < 0:
            raise ValueError("video time_tolerance_s and time_decay_s must be >= 0")


def parse_seconds(text: str) -> float | None:
    """Seconds stated by a timestamp answer, or None.

    >>> parse_seconds("1:02:03"), parse_seconds("12.5 s"), parse_seconds("about 3")
    (3723.0, 12.5, None)
    """
    text = unwrap(text).strip().rstrip(".")
    m = _CLOCK.fullmatch(text)
    if m:
        hours, minutes, seconds = m.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
    num = parse_number(text)
    if num is None or num.percent:
        return None
    rest = re.sub(r"[\d.,\s+-]", "", text).lower()
    if rest not in ("", "s", "sec", "secs", "second", "seconds"):
        return None
    return float(num.value)


def order_items(text: str) -> list[str]:
    return [normalize_answer(item) for item in _ORDER_SPLIT.split(unwrap(text)) if normalize_answer(item)]


@register
class VideoVerifier(Verifier):
    name = "video"
    Options = VideoOptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        if meta.get("video_task") == "order" and not (isinstance(answer, str) and len(order_items(answer)) >= 2):
            return "an ordering answer is a comma-separated sequence of at least two items"
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float, list)):
            return "a video answer is a string, a number of seconds, or a list of accepted strings"
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        if meta.get("video_task") == "order":
            return self._order(pred, answer)
        if isinstance(answer, (int, float)):
            return self._time(pred, float(answer))
        return VQAVerifier().verify(pred, answer, meta, lenient=lenient)

    def _time(self, pred: str, gold: float) -> Check:
        t = parse_seconds(pred)
        if t is None:
            return Check(0.0, False, "no timestamp in the answer")
        err = abs(t - gold)
        tol, decay = self.options.time_tolerance_s, self.options.time_decay_s
        if err <= tol:
            return Check(1.0, True, f"off by {err:g}s")
        score = max(0.0, 1.0 - (err - tol) / decay) if decay else 0.0
        return Check(score, False, f"off by {err:g}s")

    def _order(self, pred: str, answer: str) -> Check:
        gold, got = order_items(answer), order_items(pred)
        if got == gold:
            return Check(1.0, True, "right order")
        if sorted(got) != sorted(gold) or len(set(gold)) != len(gold):
            return Check(0.0, False, "not the same items")
        if not self.options.order_partial:
            return Check(0.0, False, "wrong order")
        pos = {item: k for k, item in enumerate(got)}
        pairs = list(combinations(gold, 2))
        score = sum(pos[a] < pos[b] for a, b in pairs) / len(pairs)
        return Check(score, False, f"{score:.0%} of pairs in order")
