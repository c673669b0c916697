"""Multiple choice: the box names exactly one option, by letter or by the option's text.

Accepted: ``B``, ``(B)``, ``B.``, ``Option B``, ``B. <text of B>``, or ``<text of B>``. Naming several options
(``A, B``, ``A or B``, ``AB``, every option listed) is wrong, as is a letter whose text is another option's.
Letters are ASCII A–J only: a look-alike (Cyrillic ``В``) is not a letter. An option written as math matches by
math equivalence (``13^\\circ`` names the option ``13°``).

Records from public datasets may keep the options only in the question text: `options_from_question` reads
them from there; without any options a letter is checked as a letter.

With ``lenient`` (evaluation of other models) the letter is searched for in free text: the last "Answer: X" /
"the answer is (X)", else in the concluding sentence a "(X)", "option X" or exactly one option's text (whole
words; a one-word option must open the sentence). A refusal ("cannot be determined", "not enough information")
without a marked letter, or a text that names no option, is never credited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from thinkvl.data.record import CHOICE_LETTERS, choice_letter
from thinkvl.reward.extract import CONCLUDES, REFUSAL, conclusion
from thinkvl.reward.mathexpr import math_equal
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import normalize_answer, unwrap
from thinkvl.reward.verdict import Check

_LETTER_FORMS = re.compile(
    r"(?:option|choice|answer)?\s*[:：]?\s*[(\[]?\s*(?P<letter>[A-Ja-j])\s*[)\]]?\s*(?:[.:：)]\s*(?P<text>.*))?",
    re.IGNORECASE | re.S,
)
# Explicitly marked letters, strongest first; in each the last match is the final answer of the reasoning.
_ANSWER_LETTER = re.compile(
    r"answer\s*\**\s*(?:is|:|would be|should be)?\s*[:：]?\s*\**\s*(?:option|choice)?\s*\**\s*[(\[]?\$?\s*"
    r"([A-J])\b(?![a-z'’])",
    re.IGNORECASE,
)
_CONCLUSION_LETTER = (
    re.compile(r"\(([A-J])\)"),
    re.compile(r"\b(?:option|choice)\s*[(\[]?([A-J])\b(?![a-z'’])", re.IGNORECASE),
    re.compile(r"(?:^|\s)\**([A-J])\**[.)](?:\s|$)"),
)
# A text that starts with its letter: "B", "(B)", "B. 4.98 kJ", "A (since it fits best)" (not "A triangle…").
_LEADING_LETTER = re.compile(r"\s*[(\[]?\s*\**([A-J])\**\s*(?:[)\].:,]+(?:\s|$)|\s*\(|$)")
_TRAILING_JOINER = re.compile(r"(?:\s*(?:[,;?]|\bor\b|\band\b))+$")  # "(A) left or (B) right?"
_OPTION_MARK = re.compile(r"(?:^|(?<=\s))(?:\(([A-J])\)|([A-J])[.:)])\s+", re.MULTILINE)
# "at vertex C." names a point of the figure, not option C.
_NAMED_POINT = re.compile(
    r"\b(?:point|vertex|vertices|angle|side|line|segment|edge|triangle|circle|plane|region|row|column|panel|"
    r"figure|image|graph|bar|node|object|city|person|letter|label(?:led)?|marked)\W*$",
    re.IGNORECASE,
)
_DUPLICATES = "the text matches several options with the same text"


@dataclass
class ChoiceOptions:
    accept_text: bool = field(default=True, metadata={"help": "accept the option's text instead of its letter"})


@register
class ChoiceVerifier(Verifier):
    name = "choice"
    Options = ChoiceOptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        choices, letter = meta.get("choices"), choice_letter(answer)
        if choices is None:
            return None if letter else f"a multiple-choice answer is one letter A–J, got {answer!r}"
        if not isinstance(choices, list) or not 2 <= len(choices) <= len(CHOICE_LETTERS):
            return f"meta.choices must be a list of 2–{len(CHOICE_LETTERS)} options"
        if letter is None or letter not in CHOICE_LETTERS[: len(choices)]:
            return f"a multiple-choice answer is a letter A–{CHOICE_LETTERS[len(choices) - 1]}, got {answer!r}"
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        answer = choice_letter(answer)
        raw = meta.get("choices")
        choices = [str(c) for c in raw] if raw is not None else None
        letters, reason = self.read(pred, choices)
        if not letters and lenient:
            letters, reason = self.search(pred, choices)
        if len(letters) > 1 and reason == _DUPLICATES:
            ok = answer in letters  # identical option texts (a dataset quirk): either letter is that text
            return Check(float(ok), ok, "chose a duplicated option text")
        if len(letters) != 1:
            return Check(0.0, False, reason)
        letter = letters.pop()
        ok = letter == answer
        return Check(float(ok), ok, f"chose {letter}" + ("" if ok else f", expected {answer}"))

    def read(self, pred: str, choices: list[str] | None) -> tuple[set[str], str]:
        """The options a short answer names (strict: the whole answer must be one option).

        ``choices`` None means the options are unknown: only a letter can name one.
        """
        text = unwrap(pred).strip().rstrip(".").strip()
        if choices is None:
            m = _LETTER_FORMS.fullmatch(text)
            return ({m.group("letter").upper()}, "") if m else (set(), "no option letter named")
        valid = CHOICE_LETTERS[: len(choices)]
        verbatim = {CHOICE_LETTERS[k] for k, c in enumerate(choices) if unwrap(c).strip().rstrip(".") == text}
        # An option's exact text ("(b)" when the options are "(a)".."(e)") beats a letter reading, except a bare
        # capital letter, which names that option even when the options are themselves letters.
        if verbatim and self.options.accept_text and not re.fullmatch(r"[A-J]", text):
            return (verbatim, "") if len(verbatim) == 1 else (verbatim, _DUPLICATES)
        norm = normalize_answer(text)
        by_text = {CHOICE_LETTERS[k] for k, c in enumerate(choices) if normalize_answer(c) == norm and norm}
        m = _LETTER_FORMS.fullmatch(text)
        if m is not None:
            letter = m.group("letter").upper()
            rest = (m.group("text") or "").strip()
            if rest:
                if letter in valid and normalize_answer(rest) == normalize_answer(choices[valid.index(letter)]):
                    return {letter}, ""
                # "C. <text of C>" failed; maybe the whole thing is an option's text (e.g. "A. Lincoln").
                if len(by_text) == 1 and self.options.accept_text:
                    return by_text, ""
                return set(), "letter and option text disagree"
            if letter not in valid:
                return set(), f"{letter} is not one of the options {valid[0]}–{valid[-1]}"
            return {letter}, ""
        if self.options.accept_text and by_text:
            return (by_text, "") if len(by_text) == 1 else (by_text, _DUPLICATES)
        named = set(re.findall(r"(?<![A-Za-z])([A-J])(?![A-Za-z])", text)) & set(valid)
        texts = {normalize_answer(c) for c in choices}
        pieces = [normalize_answer(p) for p in re.split(r"[,;/]|\bor\b|\band\b", text)]
        if len(named) > 1 or re.fullmatch(r"[A-J]{2,}", text) or sum(p in texts for p in pieces if p) > 1:
            return set(), "several options named"
        if self.options.accept_text and len(text) <= 200:
            by_math = {CHOICE_LETTERS[k] for k, c in enumerate(choices) if c.strip() and math_equal(c, text)[0]}
            if len(by_math) == 1:
                return by_math, ""
        return set(), "no option named"

    def search(self, text: str, choices: list[str] | None) -> tuple[set[str], str]:
        """Lenient: the final clearly marked letter in free text, else the one option the conclusion names.

        Without a marked letter, a refusal anywhere, or a text naming no option, gives nothing.
        """
        valid = CHOICE_LETTERS[: len(choices)] if choices is not None else CHOICE_LETTERS
        refusals = REFUSAL.search(text)
        marked = [(m.start(), m.group(1).upper()) for m in _ANSWER_LETTER.finditer(text) if m.group(1) in valid]
        if marked:  # an explicit "the answer is (B)" is an answer, even when the text hedges around it
            return {max(marked)[1]}, "lenient answer letter"
        if refusals:
            return set(), "refused to answer"
        lead = _LEADING_LETTER.match(text)
        if lead and lead.group(1) in valid:
            return {lead.group(1)}, "lenient leading letter"
        last = conclusion(text)
        for pattern in _CONCLUSION_LETTER:
            found = [
                m.group(1).upper()
                for m in pattern.finditer(last)
                if m.group(1).upper() in valid and not _NAMED_POINT.search(last[: m.start(1)])
            ]
            if found:
                return {found[-1]}, "lenient letter in the conclusion"
        if choices is None:
            return set(), "no option letter found"
        mentioned = {CHOICE_LETTERS[k] for k, c in enumerate(choices) if _states(last, c)}
        if len(mentioned) == 1:
            return mentioned, "lenient option text in the conclusion"
        return set(), "several options in the conclusion" if mentioned else "no option found"


def _states(sentence: str, option: str) -> bool:
    """Whether a concluding sentence states this option's text. A one-word option ("No", "decrease") must open the
    sentence as its answer ("No, the car is larger."); longer or numeric ones may stand anywhere as whole words."""
    option = option.strip()
    if not option:
        return False
    if re.fullmatch(r"[^\W\d_]+", option):
        opener = CONCLUDES.sub("", sentence, count=1) if CONCLUDES.match(sentence) else sentence
        pattern = r"[\s,*]*(?:(?:definitely|clearly|certainly|simply)\s+)?" + re.escape(option) + r"\**\s*(?:[,.;:!]|$)"
        return re.match(pattern, opener, re.IGNORECASE) is not None
    return re.search(r"(?<!\w)" + re.escape(option) + r"(?!\w)", sentence, re.IGNORECASE) is not None


def options_from_question(question: str) -> list[str] | None:
    """The options written in a question's text (``(A) 3 (B) 4`` or lines ``A. 3`` / ``B. 4``), or None.

    The last run of consecutive marks starting at A counts, so a stray "A." earlier in the stem is skipped.

    >>> options_from_question("How many? (A) 3 (B) 4 (C) 5")
    ['3', '4', '5']
    """
    marks = [(m.start(), m.end(), m.group(1) or m.group(2)) for m in _OPTION_MARK.finditer(question)]
    best: list[tuple[int, int, str]] = []
    run: list[tuple[int, int, str]] = []
    for mark in marks:
        if mark[2] == "A":
            run = [mark]
        elif run and mark[2] == CHOICE_LETTERS[len(run)]:
            run.append(mark)
        else:
            continue
        if len(run) >= 2:
            best = list(run)
    if not best:
        return None
    options = []
    for k, (_, end, _) in enumerate(best):
        stop = best[k + 1][0] if k + 1 < len(best) else len(question)
        body = question[end:stop].split("\n", 1)[0] if k + 1 == len(best) else question[end:stop]
        options.append(_TRAILING_JOINER.sub("", " ".join(body.split())))
    return options if all(options) else None
