"""Answer extraction: the strict format gate used in RL, and a lenient reader for scoring other models.

Strict (RL): the response must be ``<think>…</think><answer>…</answer>`` with exactly one non-empty box inside the
answer (`thinkvl.model.chat.parse_response`); the answer is the box content and nothing else. The thinking is
never searched, so an answer that only appears there earns nothing.

Lenient (evaluation only, ``lenient: true``): looks after the last ``</think>`` (or in the whole text) for, in
order, the last ``<|begin_of_box|>…<|end_of_box|>``, the last ``\\boxed{…}``, the last "the answer is …" /
"Answer: …", and otherwise hands over the answer block (or the whole text) for the verifier to search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkvl.model import tokens as T
from thinkvl.model.chat import parse_response


@dataclass
class Extraction:
    answer: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def format_ok(self) -> bool:
        return not self.problems


def extract_strict(response: str, *, thinking: bool = True) -> Extraction:
    """The single box inside ``<answer>``, or None with the format problems found."""
    parsed = parse_response(response, thinking=thinking, require_box=True)
    if parsed.problems:
        return Extraction(None, list(parsed.problems))
    return Extraction(parsed.box)


_ANSWER_IS = re.compile(
    r"(?:final answer|answer)\s*(?:is\b|:|=|：)\s*(?P<ans>[^\n]+)",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_DECORATION = re.compile(r"\*\*|\$|\\text(?:bf)?\s*\{|\\[\[\]()]")


def _boxed_spans(text: str) -> list[tuple[int, str]]:
    """(start, content) of every ``\\boxed{…}`` with balanced braces."""
    out = []
    for m in _BOXED.finditer(text):
        depth = 1
        for k in range(m.end(), min(len(text), m.end() + 10_000)):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    out.append((m.start(), text[m.end() : k].strip()))
                    break
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{…}`` with balanced braces.

    >>> last_boxed("so \\\\boxed{\\\\frac{1}{2}} and \\\\boxed{3}")
    '3'
    """
    spans = _boxed_spans(text)
    return spans[-1][1] if spans else None


def _tidy(answer: str) -> str:
    """Drop markdown/LaTeX decoration around an "Answer: …" capture (``**B**``, ``\\text{Answer: C}``)."""
    answer = _DECORATION.sub("", answer).strip()
    while answer.endswith("}") and answer.count("}") > answer.count("{"):
        answer = answer[:-1].strip()
    return answer.strip().rstrip(".").strip()


def extract_lenient(response: str, *, thinking: bool = True) -> Extraction:
    """Best-effort answer of a response in any format; format problems are reported but do not gate."""
    parsed = parse_response(response, thinking=thinking, require_box=True)
    problems = list(parsed.problems)
    if parsed.format_ok:
        return Extraction(parsed.box)
    region = response.rsplit(T.THINK_CLOSE, 1)[-1]
    for stop in (*T.STOP_TOKENS, T.ANSWER_OPEN, T.ANSWER_CLOSE):
        region = region.replace(stop, " ")
    if T.BOX_CLOSE in region:
        head, _, _ = region.rpartition(T.BOX_CLOSE)
        if T.BOX_OPEN in head:
            box = head.rpartition(T.BOX_OPEN)[2].strip()
            if box:
                return Extraction(box, problems)
    region = region.replace(T.BOX_OPEN, " ").replace(T.BOX_CLOSE, " ")
    # The latest of the last \boxed{} and the last "answer is …" wins: a final "Answer: B" after a boxed number
    # is the model's choice.
    candidates = [(start, content) for start, content in _boxed_spans(region)[-1:] if content]
    matches = list(_ANSWER_IS.finditer(region))
    if matches:
        ans = _tidy(matches[-1].group("ans"))
        if ans:
            candidates.append((matches[-1].start(), ans))
    if candidates:
        return Extraction(max(candidates)[1], problems)
    region = region.strip()
    return Extraction(region or None, problems)
