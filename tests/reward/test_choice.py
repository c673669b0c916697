from __future__ import annotations

import ast
import json

import pytest

from thinkvl.reward.extract import extract_lenient
from thinkvl.reward.verifiers.choice import ChoiceVerifier

V = ChoiceVerifier()
META = {"choices": ["red", "green", "blue", "yellow"]}


@pytest.mark.parametrize("pred", ["B", "(B)", "b", "B.", "Option B", "[B]", "B. green", "B) green", "green", "Green."])
def test_letter_or_option_text(pred: str) -> None:
    assert V.verify(pred, "B", META).correct


@pytest.mark.parametrize(
    "pred",
    ["A", "A, B", "A or B", "AB", "A B C D", "red, green, blue, yellow", "green or blue", "B. red", "E", "В", ""],
)
def test_wrong_several_or_inconsistent(pred: str) -> None:
    assert not V.verify(pred, "B", META).correct


def test_option_texts_that_look_like_letters() -> None:
    meta = {"choices": ["(c)", "(a)", "(e)", "(d)", "(b)"]}
    assert V.verify("(b)", "E", meta).correct  # the option's exact text, not the letter B
    assert V.verify("E", "E", meta).correct
    dup = {"choices": ["9", "12", "18", "18"]}
    assert V.verify("18", "C", dup).correct and not V.verify("12", "C", dup).correct


def test_lenient_search_only_when_asked() -> None:
    text = "Looking at the figure, the answer is (C) because it is largest."
    assert not V.verify(text, "C", META).correct
    assert V.verify(text, "C", META, lenient=True).correct


def test_mmmu_pro_lenient_extraction_agrees_with_official_parser(benchdata) -> None:
    """GPT-4o CoT responses: our lenient letter vs the official `pred_indexs` (measured 1724/1730 = 99.7%)."""
    lines = (benchdata / "mmmu" / "gpt-4o_standard_10options_cot.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    agree = 0
    for row in rows:
        choices = [str(c) for c in ast.literal_eval(row["options"])]
        text = extract_lenient(row["response"], thinking=False).answer or ""
        letters, _ = V.read(text, choices)
        if len(letters) != 1:
            letters, _ = V.search(text, choices)
        agree += letters == {row["pred_indexs"]}
    assert len(rows) == 1730
    assert agree / len(rows) >= 0.99, agree
