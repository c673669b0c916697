"""The demo's HTML report: built from a fake run directory laid out like `thinkvl demo`'s, checked as files and in
headless Chromium when it is installed."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thinkvl.model.chat import format_response
from thinkvl.report import PLOTS, load_run, render, write_report

ROOT = Path(__file__).resolve().parents[1]
DOMAINS = ("counting", "chart", "ocr", "grounding", "math", "choice", "video")
TIERS = ("very_easy", "easy", "medium", "hard", "very_hard", "ungraded")
SFT_ACC = {"counting": 0.4, "chart": 0.3, "ocr": 0.5, "grounding": 0.2, "math": 0.6, "choice": 0.45, "video": 0.35}
RL_ACC = {d: min(1.0, a + 0.1 + 0.05 * i) for i, (d, a) in enumerate(SFT_ACC.items())}
EVIL = "<script>alert('pwned')</script><img src=x onerror=alert(1)>"
BUDGET = 64  # the demo's thinking budget: predictions live in eval/<model>/predictions/synth@64.jsonl


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _table(acc: dict[str, float], n: int = 30) -> dict:
    t = {d: {"accuracy": a, "format": 0.9, "n": n} for d, a in acc.items()}
    t["all"] = {"accuracy": sum(acc.values()) / len(acc), "format": 0.9, "n": n * len(acc)}
    return t


def _train_metrics(steps: int, start_loss: float) -> list[dict]:
    rows = [{"step": 0, "packing/fill": 0.93, "packing/samples_per_seq": 3.1}]
    for s in range(10, steps + 1, 10):
        rows.append(
            {
                "step": s,
                "train/loss": start_loss * math.exp(-s / 80) + 0.2,
                "train/lr": 1e-3,
                "train/grad_norm": 1.5,
                "perf/tokens_per_s": 4000.0 + s,
            }
        )
    return rows


def _rl_metrics(iterations: int) -> list[dict]:
    rows = []
    for it in range(1, iterations + 1):
        frac = it / iterations
        row = {
            "step": it,
            "rewards/mean": 0.3 + 0.3 * frac,
            "accuracy/mean": 0.35 + 0.25 * frac,
            "response/length_mean": 60 - 10 * frac,
            "response/thinking_length_mean": 40 - 8 * frac,
            "response/forced_rate": 0.2 * (1 - frac),
            "dynamic_sampling/not_valid_rate": 0.6 - 0.3 * frac,
            "dynamic_sampling/expansion_ratio": 1 / (1 - (0.6 - 0.3 * frac)),
            "actor/clip_frac": 0.05,
            "actor/approx_kl": 0.01,
            "actor/entropy": 1.2 - 0.3 * frac,
            "actor/weight_change": 0.004 * frac,
            "rollouts/total": 128 * it,
            "perf/rollout_tokens_per_s": 1700.0,
        }
        for i, d in enumerate(DOMAINS):
            row[f"accuracy/{d}"] = SFT_ACC[d] + (RL_ACC[d] - SFT_ACC[d]) * frac
            row[f"rewards/{d}/mean"] = row[f"accuracy/{d}"] * 0.9 + 0.02 * i
        counts = [20 + 10 * frac, 40, 60 + 30 * frac, 50 - 20 * frac, 30 - 20 * frac, 10 * (1 - frac)]
        for tier, c in zip(TIERS, counts):
            row[f"curriculum/tier/{tier}"] = c
            row[f"curriculum/mass/{tier}"] = c / sum(counts)
        rows.append(row)
    return rows


def _predictions(acc: dict[str, float], evil: bool = False) -> list[dict]:
    rows = []
    for d in DOMAINS:
        for i in range(10):
            correct = i < round(10 * acc[d])
            answer = "7" if correct else "3"
            response = format_response(f"I look at the {d} image. Step {i}.", "The answer is", answer)
            if evil and d == "ocr" and not correct:
                response = format_response(EVIL, "The answer is", EVIL)
            reward = 1.0 if correct else 0.0
            verdict = {
                "reward": reward,
                "correct": correct,
                "extracted": answer,
                "format_ok": True,
                "penalties": {},
                "reason": "exact match" if correct else f"expected 7, got {answer}",
            }
            rows.append(  # the eval runner's row layout (thinkvl.eval.runner.prediction_row)
                {
                    "id": f"{d}-{i:03d}",
                    "benchmark": "synth",
                    "budget": BUDGET,
                    "domain": d,
                    "answer": "7",
                    "response": response,
                    "correct": correct,
                    "score": reward,
                    "reward": reward,
                    "verdict": verdict,
                    "meta": {},
                }
            )
    return rows


def make_run(root: Path, *, rl: bool = True) -> Path:
    results = {"sft": _table(SFT_ACC)}
    if rl:
        results["rlcs"] = _table(RL_ACC)
    summary = {
        "results": results,
        "majority_baseline": {d: 0.25 for d in DOMAINS},
        "table": "| domain | sft |\n|---|---|\n| counting | 40% |",
        "minutes": 12.3,
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "summary.json").write_text(json.dumps(summary))
    _jsonl(root / "pretrain" / "metrics.jsonl", _train_metrics(300, 6.0))
    _jsonl(root / "sft" / "metrics.jsonl", _train_metrics(200, 2.0))
    _jsonl(root / "eval" / "sft" / "predictions" / f"synth@{BUDGET}.jsonl", _predictions(SFT_ACC))
    if rl:
        _jsonl(root / "rl" / "metrics.jsonl", _rl_metrics(12))
        grades = [
            {"id": f"{d}-{i}", "pass_rate": i / 4, "label": None, "estimate": i / 4, "tier": TIERS[4 - i]}
            for d in DOMAINS
            for i in range(5)
        ]
        _jsonl(root / "rl" / "grades.jsonl", grades)
        _jsonl(root / "eval" / "rl" / "predictions" / f"synth@{BUDGET}.jsonl", _predictions(RL_ACC, evil=True))
    return root


def _images(page: str) -> list[str]:
    return re.findall(r"<img src='([^']+)'", page)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).reshape(-1, 3)


def _colours(pixels: np.ndarray) -> int:
    """How many distinct colours."""
    return len(np.unique(pixels.astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int32)))


def _assert_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 300 and im.height > 150
    assert _colours(_pixels(path)) > 20  # drawn, not a blank canvas


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One complete run and its report, shared: drawing the plots is the slow part."""
    run = make_run(tmp_path_factory.mktemp("report") / "demo")
    out = write_report(run)
    assert out == run / "report.html"
    return run, out.read_text()


