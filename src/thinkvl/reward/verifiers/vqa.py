"""Short VQA: normalised exact match against any accepted answer (optionally token F1); yes/no strictly.

Normal form: lower case, punctuation and articles dropped, number words as digits ("Two cars." = "2 cars").
A hedge ("red or blue", "probably red") fails unless the accepted answer itself contains that word; for a
yes/no question the answer must be exactly yes or no.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from thinkvl.reward.numbers import parse_number
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import has_hedge, normalize_answer, token_f1
from thinkvl.reward.verdict import Check


@dataclass
class VQAOptions:
    metric: Literal["exact", "f1"] = field(default="exact", metadata={"help": "exact match, or token F1 as score"})
    f1_correct: float = field(default=1.0, metadata={"help": "with metric f1: F1 at or above which it is correct"})

    def __post_init__(self) -> None:
        if self.metric not in ("exact", "f1"):
            raise ValueError(f"vqa metric must be 'exact' or 'f1', got {self.metric!r}")
        if not 0 < self.f1_correct <= 1:
            raise ValueError("vqa f1_correct must be in (0, 1]")


def accepted(answer: Any) -> list[str]:
    """The accepted answers of a str-or-list ground truth, as strings."""
    return [str(a) for a in (answer if isinstance(answer, list) else [answer])]


@register
class VQAVerifier(Verifier):
    name = "vqa"
    Options = VQAOptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        golds = answer if isinstance(answer, list) else [answer]
        if not golds or not all(isinstance(g, (str, int, float)) and not isinstance(g, bool) for g in golds):
            return "a VQA answer is a string (or number) or a list of accepted ones"
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        p = normalize_answer(pred)
        if not p:
            return Check(0.0, False, "empty answer")
        best, best_gold = 0.0, ""
        for gold in accepted(answer):
            g = normalize_answer(gold)
            if has_hedge(pred, gold):
                continue
            if g in ("yes", "no"):
                score = float(p == g)
            elif p == g:
                score = 1.0
            else:
                pn, gn = parse_number(pred), parse_number(gold)
                if pn is not None and gn is not None and pn.value == gn.value and pn.percent == gn.percent:
                    score = 1.0
                else:
                    score = token_f1(p, g) if self.options.metric == "f1" else 0.0
            if score > best:
                best, best_gold = score, gold
        threshold = 1.0 if self.options.metric == "exact" else self.options.f1_correct
        ok = best >= threshold
        return Check(best, ok, f"matches {best_gold!r}" if ok else f"best match score {best:.2f}")
