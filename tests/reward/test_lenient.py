"""Lenient reading of other models' free text: the final answer of the reasoning, and never a refusal."""

from __future__ import annotations

import pytest

from thinkvl.reward import RewardSystem
from thinkvl.reward.extract import final_value
from thinkvl.reward.verifiers.choice import ChoiceVerifier

YES_NO = {"domain": "choice", "answer": "B", "meta": {"choices": ["Yes", "No"]}}
ANGLES = {"domain": "choice", "answer": "C", "meta": {"choices": ["30°", "45°", "60°", "90°"]}}

REFUSALS = [
    "The question does not provide enough information about the objects. Therefore, the question cannot be answered.",
    "Sorry, I can't help with images of people yet.",
    "I'm sorry, but I cannot determine this from the image.",
    "There is not enough information to tell.",
    "None of the options is correct.",
]


@pytest.fixture(scope="module")
def lenient() -> RewardSystem:
    return RewardSystem({"lenient": True, "thinking": False, "limits": {"isolation": "none"}})


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_never_credited(lenient, text: str) -> None:
    for record in (YES_NO, {"domain": "math", "answer": "0"}, {**YES_NO, "answer": "A"}):
        assert not lenient.score(text, record).correct, (text, record)


@pytest.mark.parametrize(
    "text",
    [
        "No option fits well here, but I note the shape is symmetric.",  # "No" as an ordinary word
        "The angle looks acute and the lines are not parallel.",  # names no option at all
        "Nothing in the figure is labelled.",
        "Point A lies on the circle and B is its centre.",  # letters as names of points, not options
    ],
)
def test_texts_naming_no_option_are_not_credited(lenient, text: str) -> None:
    assert not lenient.score(text, YES_NO).correct
    assert not lenient.score(text, {**YES_NO, "answer": "A"}).correct


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("First I thought (A) but checking again the answer is (C).", "C"),
        ("Option A is too small and option B too large. Therefore, the answer is option C.", "C"),
        ("The missing value is **60°** (option C).", "C"),
        ("**Answer**: C", "C"),
        ("C (since the angles of the triangle add up)", "C"),
        ("At first glance the angle is 30°. Doubling it, the angle is 60°.", "C"),
        ("The inscribed angle is half the arc, so it is \\boxed{60^\\circ}.", "C"),
    ],
)
def test_the_final_named_option_is_read(lenient, text: str, letter: str) -> None:
    verdict = lenient.score(text, ANGLES)
    assert verdict.correct == (letter == "C"), verdict
    assert not lenient.score(text, {**ANGLES, "answer": "A"}).correct


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("The sides are 4 m. So the perimeter is 4 + 4 + 4 + 4 = **16 m**.", "16"),
        ("The value of x is **1**.\n\nx + 150 = 180, so x = 30.\n\nTherefore, the value of x is **30**.", "30"),
        ("The smallest bar in the whole chart is **1**. It is the bar for lime.", "1"),
        ("The nail is about 2 inches long.\n\nI hope this helps!", "2 inches"),
        ("There are 3 bars below 40 in the image. They are 2014, 2015 and 2016.", "3"),
        ("Sure, I can help.\n\n```\nprint(35)\n```\nSo Chase will spend $18.", "18"),
        ("The total is 5+5+1 = 11.", "11"),
    ],
)
def test_final_value_of_a_chain_of_reasoning(text: str, value: str) -> None:
    assert final_value(text) == value


@pytest.mark.parametrize("text", [*REFUSALS[:4], "I see a bar chart with several colours.", ""])
def test_no_final_value_without_a_stated_value(text: str) -> None:
    assert final_value(text) is None


def test_math_lenient_judges_only_the_final_value(lenient) -> None:
    text = "The first guess is **12**. After checking, the sum is 5 + 5 + 1 = 11. Therefore, the answer is 11."
    assert lenient.score(text, {"domain": "math", "answer": "11"}).correct
    assert not lenient.score(text, {"domain": "math", "answer": "12"}).correct  # an earlier number is not the answer
    assert not lenient.score("x = 4 or x = 5", {"domain": "math", "answer": "4"}).correct


def test_strict_mode_reads_no_free_text() -> None:
    v = ChoiceVerifier()
    assert not v.verify("Therefore, the answer is (C).", "C", ANGLES["meta"]).correct
    assert v.verify("Therefore, the answer is (C).", "C", ANGLES["meta"], lenient=True).correct


def test_counting_lenient_reads_the_final_count(lenient) -> None:
    text = "I see 3 red balls and 4 blue ones. So there are 7 balls in total."
    assert lenient.score(text, {"domain": "counting", "answer": "7"}).correct
    assert not lenient.score(text, {"domain": "counting", "answer": 3}).correct
    assert not lenient.score("Sorry, I can't count these objects.", {"domain": "counting", "answer": 0}).correct


@pytest.mark.parametrize(
    "text",
    [
        "Therefore, the largest angle is at vertex C.",
        "So the shortest path goes through point (C) first.",
        "I: the figure shows two parallel lines.",
    ],
)
def test_letters_naming_points_are_not_options(lenient, text: str) -> None:
    assert not lenient.score(text, ANGLES).correct