def test_full_report_has_table_and_valid_images(full_run: tuple[Path, str]) -> None:
    run, page = full_run
    # the results table: a row per domain plus the total, with both models and the baseline
    table = page[page.index("<table class=results>") : page.index("</table>")]
    for d in DOMAINS:
        row = re.search(rf"<tr><th>{d}</th>(.*?)</tr>", table)
        assert row, d
        cells = re.findall(r"<td>(.*?)</td>", row.group(1))
        assert cells[0] == f"{SFT_ACC[d]:.0%}" and cells[1] == f"{RL_ACC[d]:.0%}"
        assert cells[2] == f"{100 * (RL_ACC[d] - SFT_ACC[d]):+.0f} pt"
        assert cells[3] == "25%" and cells[-1] == "30"
    assert "<tr class=total><th>all</th>" in table
    images = _images(page)
    assert [Path(i).name for i in images] == [
        "accuracy.png",
        "loss.png",
        "rewards.png",
        "policy.png",
        "curriculum.png",
        "dynamic_sampling.png",
    ]
    for src in images:
        _assert_png(run / src)
    assert "not available" not in page and "Absent from this run" not in page
    assert "12 iterations" in page and "1,536 rollouts" in page and "35 records" in page
    assert page.count("class='ex correct'") == len(DOMAINS) and page.count("class='ex wrong'") == len(DOMAINS)


def test_untrusted_text_is_escaped(full_run: tuple[Path, str]) -> None:
    run, page = full_run
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "onerror=alert" not in page.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    # the special tokens show as text, not as tags
    assert "&lt;think&gt;" in page and "&lt;|begin_of_box|&gt;" in page
    # domain names come from data files: escaped in the table and the examples too
    loaded = load_run(run)
    loaded.summary["results"]["rlcs"]["<b onmouseover=x>"] = {"accuracy": 0.5, "format": 1.0, "n": 1}
    loaded.predictions["rlcs"].append({"domain": "</pre><script>x</script>", "response": "r", "correct": True})
    page = render(loaded, {})
    assert "<b onmouseover" not in page and "&lt;b onmouseover=x&gt;" in page
    assert "<script" not in page.lower() and "&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;" in page


def test_run_without_rl_still_renders(tmp_path: Path) -> None:
    run = make_run(tmp_path / "demo", rl=False)
    # a plot left by an earlier run with RL must not pass for this run's
    (run / "report").mkdir()
    Image.new("RGB", (400, 300), "red").save(run / "report" / "rewards.png")
    page = write_report(run).read_text()
    assert "RL was not run" in page and "rl/metrics.jsonl" in page
    assert "RLCS accuracy" not in page and "<tr><th>counting</th><td>40%</td><td>25%</td>" in page
    images = _images(page)
    assert [Path(i).name for i in images] == ["accuracy.png", "loss.png"]
    for src in images:
        _assert_png(run / src)
    assert not (run / "report" / "rewards.png").exists()
    assert page.count("not available") == 4
    assert "Greedy responses of the SFT model" in page


def test_empty_or_broken_run_dir(tmp_path: Path) -> None:
    page = write_report(tmp_path).read_text()
    assert "summary.json is missing" in page and "No predictions to show" in page
    assert _images(page) == [] and page.count("not available") == len(PLOTS)
    (tmp_path / "summary.json").write_text("{not json")
    assert "summary.json is unreadable" in write_report(tmp_path).read_text()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "nope")


