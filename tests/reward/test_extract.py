"""The strict format gate (RL) and the lenient reader (evaluation of other models)."""

from __future__ import annotations

import pytest

from thinkvl.reward.extract import extract_lenient, extract_strict, last_boxed

B, E = "<|begin_of_box|>", "<|end_of_box|>"


def test_well_formed_response_gives_the_box(respond) -> None:
    ext = extract_strict(respond("42"))
    assert ext.format_ok and ext.answer == "42"
    assert extract_strict(respond("42") + "<|endoftext|>").answer == "42"


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (f"<think>the answer is {B}4{E}</think><answer>4</answer>", "no box in answer"),
        (f"<think>x</think><answer>{B}4{E} or {B}5{E}</answer>", "several boxes"),
        (f"<think>x</think><answer>{B} {E}</answer>", "empty box"),
        (f"<think>x</think><answer>{B}{B}4{E}{E}</answer>", "nested box"),
        (f"<think>x</think><answer>{B}4{E}</answer> trailing", "text after </answer>"),
        (f"<answer>{B}4{E}</answer>", "missing <think> block"),
        (f"<think>x</think><answer>{B}4{E}</answer><answer>{B}5{E}</answer>", "several <think> or <answer> blocks"),
        (f"<think>x<answer>{B}4{E}</answer></think><answer>{B}4{E}</answer>", "tags nested inside <think>"),
        (f"<think>x</think>4<answer>{B}4{E}</answer>", "text between </think> and <answer>"),
        (f"<think>x</think><answer>{B}4{E}", "unclosed <answer>"),
    ],
)
def test_format_failures_are_named(response: str, problem: str) -> None:
    ext = extract_strict(response)
    assert ext.answer is None and problem in ext.problems


def test_without_thinking_the_answer_block_stands_alone() -> None:
    assert extract_strict(f"<answer>{B}7{E}</answer>", thinking=False).answer == "7"


@pytest.mark.parametrize(
    ("response", "answer"),
    [
        (f"I think {B}3{E} no wait {B}4{E}", "4"),
        ("so the result is \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("Step 1 ... \\boxed{12} ... Therefore the answer is 13.", "13"),
        ("Reasoning.\n\nAnswer: **C**", "C"),
        ("\\[ \\text{Answer: D} \\]", "D"),
        ("<think>answer is 9</think>The final answer: 5", "5"),
        ("just 7", "just 7"),
    ],
)
def test_lenient_extraction(response: str, answer: str) -> None:
    assert extract_lenient(response).answer == answer


def test_last_boxed_handles_nested_braces() -> None:
    assert last_boxed("\\boxed{\\frac{a}{b}} then \\boxed{x^{2}}") == "x^{2}"
    assert last_boxed("\\boxed{unclosed") is None
