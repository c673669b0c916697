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
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")  # "(C). If a predator…": the answer is the first sentence
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
        ans = _tidy(_SENTENCE_END.split(matches[-1].group("ans"), 1)[0])
        if ans:
            candidates.append((matches[-1].start(), ans))
    if candidates:
        return Extraction(max(candidates)[1], problems)
    region = region.strip()
    return Extraction(region or None, problems)


# -- the final answer of free text (lenient only) -----------------------------------------------------------------
REFUSAL = re.compile(
    r"can\s*not be (?:answered|determined)|can'?t be (?:answered|determined)|cannot (?:answer|determine|tell|be sure)"
    r"|can'?t (?:answer|determine|tell|help|process)|unable to (?:answer|determine|tell)|not enough information"
    r"|(?:does not|doesn't|do not|don't) (?:provide|give|contain|have|show) (?:enough|sufficient) "
    r"(?:information|detail|data|context)"
    r"|insufficient information|impossible to (?:answer|determine|tell)|(?:i am|i'm) not able"
    r"|sorry,? (?:but )?i (?:can'?t|cannot|am unable|am not able)|none of the (?:options|choices|above|answers)",
    re.IGNORECASE,
)
CONCLUDES = re.compile(
    r"\b(?:therefore|thus|hence|so|in conclusion|consequently|the (?:correct |best |final )?(?:answer|option|choice)"
    r"|final answer)\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z*$\\(\d])|\n+")
_CODE = re.compile(r"```.*?(?:```|$)", re.S)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_VERB = re.compile(r"\s(?:is|are|was|were|equals|be|=|≈|of)\s", re.IGNORECASE)
_VALUE = re.compile(
    r"\$[^$]{1,80}\$|[-−+]?[$€£]?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s?%|\s?(?:percent|pct)\b)?"
    r"|[-−+]?\.\d+"
)


def sentences(text: str) -> list[str]:
    """The sentences of a free-text answer, code blocks removed (their printouts are not the answer)."""
    return [s.strip() for s in _SENTENCES.split(_CODE.sub(" ", text)) if s and s.strip()]


def conclusion(text: str) -> str:
    """The sentence that states the result: the last with "therefore"/"so"/"the answer"…, else the last one."""
    parts = sentences(text)
    concluding = [s for s in parts if CONCLUDES.search(s)]
    return concluding[-1] if concluding else (parts[-1] if parts else "")


def final_value(text: str) -> str | None:
    """The value a free-text chain of reasoning ends on, or None (a refusal, or no value stated).

    The sentence is the last concluding one that states a value ("Therefore, the range is 9 - 2 = **7 miles**."),
    else the one with the first bold value, else the first sentence stating one; in it, the value after the last
    "=" / "is", or its bold text. One candidate only: trying several would credit whichever happens to match.

    >>> final_value("The sides are 4 cm. So the perimeter is 4 + 4 + 4 + 4 = **16 cm**.")
    '16 cm'
    >>> final_value("There is not enough information to answer.") is None
    True
    """
    parts = sentences(text)
    if not parts or REFUSAL.search(conclusion(text)):
        return None
    stated = [s for s in parts if _VALUE.search(s)]
    chosen = next((s for s in reversed(stated) if CONCLUDES.search(s)), None)
    if chosen is None:
        chosen = next((s for s in stated if any(_VALUE.search(b) for b in _BOLD.findall(s))), None)
    if chosen is None:
        chosen = next((s for s in stated if _VERB.search(s)), None)
    if chosen is None:
        return None
    bold = [b for b in _BOLD.findall(chosen) if _VALUE.search(b)]
    verbs = list(_VERB.finditer(chosen))
    if bold:
        segment = bold[-1].strip()
    elif verbs:
        segment = chosen[verbs[-1].end() :].strip()
    else:  # no "is"/"=": only a sentence stating a single value counts
        values = _VALUE.findall(chosen)
        return _tidy(values[0]) if len(values) == 1 else None
    m = _VALUE.match(_ROUGHLY.sub("", segment, count=1))
    if m is None:
        return None
    unit = re.match(r"\s*([A-Za-z°]+)", _ROUGHLY.sub("", segment, count=1)[m.end() :])
    return _tidy(m.group() + (" " + unit.group(1) if unit and unit.group(1).lower() in _UNIT_WORDS else ""))


_ROUGHLY = re.compile(r"^(?:about|approximately|around|roughly|nearly|exactly|only|just|~)\s+", re.IGNORECASE)
_UNIT_WORDS = {"percent", "degrees", "°", "cm", "km", "inches", "feet", "foot", "yards", "miles", "years"}
