"""Each benchmark's own aggregation over saved prediction rows."""

from __future__ import annotations

import pytest

from thinkvl.eval.metrics import compute
from thinkvl.eval.registry import get_benchmark


def row(rid, correct, score=None, **meta):
    return {"id": rid, "correct": correct, "score": float(correct) if score is None else score, "meta": meta}


def test_circular_accuracy_needs_every_rotation_right():
    rows = [
        row("q0", True, index=0, circular_group=0, category="a"),
        row("q0r1", True, index=1_000_000, circular_group=0, category="a"),
        row("q1", True, index=1, circular_group=1, category="b"),
        row("q1r1", False, index=1_000_001, circular_group=1, category="b"),
    ]
    result = compute(get_benchmark("mmbench_en"), rows)
    assert result.value == 50.0 and result.n == 2
    assert result.extra["vanilla_accuracy"] == 100.0
    assert result.breakdown["category"] == {
        "a": {"value": 100.0, "correct": 1, "n": 1},
        "b": {"value": 0.0, "correct": 0, "n": 1},
    }


def test_ocrbench_counts_and_normalises():
    rows = [row(f"i{k}", k < 3, type="Doc-oriented VQA" if k % 2 else "Key Information Extraction") for k in range(4)]
    result = compute(get_benchmark("ocrbench"), rows)
    assert (result.value, result.unit, result.normalized) == (3.0, "count", 75.0)
    assert result.extra["per_1000"] == 750.0


def test_list_valued_meta_counts_under_each_element():
    rows = [row("a", True, skills=["x", "y"]), row("b", False, skills=["y"])]
    result = compute(get_benchmark("mathvista"), rows)
    assert result.breakdown["skills"]["y"] == {"value": 50.0, "correct": 1, "n": 2}
    assert result.breakdown["skills"]["x"]["n"] == 1


def test_wemath_four_dimensions():
    def problem(group, s1, s2, whole):
        return [
            row(f"{group}-1", s1, group=group, steps="2steps", step="1"),
            row(f"{group}-2", s2, group=group, steps="2steps", step="2"),
            row(f"{group}-m", whole, group=group, steps="2steps", step="multi"),
        ]

    rows = problem("1", True, True, True) + problem("2", True, True, False) + problem("3", False, True, False)
    rows += problem("4", False, False, True) + [row("x", True, group="9", steps="2steps", step="1")]  # incomplete
    result = compute(get_benchmark("wemath"), rows)
    e = result.extra
    assert (e["problems"], e["CM_strict"], e["IG"], e["IK"], e["RM_strict"], e["RM_loose"]) == (4, 1, 1, 1, 1, 1)
    assert result.value == pytest.approx(100 * (4 - 0.5 - 1 - 1) / 4)


def test_mmmu_pro_averages_its_subsets():
    rows = [row("s1", True, subset="standard"), row("s2", False, subset="standard"), row("v1", True, subset="vision")]
    assert compute(get_benchmark("mmmu_pro"), rows).value == pytest.approx(75.0)


def test_mmlongbench_f1_treats_not_answerable_as_negative():
    def r(rid, score, fmt, extracted):
        return {
            "id": rid,
            "correct": score == 1,
            "score": score,
            "meta": {"answer_format": fmt},
            "verdict": {"extracted": extracted},
        }

    rows = [r("a", 1.0, "Int", "3"), r("b", 0.0, "Str", "Not answerable"), r("c", 1.0, "None", "Not answerable")]
    result = compute(get_benchmark("mmlongbench_doc"), rows)
    assert result.value == pytest.approx(200 / 3)
    assert result.extra["recall"] == pytest.approx(50.0) and result.extra["precision"] == pytest.approx(100.0)
    assert result.extra["f1"] == pytest.approx(100 * 2 * 0.5 / 1.5)


def test_mean_score_counts_partial_credit():
    rows = [row("a", False, score=0.5, question_type="Factoid"), row("b", True, question_type="Factoid")]
    assert compute(get_benchmark("chartqapro"), rows).value == pytest.approx(75.0)
