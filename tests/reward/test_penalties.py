from __future__ import annotations

from thinkvl.reward.config import PenaltyConfig
from thinkvl.reward.penalties import looping_tail, mixed_language, overlength, penalties, repetition

PROSE = (
    "We first find the area of the triangle using half the base times the height, which gives twelve. "
    "Then the perimeter follows from the three side lengths added together, giving a total of sixteen units. "
    "Finally we check that both values are consistent with the figure and the given constraints."
)


def test_normal_text_has_no_penalty() -> None:
    assert penalties(f"<think>{PROSE}</think><answer>x</answer>", PenaltyConfig()) == {}


def test_repetition_grows_with_repeated_ngrams() -> None:
    assert repetition(PROSE, 4, 0.3) == 0.0
    looped = PROSE + " so the answer is twelve" * 50
    assert repetition(looped, 4, 0.3) > 0.5


def test_looping_tail_including_a_loop_cut_by_forced_answering() -> None:
    assert looping_tail("Compute. " + "Wait, let me recheck. " * 6, 4)
    assert not looping_tail(PROSE, 4)
    assert not looping_tail("=" * 60, 4)  # decoration, not a loop of words
    cut = "<think>" + PROSE + " Hmm, wait." * 8 + "<|end_of_solution|></think><answer>12</answer>"
    assert "looping_tail" in penalties(cut, PenaltyConfig())


def test_mixed_language() -> None:
    zh = "我们先计算三角形的面积，然后求出它的高度，最后检查结果是否正确。"
    assert mixed_language(zh + " " + PROSE, 12)
    assert not mixed_language(PROSE, 12)
    assert not mixed_language(zh + " x = 3, y = 4", 12)
    assert penalties(zh + PROSE, PenaltyConfig())["mixed_language"] == 0.2


def test_overlength_ramp() -> None:
    assert overlength(50, 100, 20) == 0.0
    assert overlength(90, 100, 20) == 0.5
    assert overlength(150, 100, 20) == 1.0
    cfg = PenaltyConfig(overlength_weight=0.4, max_chars=1000, overlength_buffer=200)
    assert penalties("a " * 450, cfg)["overlength"] == 0.2
