from __future__ import annotations

import pytest

from thinkvl.reward.verifiers.counting import CountingVerifier


@pytest.mark.parametrize("pred", ["3", "3 circles", "three", "Three.", "3.0", "$3$", "\\text{3}"])
def test_right_counts(pred: str) -> None:
    assert CountingVerifier().verify(pred, 3, {}).correct


@pytest.mark.parametrize("pred", ["4", "3 or 4", "3-4", "about 3", "3, 4", "-3", "2.5", "30%", "many", ""])
def test_wrong_or_hedged_counts(pred: str) -> None:
    check = CountingVerifier().verify(pred, 3, {})
    assert not check.correct and check.score == 0.0


def test_tolerance_and_ground_truth_validation() -> None:
    v = CountingVerifier(CountingVerifier.Options(tolerance=1))
    assert v.verify("4", 3, {}).correct and not v.verify("5", 3, {}).correct
    assert v.answer_problem(-1, {}) and v.answer_problem(2.5, {}) and v.answer_problem(True, {})
    assert v.answer_problem(3, {}) is None
