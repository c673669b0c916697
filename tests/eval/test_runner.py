"""The runner with fake models: scoring through thinkvl.reward, saved predictions, results, report, plots,
thinking budgets, and crash/resume."""

from __future__ import annotations

import json

import pytest

from thinkvl.eval.registry import BenchmarkError, get_benchmark
from thinkvl.eval.runner import EvalConfig, EvalError, predictions_path, read_predictions, run_eval

OCR_IMAGES = ["IIIT5K/test/918_1.png", "docVQA/val/xnbl0037_1.png", "HME100k/test/1.jpg", "ChartQA/test/png/1.png"]


@pytest.fixture
def bench_data(data_dir, kit):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/2.jpg", "images/3.jpg"])
    kit.add_images(data_dir / "ocrbench" / "OCRBench_Images", OCR_IMAGES)
    return data_dir


def _run(tasks, generate, out, data_dir, reward_config, **kw):
    config = EvalConfig(tasks=tasks, data_dir=str(data_dir), **kw)
    return run_eval(config, generate, out, reward=reward_config, progress=False)


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_half_right_model_end_to_end(bench_data, tmp_path, reward_config, kit):
    out = tmp_path / "run"
    results = _run(["mathvista", "ocrbench"], kit.half_right, out, bench_data, reward_config, batch_size=2)
    rows = _lines(predictions_path(out, get_benchmark("mathvista"), None))
    expected = {r["id"]: ord(r["id"][-1]) % 2 == 0 for r in rows}
    assert {r["id"]: r["correct"] for r in rows} == expected  # each verdict is the reward system's
    assert all(r["verdict"]["format_ok"] and r["verdict"]["domain"] == r["domain"] for r in rows)
    mv = results["benchmarks"]["mathvista"]["budgets"]["none"]
    assert mv["value"] == pytest.approx(100 * sum(expected.values()) / 3)
    ocr = results["benchmarks"]["ocrbench"]["budgets"]["none"]
    assert ocr["unit"] == "count" and ocr["n"] == 4
    # OCRBench ids end in 3, 4, 1, 0: the fake is right on the two even ones.
    assert ocr["value"] == 2
    assert results["groups"]["STEM"]["none"] == pytest.approx(mv["value"])
    assert results["groups"]["OCR & Chart"]["none"] == pytest.approx(50.0)
    saved = json.loads((out / "results.json").read_text())
    assert saved["benchmarks"]["ocrbench"]["budgets"]["none"]["value"] == 2
    table = (out / "results.md").read_text()
    assert (
        "| STEM | MathVista | accuracy | 3 |" in table
        and "| OCR & Chart | OCRBench | ocrbench_count | 4 | 2/4 |" in table
    )
    assert (out / "plots" / "groups.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "plots" / "budget.png").exists()  # one budget: no budget curve


def test_thinking_budgets_are_passed_and_plotted(bench_data, tmp_path, reward_config, kit):
    seen = []

    def budget_model(records, root, budget):
        seen.append(budget)
        assert (root / records[0].messages[0]["content"][0]["image"]).is_file()  # media root handed over
        return kit.always_right(records, root, budget) if budget is None else kit.half_right(records, root, budget)

    out = tmp_path / "run"
    results = _run(["mathvista"], budget_model, out, bench_data, reward_config, thinking_budgets=[16, None])
    assert set(seen) == {16, None}
    budgets = results["benchmarks"]["mathvista"]["budgets"]
    assert budgets["none"]["value"] == 100.0 and budgets["16"]["value"] < 100.0
    assert (out / "plots" / "budget.png").read_bytes()[:4] == b"\x89PNG"
    assert "budget 16" in (out / "results.md").read_text()
    assert predictions_path(out, get_benchmark("mathvista"), 16).is_file()


def test_crash_loses_nothing_and_resume_skips_finished_items(bench_data, tmp_path, reward_config, kit):
    out = tmp_path / "run"
    calls = []

    def crashing(records, root, budget):
        if len(calls) == 1:
            raise RuntimeError("GPU fell over")
        calls.append([r.id for r in records])
        return kit.half_right(records, root, budget)

    with pytest.raises(RuntimeError, match="GPU fell over"):
        _run(["ocrbench"], crashing, out, bench_data, reward_config, batch_size=2)
    path = predictions_path(out, get_benchmark("ocrbench"), None)
    assert [r["id"] for r in _lines(path)] == calls[0]  # the finished batch is on disk
    assert not (out / "results.json").exists()

    resumed = []

    def counting(records, root, budget):
        resumed.extend(r.id for r in records)
        return kit.half_right(records, root, budget)

    results = _run(["ocrbench"], counting, out, bench_data, reward_config, batch_size=2)
    assert len(resumed) == 2 and not set(resumed) & set(calls[0])
    fresh = _run(["ocrbench"], kit.half_right, tmp_path / "fresh", bench_data, reward_config, batch_size=2)
    assert results["benchmarks"] == fresh["benchmarks"]  # same numbers as a run that never crashed


def test_a_line_cut_by_a_crash_is_dropped_and_redone(bench_data, tmp_path, reward_config, kit):
    out = tmp_path / "run"
    _run(["ocrbench"], kit.always_right, out, bench_data, reward_config, batch_size=4)
    path = predictions_path(out, get_benchmark("ocrbench"), None)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2]) + lines[2][:25])  # third line half-written
    assert len(read_predictions(path)) == 2 and len(path.read_text().splitlines()) == 2
    redone = []

    def counting(records, root, budget):
        redone.extend(r.id for r in records)
        return kit.always_right(records, root, budget)

    results = _run(["ocrbench"], counting, out, bench_data, reward_config)
    assert len(redone) == 2 and results["benchmarks"]["ocrbench"]["budgets"]["none"]["value"] == 4
    path.write_text(lines[0][:10] + "\n" + "".join(lines[1:]))
    with pytest.raises(EvalError, match="corrupt prediction line"):
        read_predictions(path)


