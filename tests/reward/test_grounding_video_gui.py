from __future__ import annotations

import pytest

from thinkvl.reward.gui_actions import ActionSyntaxError, parse_action
from thinkvl.reward.verifiers.grounding import GroundingVerifier, iou, parse_boxes
from thinkvl.reward.verifiers.gui import GUIVerifier, swipe_direction
from thinkvl.reward.verifiers.video import VideoVerifier, parse_seconds


# -- grounding ------------------------------------------------------------------------------------------------
def test_iou_values() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_box_parsing() -> None:
    assert parse_boxes("[10, 20, 300, 400]") == [(10, 20, 300, 400)]
    assert parse_boxes("(10,20),(300,400)") == [(10, 20, 300, 400)]
    assert len(parse_boxes("[0,0,10,10], [20,20,30,30]")) == 2
    for bad in ("the cat at [10, 20, 300, 400]", "[10, 20, 300]", "[300, 20, 10, 400]", "[0, 0, 10, 1200]"):
        assert parse_boxes(bad) is None, bad


def test_single_box_reward_is_iou() -> None:
    v = GroundingVerifier()
    check = v.verify("[5, 0, 15, 10]", [0, 0, 10, 10], {})
    assert check.score == pytest.approx(1 / 3) and not check.correct
    assert v.verify("[0, 0, 10, 10]", [0, 0, 10, 10], {}).correct


def test_several_boxes_matched_optimally() -> None:
    v = GroundingVerifier()
    gold = [[0, 0, 10, 10], [100, 100, 200, 200]]
    swapped = v.verify("[100, 100, 200, 200], [0, 0, 10, 10]", gold, {})
    assert swapped.correct and swapped.score == pytest.approx(1.0)
    extra = v.verify("[100, 100, 200, 200], [0, 0, 10, 10], [500, 500, 600, 600]", gold, {})
    assert not extra.correct and extra.score == pytest.approx(2 / 3)
    missing = v.verify("[0, 0, 10, 10]", gold, {})
    assert not missing.correct and missing.score == pytest.approx(0.5)


def test_threshold_reward() -> None:
    v = GroundingVerifier(GroundingVerifier.Options(reward="threshold", iou_threshold=0.3))
    assert v.verify("[5, 0, 15, 10]", [0, 0, 10, 10], {}).score == 1.0
    assert v.verify("[8, 0, 18, 10]", [0, 0, 10, 10], {}).score == 0.0


# -- video --------------------------------------------------------------------------------------------------
def test_timestamps() -> None:
    assert parse_seconds("1:02") == 62 and parse_seconds("12.5 seconds") == 12.5 and parse_seconds("soon") is None
    v = VideoVerifier()
    assert v.verify("12.5s", 13.0, {}).correct
    assert not v.verify("15", 13.0, {}).correct
    decay = VideoVerifier(VideoVerifier.Options(time_tolerance_s=1.0, time_decay_s=4.0))
    assert decay.verify("16", 13.0, {}).score == pytest.approx(0.5)


def test_ordering() -> None:
    meta = {"video_task": "order"}
    v = VideoVerifier()
    assert v.verify("red -> green -> blue", "red, green, blue", meta).correct
    assert v.verify("Red, then green, then blue", "red, green, blue", meta).correct
    assert not v.verify("green, red, blue", "red, green, blue", meta).correct
    assert not v.verify("red, green", "red, green, blue", meta).correct
    partial = VideoVerifier(VideoVerifier.Options(order_partial=True)).verify(
        "green, red, blue", "red, green, blue", meta
    )
    assert partial.score == pytest.approx(2 / 3) and not partial.correct


def test_video_text_answers_are_vqa() -> None:
    assert VideoVerifier().verify("A dog.", "dog", {}).correct


# -- gui ----------------------------------------------------------------------------------------------------
def test_action_syntax() -> None:
    assert parse_action("click(512, 300)").args == [512.0, 300.0]
    assert parse_action('type("say \\"hi\\"")').args == ['say "hi"']
    assert parse_action('scroll(direction="down")').kwargs == {"direction": "down"}
    assert parse_action("tap(1, 2)").name == "click"
    for bad in ("click(1 2)", "click(5, 6); click(7, 8)", "click", "click(,1)", "x" * 3000):
        with pytest.raises(ActionSyntaxError):
            parse_action(bad)


def test_gui_actions() -> None:
    v = GUIVerifier()
    box = {"action": "click", "box": [100, 100, 200, 200]}
    assert v.verify("click(150, 150)", box, {}).correct
    assert not v.verify("click(250, 150)", box, {}).correct
    assert v.verify("click([120, 120, 180, 180])", box, {}).correct
    assert not v.verify('type("150, 150")', box, {}).correct
    typed = v.verify('type("helo world")', {"action": "type", "text": "hello world"}, {})
    assert 0.9 < typed.score < 1 and not typed.correct
    assert v.verify("scroll(down)", {"action": "scroll", "direction": "down"}, {}).correct
    assert v.verify("swipe(500, 800, 500, 200)", {"action": "swipe", "direction": "up"}, {}).correct
    assert swipe_direction(0, 0, 10, 1) == "right"
    assert v.verify('key("Enter")', {"action": "press", "key": "enter"}, {}).correct
    assert v.verify("back()", {"action": "back"}, {}).correct
    assert not v.verify("back(1)", {"action": "back"}, {}).correct
    assert v.answer_problem({"action": "click"}, {}) is not None
