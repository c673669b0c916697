"""Multiple choice: the box names exactly one option, by letter or by the option's text.

Accepted: ``B``, ``(B)``, ``B.``, ``Option B``, ``B. <text of B>``, or ``<text of B>``. Naming several options
(``A, B``, ``A or B``, ``AB``, every option listed) is wrong, as is a letter whose text is another option's.
Letters are ASCII A–J only: a look-alike (Cyrillic ``В``) is not a letter. With ``lenient`` (evaluation of other
models) the letter is searched for in free text: "Answer: X", "the answer is (X)", a lone "(X)", an option text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from thinkvl.data.record import CHOICE_LETTERS
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import normalize_answer, unwrap
from thinkvl.reward.verdict import Check

_LETTER_FORMS = re.compile(
    r"(?:option|choice|answer)?\s*[:：]?\s*[(\[]?\s*(?P<letter>[A-Ja-j])\s*[)\]]?\s*(?:[.:：)]\s*(?P<text>.*))?",
    re.IGNORECASE | re.S,
)
_LENIENT_PATTERNS = (
    re.compile(r"answer\s*(?:is|:)?\s*[:：]?\s*\**\s*\(?\$?\s*([A-J])\b(?![a-z'])", re.IGNORECASE),
    re.compile(r"\(([A-J])\)"),
    re.compile(r"(?:^|\s)([A-J])[.)](?:\s|$)"),
    re.compile(r"(?:^|\s)([A-J])(?:\s|$)"),
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
        choices = meta.get("choices")
        if not isinstance(choices, list) or not 2 <= len(choices) <= len(CHOICE_LETTERS):
            return f"multiple choice needs meta.choices, a list of 2–{len(CHOICE_LETTERS)} options"
        if not (isinstance(answer, str) and answer in CHOICE_LETTERS[: len(choices)]):
            return f"a multiple-choice answer is a letter A–{CHOICE_LETTERS[len(choices) - 1]}, got {answer!r}"
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        choices = [str(c) for c in meta["choices"]]
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

    def read(self, pred: str, choices: list[str]) -> tuple[set[str], str]:
        """The options a short answer names (strict: the whole answer must be one option)."""
        text = unwrap(pred).strip().rstrip(".").strip()
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
        return set(), "no option named"

    def search(self, text: str, choices: list[str]) -> tuple[set[str], str]:
        """Lenient: the last clearly marked letter in free text, else a uniquely mentioned option text."""
        valid = CHOICE_LETTERS[: len(choices)]
        for pattern in _LENIENT_PATTERNS:
            found = [(m.start(), m.group(1).upper()) for m in pattern.finditer(text) if m.group(1).upper() in valid]
            if found:
                return {max(found)[1]}, "lenient letter"
        low = text.lower()
        mentioned = {CHOICE_LETTERS[k] for k, c in enumerate(choices) if str(c).strip() and str(c).lower() in low}
        if len(mentioned) == 1:
            return mentioned, "lenient option text"
        return set(), "no option found"
