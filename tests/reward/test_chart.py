from __future__ import annotations

import json

import pytest

from thinkvl.reward.verifiers.chart import ChartVerifier

V = ChartVerifier()


@pytest.mark.parametrize(
    ("pred", "gold", "ok"),
    [
        ("14", "14", True),
        ("14.5", "14", True),  # within 5%
        ("15", "14", False),  # 7% off
        ("45%", "45", True),
        ("-1.6", "-1.6", True),
        ("-1.6", "1.6", False),
        ("2015", "2014", False),  # years are exact though within 5%
        ("2014", 2014, True),
        ("Yes", "Yes", True),
        ("yes.", "Yes", True),
        ("yes or no", "Yes", False),
        ("Italy", "Italy", True),
        ("France", "Italy", False),
        ("[2016, 2014]", "[2014, 2016]", True),
        ("2014, 2016", "[2014, 2016]", True),
        ("[2014]", "[2014, 2016]", False),
        ("0", "0", True),
        ("0.01", "0", False),
    ],
)
def test_relaxed_accuracy(pred: str, gold: object, ok: bool) -> None:
    assert V.verify(pred, gold, {}).correct is ok


def test_tolerance_is_configurable() -> None:
    strict = ChartVerifier(ChartVerifier.Options(rel_tol=0.0))
    assert not strict.verify("14.1", "14", {}).correct
    assert strict.verify("14", "14", {}).correct


def test_chartqa_labels(benchdata) -> None:
    """Every ChartQA label passes against itself; numeric labels pass at +4% and fail at +6% (years: exact)."""
    labels = [r["label"] for r in json.loads((benchdata / "chartqa" / "test_human.json").read_text())]
    assert len(labels) == 1250
    assert all(V.verify(label, label, {}).correct for label in labels)
    numeric = [label for label in labels if _number(label) not in (None, 0)]
    assert len(numeric) > 700
    for label in numeric:
        value = _number(label)
        year = label.strip().isdigit() and 1800 <= value <= 2100
        assert V.verify(f"{value * 1.04:.6f}", label, {}).correct is (not year), label
        assert not V.verify(f"{value * 1.06:.6f}", label, {}).correct, label


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