def test_unfinished_run_reads_each_evaluations_table(tmp_path: Path) -> None:
    run = make_run(tmp_path / "demo", rl=False)
    (run / "summary.json").unlink()  # the run stopped after evaluating SFT
    (run / "eval" / "sft" / "summary.json").write_text(json.dumps(_table(SFT_ACC, n=10)))
    page = render(load_run(run), {})
    assert "results read from eval/*/summary.json" in page
    assert "<tr><th>math</th><td>60%</td><td>—</td><td>90%</td><td>10</td></tr>" in page


def test_sampled_accuracy_columns_are_labelled_and_need_no_predictions(tmp_path: Path) -> None:
    run = make_run(tmp_path / "demo", rl=False)
    (run / "summary.json").unlink()  # read each evaluation's own table, the sampled one included
    (run / "eval" / "sft" / "summary.json").write_text(json.dumps(_table(SFT_ACC, n=10)))
    (run / "eval" / "sft_sampled").mkdir()
    (run / "eval" / "sft_sampled" / "summary.json").write_text(json.dumps(_table({d: 0.35 for d in SFT_ACC}, n=10)))
    loaded = load_run(run)
    assert list(loaded.results) == ["sft", "sft_sampled"] and set(loaded.predictions) == {"sft"}
    assert not any("sampled" in m for m in loaded.missing)
    page = render(loaded, {})
    assert "<th>SFT sampled accuracy</th>" in page
    assert "<tr><th>math</th><td>60%</td><td>35%</td>" in page


def test_malformed_values_do_not_crash(tmp_path: Path) -> None:
    summary = {
        "results": {"sft": {"counting": 0.4, "chart": {"accuracy": "high", "n": None}, "$\\frac{": {"accuracy": 0.5}}},
        "majority_baseline": {"counting": "a lot"},
        "minutes": "soon",
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    rows = [{"step": 1, "accuracy/mean": None, "accuracy/$x^{": 0.3}, {"step": "two", "accuracy/mean": "0.5"}, [1, 2]]
    _jsonl(tmp_path / "rl" / "metrics.jsonl", rows)
    page = write_report(tmp_path).read_text()
    assert "<tr><th>counting</th><td>—</td>" in page and "<tr><th>$\\frac{</th><td>50%</td>" in page
    assert [Path(i).name for i in _images(page)] == ["accuracy.png", "rewards.png"]


def test_rewards_plot_adds_the_unclosed_thought_panel_only_where_logged(tmp_path: Path) -> None:
    widths = {}
    for logged in (False, True):
        rows = _rl_metrics(12)
        if logged:
            for i, row in enumerate(rows):
                row["response/unclosed_thought_rate"] = 0.02 * i
                row["response/chart/unclosed_thought_rate"] = 0.05 * i
        run = tmp_path / f"run_{logged}"
        _jsonl(run / "rl" / "metrics.jsonl", rows)
        write_report(run)
        widths[logged] = Image.open(run / "report" / "rewards.png").size[0]
    assert widths[True] * 2 == widths[False] * 3  # three panels against two, each as wide


def test_predictions_of_the_largest_budget_are_shown(tmp_path: Path) -> None:
    run = make_run(tmp_path / "demo", rl=False)
    small = [dict(r, response="short budget") for r in _predictions(SFT_ACC)]
    _jsonl(run / "eval" / "sft" / "predictions" / "synth@8.jsonl", small)
    loaded = load_run(run)
    assert loaded.predictions["sft"] == _predictions(SFT_ACC)  # 64 > 8, compared as numbers
    page = render(loaded, {})
    assert "short budget" not in page and "extracted &#x27;7&#x27;" in page and "exact match" in page
    _jsonl(run / "eval" / "sft" / "predictions" / "synth@none.jsonl", small)  # no cap beats any budget
    assert load_run(run).predictions["sft"] == small
    shutil.rmtree(run / "eval" / "sft" / "predictions")
    assert "eval/sft/predictions/*.jsonl (no SFT predictions)" in load_run(run).missing


def test_long_response_is_cut(tmp_path: Path) -> None:
    run = load_run(make_run(tmp_path / "demo", rl=False))
    run.predictions["sft"][0]["response"] = "x" * 50_000
    page = render(run, {})
    assert "more characters]" in page and "x" * 50_000 not in page and "x" * 1000 in page


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(full_run: tuple[Path, str], tmp_path: Path) -> None:
    run, _ = full_run
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "screenshot_report.py"), str(run / "report.html"), str(shot)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    _assert_png(shot)
    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
    pixels = _pixels(shot)
    assert _colours(pixels) > 200
    assert (pixels != 255).any(axis=1).mean() > 0.02
    # the accuracy plot's SFT bars (#4c72b0) are on screen: the browser loaded the PNGs, not broken-image icons
    assert (np.abs(pixels.astype(int) - (76, 114, 176)).sum(axis=1) < 12).sum() > 500