def test_generate_contract_is_checked(bench_data, tmp_path, reward_config):
    with pytest.raises(EvalError, match="returned 1 responses for 3 records"):
        _run(["mathvista"], lambda recs, root, b: ["x"], tmp_path / "a", bench_data, reward_config)
    with pytest.raises(EvalError, match="returned a NoneType"):
        _run(["mathvista"], lambda recs, root, b: [None] * len(recs), tmp_path / "b", bench_data, reward_config)


def test_unscorable_benchmarks_are_refused_before_generating(data_dir, tmp_path, reward_config):
    def never(records, root, budget):
        raise AssertionError("must not generate")

    with pytest.raises(BenchmarkError, match="OSWorld can't be scored offline: it needs a live Ubuntu"):
        _run(["ocrbench", "osworld"], never, tmp_path / "run", data_dir, reward_config)


def test_strict_by_default_lenient_for_other_models(bench_data, tmp_path, reward_config):
    def plain(records, root, budget):  # another model's style: no think/answer/box tokens
        return [f"Looking at the image... The answer is {r.answer}." for r in records]

    strict = _run(["mathvista"], plain, tmp_path / "s", bench_data, reward_config)
    lenient = _run(["mathvista"], plain, tmp_path / "l", bench_data, reward_config, lenient=True)
    assert strict["benchmarks"]["mathvista"]["budgets"]["none"]["value"] == 0.0
    assert lenient["benchmarks"]["mathvista"]["budgets"]["none"]["value"] == 100.0
    row = _lines(predictions_path(tmp_path / "s", get_benchmark("mathvista"), None))[0]
    assert row["verdict"]["reason"].startswith("format:")


def test_synthetic_suite_uses_a_held_out_seed(tmp_path, reward_config, kit):
    out = tmp_path / "run"
    opts = {"synth": {"n": 2, "domains": ["counting", "math"]}}
    results = _run(["synth"], kit.always_right, out, None, reward_config, loader_options=opts)
    entry = results["benchmarks"]["synth"]["budgets"]["none"]
    assert entry["value"] == 100.0 and entry["n"] == 4
    assert set(entry["breakdown"]["domain"]) == {"counting", "math"}
    from thinkvl.data.synth import generate
    from thinkvl.eval.loaders.synth import HELDOUT_SEED

    assert HELDOUT_SEED != 0
    assert generate("counting", 0, 0, HELDOUT_SEED).answer is not None


def test_config_validation_names_the_problem():
    with pytest.raises(ValueError, match="thinking budget listed twice"):
        EvalConfig(thinking_budgets=[8, 8])
    with pytest.raises(ValueError, match=r"integer >= 1 or null"):
        EvalConfig(thinking_budgets=[-1])
    with pytest.raises(BenchmarkError, match="unknown benchmark"):
        EvalConfig(tasks=["nope"])


def test_skip_mode_reports_a_benchmark_without_data_instead_of_failing(data_dir, tmp_path, reward_config, kit):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/3.jpg"])  # images/2.jpg missing
    out = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match="images/2.jpg"):
        _run(["mathvista", "ai2d"], kit.always_right, out, data_dir, reward_config)
    results = _run(["mathvista", "ai2d"], kit.always_right, out, data_dir, reward_config, on_missing="skip")
    assert results["benchmarks"]["mathvista"]["budgets"]["none"]["n"] == 2
    assert "no parquet files" in results["benchmarks"]["ai2d"]["error"]
    table = (out / "results.md").read_text()
    assert "| STEM | AI2D | accuracy | — | — |" in table
    assert "MathVista: 1 items skipped" in table and "AI2D: not run:" in table
