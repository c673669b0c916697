"""`compare` tables and the `thinkvl eval` subcommands (run from saved responses, compare, list)."""

from __future__ import annotations

import argparse
import json

import pytest

from thinkvl.eval.commands import add_commands
from thinkvl.eval.compare import compare_runs
from thinkvl.eval.registry import BENCHMARKS
from thinkvl.eval.runner import EvalConfig, run_eval


@pytest.fixture
def two_runs(data_dir, tmp_path, reward_config, kit):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/2.jpg", "images/3.jpg"])
    kit.add_images(data_dir / "chartqa" / "test" / "png", ["41699051005347.png", "multi_col_1.png"])
    a, b = tmp_path / "model-a", tmp_path / "model-b"
    common = {"reward": reward_config, "progress": False}
    run_eval(EvalConfig(tasks=["mathvista", "chartqa"], data_dir=str(data_dir)), kit.always_right, a, **common)
    run_eval(
        EvalConfig(tasks=["mathvista"], data_dir=str(data_dir), thinking_budgets=[None, 32]),
        kit.half_right,
        b,
        **common,
    )
    return a, b


def test_compare_puts_runs_side_by_side_with_dashes_for_missing(two_runs):
    a, b = two_runs
    table = compare_runs([a, b])
    lines = table.splitlines()
    assert lines[0] == "| Group | Benchmark | model-a | model-b |"
    assert "| STEM | MathVista | 100.0 | 33.3 |" in lines  # mathvista-2 is the even id: right
    assert "| OCR & Chart | ChartQA | 100.0 | — |" in lines
    assert "| OCR & Chart | **group mean** | **100.0** | — |" in lines
    assert "model-b: budget none" in table
    at_32 = compare_runs([a, b], budget="32", labels=["A", "B"])
    assert "| STEM | MathVista | — | 33.3 |" in at_32.splitlines()


def test_compare_rejects_a_directory_that_is_not_a_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="no results.json"):
        compare_runs([tmp_path])


def _parser():
    parser = argparse.ArgumentParser(prog="thinkvl eval")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser


def test_run_command_scores_saved_responses_and_compare_command(data_dir, tmp_path, kit, capsys):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/2.jpg", "images/3.jpg"])
    saved = tmp_path / "responses.jsonl"
    saved.write_text(
        "\n".join(
            json.dumps({"id": f"mathvista-{k}", "response": f"The answer is {a}"})
            for k, a in [(1, "(B) 45°"), (2, "3"), (3, "1.3")]
        )
    )
    reward_yaml = tmp_path / "reward.yaml"
    reward_yaml.write_text("limits:\n  isolation: none\n")
    out = tmp_path / "run"
    args = _parser().parse_args(
        [
            "run",
            "--responses",
            str(saved),
            "--tasks",
            "mathvista",
            "--data-dir",
            str(data_dir),
            "--out",
            str(out),
            "--lenient",
            "--reward-config",
            str(reward_yaml),
            "--quiet",
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| STEM | MathVista | accuracy | 3 | 66.7 |" in printed  # 1.3 isn't 1.25 rounded to 2 places
    args = _parser().parse_args(["compare", str(out), "--out", str(tmp_path / "cmp.md")])
    assert args.func(args) == 0
    assert "| STEM | MathVista | 66.7 |" in (tmp_path / "cmp.md").read_text()


def test_run_command_errors_are_messages_not_tracebacks(data_dir, tmp_path, capsys):
    (tmp_path / "none.jsonl").write_text("")
    argv = ["run", "--tasks", "osworld", "--out", str(tmp_path / "r"), "--responses", str(tmp_path / "none.jsonl")]
    args = _parser().parse_args(argv)
    assert args.func(args) == 2
    assert "error: OSWorld can't be scored offline" in capsys.readouterr().err
    args = _parser().parse_args(["run", "--tasks", "mathvista", "--out", str(tmp_path / "r")])
    assert args.func(args) == 2
    assert "--model DIR" in capsys.readouterr().err
    args = _parser().parse_args(["run", "--out", "r", "--budgets", "none", "512", "--responses", "x"])
    assert args.thinking_budgets == [None, 512]
    args = _parser().parse_args(["run", "--out", "r", "--budgets", "lots", "--responses", str(tmp_path / "none.jsonl")])
    assert args.func(args) == 2
    assert "thinking_budgets must be list[int | None], got ['lots']" in capsys.readouterr().err


def test_list_command_prints_every_benchmark(capsys):
    args = _parser().parse_args(["list"])
    assert args.func(args) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if line.split() and line.split()[0] in BENCHMARKS]
    assert len(rows) == len(BENCHMARKS)
    # Only the three live-environment benchmarks are refused, each followed by what it needs; the coding ones render.
    refused = [(n, line.split()[0]) for n, line in enumerate(out) if " refused " in line]
    assert [name for _, name in refused] == ["osworld", "androidworld", "webvoyager"]
    needs = [out[n + 1].strip() for n, _ in refused]
    assert "virtual machine" in needs[0] and "Android emulator" in needs[1] and "live browser" in needs[2]
    coding = {line.split()[0]: line for line in rows if line.startswith(("design2code", "flame_react"))}
    assert all("offline (browser)" in line for line in coding.values()) and len(coding) == 2
