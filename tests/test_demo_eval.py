"""The demo's sampled held-out accuracy: k answers per item at the RL temperature, averaged per domain."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import thinkvl.model
from thinkvl.data.synth import write_dataset
from thinkvl.demo import evaluate_sampled, print_table
from thinkvl.model.chat import format_response
from thinkvl.model.generate import SamplingParams
from thinkvl.rl import run as rl_run


@pytest.fixture
def fake_model(monkeypatch):
    """A model whose i-th answer to a record is right for the first ``right[domain]`` of every 4 answers; the last
    answer of every counting record breaks the format."""
    right = {"counting": 3, "chart": 1}
    seen = []

    class FakeEngine:
        def __init__(self, bundle, batch_size):
            pass

        def generate(self, batch, root, params):
            seen.append(params)
            out = []
            for rec in batch:
                for j in range(params.n):
                    box = str(rec.answer) if j < right[rec.domain] else "97"
                    text = format_response("I look.", "It is", box)
                    if rec.domain == "counting" and j == params.n - 1:
                        text = text.replace("</think>", "")
                    out.append(SimpleNamespace(text=text))
            return out

    monkeypatch.setattr(
        thinkvl.model, "load_bundle", lambda path, **_: SimpleNamespace(model=SimpleNamespace(eval=dict))
    )
    monkeypatch.setattr(rl_run, "TransformersEngine", FakeEngine)
    return seen


def test_sampled_accuracy_is_the_mean_over_answers_per_domain(tmp_path: Path, fake_model):
    data = tmp_path / "data"
    write_dataset(data, ["counting", "chart"], n=3, seed=0, levels=[0])
    out = tmp_path / "eval"
    params = SamplingParams(n=4, temperature=0.6, thinking_budget=64, answer_budget=24)
    table = evaluate_sampled(Path("unused"), data, out, params=params)
    assert {p.n for p in fake_model} == {4} and {p.temperature for p in fake_model} == {0.6}
    assert {p.thinking_budget for p in fake_model} == {64} and {p.answer_budget for p in fake_model} == {24}
    assert table["counting"]["accuracy"] == pytest.approx(0.75) and table["counting"]["format"] == pytest.approx(0.75)
    assert table["chart"]["accuracy"] == pytest.approx(0.25) and table["chart"]["format"] == pytest.approx(1.0)
    assert table["all"]["accuracy"] == pytest.approx(0.5) and table["all"]["n"] == 6
    assert json.loads((out / "summary.json").read_text()) == table
    # Re-running the demo reuses the table instead of sampling again.
    fake_model.clear()
    assert evaluate_sampled(Path("unused"), data, out, params=params) == table
    assert fake_model == []


def test_the_table_takes_the_format_rate_from_the_named_column():
    row = {"accuracy": 0.5, "format": 0.9, "n": 2}
    other = {"accuracy": 0.25, "format": 0.1, "n": 2}
    text = print_table(
        {"rlcs": {"ocr": row, "all": row}, "rlcs_sampled": {"ocr": other, "all": other}}, {"ocr": 0.2}, "rlcs"
    )
    lines = text.splitlines()
    assert lines[0].endswith("| format (rlcs) |")
    assert lines[2] == "| ocr | 50% | 25% | 20% | 90% |"


def test_majority_baseline_scores_boxes_by_iou_and_the_report_shows_split_stats(tmp_path: Path):
    from thinkvl.demo import majority_baseline
    from thinkvl.report import load_run, splits_table

    rec = lambda d, a: SimpleNamespace(domain=d, answer=a)  # noqa: E731
    boxes = [[0, 0, 500, 500], [10, 10, 500, 500], [500, 500, 1000, 1000], [0, 500, 480, 1000]]
    base = majority_baseline([rec("grounding", b) for b in boxes] + [rec("chart", v) for v in (1, 1, 2, 3)])
    assert base == {"grounding": 0.5, "chart": 0.5}  # the first two boxes overlap with IoU >= 0.5
    stats = {"items": 80, "distinct": 80, "identical_to_reference": 0, "answers_in_reference": 0.25}
    (tmp_path / "summary.json").write_text(json.dumps({"splits": {"heldout": {"chart": stats}, "rl_vs_heldout": 0}}))
    html = splits_table(load_run(tmp_path))
    assert "heldout / chart" in html and "<td>80</td><td>80</td><td>0</td><td>25%</td>" in html
    (tmp_path / "nothing").mkdir()
    assert splits_table(load_run(tmp_path / "nothing")) == ""
