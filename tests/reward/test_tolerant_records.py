"""Records as public datasets write them: counts as digit strings, letters whose options live in the question."""

from __future__ import annotations

import pytest

from thinkvl.data.record import Record, RecordError, choice_letter, count_value
from thinkvl.reward import RewardError
from thinkvl.reward.verifiers.choice import ChoiceVerifier, options_from_question
from thinkvl.reward.verifiers.counting import CountingVerifier


def _record(domain: str, answer, question: str = "How many?", meta: dict | None = None) -> Record:
    msg = [{"role": "user", "content": [{"type": "text", "text": question}]}]
    return Record(id="r1", domain=domain, messages=msg, answer=answer, meta=meta or {})


@pytest.mark.parametrize(("answer", "value"), [("7", 7), (" 7 ", 7), ("7.0", 7), (7, 7), (7.0, 7), ("0", 0)])
def test_counts_as_numbers_or_digit_strings(answer, value) -> None:
    assert count_value(answer) == value
    _record("counting", answer).validate()
    assert CountingVerifier().verify("seven", answer, {}).correct == (value == 7)


@pytest.mark.parametrize("answer", ["-3", "7.5", "seven", "7 apples", "", True, -1, 2.5, [7]])
def test_malformed_counts_are_one_line_errors(answer) -> None:
    assert count_value(answer) is None
    with pytest.raises(RecordError, match="answer"):
        _record("counting", answer).validate()


def test_counting_record_with_string_answer_scores(inproc, respond) -> None:
    record = _record("counting", "7")
    assert inproc.score(respond("7"), record).correct
    assert not inproc.score(respond("8"), record).correct


@pytest.mark.parametrize(("answer", "letter"), [("B", "B"), ("b", "B"), ("(B)", "B"), ("B.", "B"), (" C ", "C")])
def test_letter_forms(answer, letter) -> None:
    assert choice_letter(answer) == letter


@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("Which is larger? (A) 3 (B) 4 (C) 5", ["3", "4", "5"]),
        ("Point A. lies on the circle. Find x.\nA. 30°\nB. 45°\nC. 60°\nD. 90°", ["30°", "45°", "60°", "90°"]),
        ("Choices:\n(A) cat\n(B) dog\nAnswer with the letter.", ["cat", "dog"]),
        ("How many apples are there?", None),
        ("Only (A) 3 here", None),
    ],
)
def test_options_read_from_the_question(question, options) -> None:
    assert options_from_question(question) == options


def test_letter_answer_without_choices_uses_the_question_options(inproc, respond) -> None:
    record = _record("choice", "B", "Which is larger?\n(A) 3\n(B) 4\n(C) 5")
    record.validate()  # no meta.choices: accepted
    assert inproc.score(respond("B"), record).correct
    assert inproc.score(respond("4"), record).correct  # the option's text, read from the question
    assert not inproc.score(respond("3"), record).correct
    assert not inproc.score(respond("D"), record).correct  # not one of the three options


def test_letter_answer_without_any_options_is_checked_as_a_letter(inproc, respond) -> None:
    record = {"domain": "choice", "answer": "c", "meta": {}}
    assert inproc.score(respond("C"), record).correct
    assert inproc.score(respond("(C)"), record).correct
    assert not inproc.score(respond("B"), record).correct
    assert not inproc.score(respond("B or C"), record).correct
    assert ChoiceVerifier().verify("C. the third one", "C", {}).correct  # the text can't be checked, the letter can


@pytest.mark.parametrize(
    ("answer", "meta", "match"),
    [
        ("maybe", {}, "one letter"),
        ("E", {"choices": ["1", "2", "3"]}, "A–C"),
        ("A", {"choices": ["only"]}, "2–10 options"),
        ("A", {"choices": "1,2"}, "2–10 options"),
        (2, {"choices": ["1", "2"]}, "one letter"),
    ],
)
def test_malformed_choice_records_are_clear_errors(inproc, respond, answer, meta, match) -> None:
    with pytest.raises(RecordError, match=match):
        _record("choice", answer, meta=meta).validate()
    with pytest.raises(RewardError, match="bad ground truth"):
        inproc.score(respond("A"), {"domain": "choice", "answer": answer, "meta": meta})
