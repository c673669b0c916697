"""OCR: 1 − normalised edit distance (rapidfuzz Levenshtein) to the closest accepted transcription."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import clean, unwrap
from thinkvl.reward.verdict import Check


@dataclass
class OCROptions:
    case_sensitive: bool = field(default=False, metadata={"help": "compare letter case"})
    ignore_spaces: bool = field(default=False, metadata={"help": "drop all whitespace before comparing"})
    ignore_punctuation: bool = field(default=False, metadata={"help": "drop ASCII punctuation before comparing"})
    correct_threshold: float = field(default=1.0, metadata={"help": "similarity at or above which it is correct"})

    def __post_init__(self) -> None:
        if not 0 < self.correct_threshold <= 1:
            raise ValueError("ocr correct_threshold must be in (0, 1]")


@register
class OCRVerifier(Verifier):
    name = "ocr"
    Options = OCROptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        golds = answer if isinstance(answer, list) else [answer]
        if not golds or not all(isinstance(g, (str, int)) and not isinstance(g, bool) for g in golds):
            return "an OCR answer is a string or a list of accepted strings"
        return None

    def _norm(self, text: str) -> str:
        text = unwrap(text)
        if not self.options.case_sensitive:
            text = text.lower()
        if self.options.ignore_punctuation:
            text = text.translate(str.maketrans("", "", string.punctuation))
        if self.options.ignore_spaces:
            text = re.sub(r"\s+", "", text)
        return clean(text)

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        p = self._norm(pred)
        if not p:
            return Check(0.0, False, "empty transcription")
        golds = answer if isinstance(answer, list) else [answer]
        best = max(1.0 - Levenshtein.normalized_distance(p, self._norm(str(g))) for g in golds)
        ok = best >= self.options.correct_threshold
        return Check(best, ok, f"similarity {best:.3f}")
