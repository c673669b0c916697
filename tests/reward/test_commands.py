"""`thinkvl reward score` and `thinkvl reward check`, through argparse as the CLI mounts them."""

from __future__ import annotations

import argparse
import json

import pytest

from thinkvl.reward.commands import add_commands


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="thinkvl reward")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_check_exit_codes_and_output(respond, capsys) -> None:
    args = _parse(["check", respond("[0, 0, 10, 10]"), "--domain", "grounding", "--answer", "[0, 0, 10, 10]"])
    assert args.func(args) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["correct"] and verdict["extracted"] == "[0, 0, 10, 10]"
    args = _parse(["check", respond("A"), "--domain", "choice", "--answer", "B", "--choices", "red", "green"])
    assert args.func(args) == 1
    args = _parse(["check", respond("x"), "--domain", "caption", "--answer", "a cat"])  # refused before any worker
    assert args.func(args) == 2
    assert "not verifiable" in capsys.readouterr().err


def test_check_reads_a_file_and_lenient_mode(tmp_path, capsys) -> None:
    path = tmp_path / "resp.txt"
    path.write_text("Some reasoning... so the final answer is \\boxed{12}.")
    config = tmp_path / "reward.yaml"
    config.write_text("limits: {isolation: none}\n")
    args = _parse(["check", f"@{path}", "--domain", "math", "--answer", "12", "--config", str(config)])
    assert args.func(args) == 1  # strict: no thinking format
    assert "format" in json.loads(capsys.readouterr().out)["reason"]
    args = _parse(["check", f"@{path}", "--domain", "math", "--answer", "12", "--lenient", "--config", str(config)])
    assert args.func(args) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["extracted"] == "12" and not verdict["format_ok"]


def test_score_writes_verdicts_and_prints_a_summary(tmp_path, respond, capsys) -> None:
    rollouts = tmp_path / "rollouts.jsonl"
    rows = [
        {"response": respond("4"), "record": {"id": "a", "domain": "math", "answer": "4"}},
        {"response": respond("5"), "id": "b", "domain": "math", "answer": "4"},
        {"response": "garbage", "id": "c", "domain": "counting", "answer": 2},
    ]
    rollouts.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    args = _parse(["score", str(rollouts), "--workers", "1"])
    assert args.func(args) == 0
    out = [json.loads(line) for line in (tmp_path / "rollouts.verdicts.jsonl").read_text().splitlines()]
    assert [(v["id"], v["correct"], v["format_ok"]) for v in out] == [
        ("a", True, True),
        ("b", False, True),
        ("c", False, False),
    ]
    printed = capsys.readouterr().out
    assert "math" in printed and "counting" in printed and "50.0%" in printed


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json\n", "rollouts.jsonl:1: not JSON"), ('{"record": {}}\n', "needs a 'response'")],
)
def test_score_reports_bad_lines(tmp_path, capsys, content: str, message: str) -> None:
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text(content)
    args = _parse(["score", str(rollouts)])
    assert args.func(args) == 2
    assert message in capsys.readouterr().err
