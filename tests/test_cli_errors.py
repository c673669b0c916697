"""Expected failures end in one line naming the cause and exit status 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinkvl.cli import main
from thinkvl.data.synth import write_dataset
from thinkvl.model import load_bundle, save_bundle


def _one_line_error(capsys, status: int, *needles: str) -> str:
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert "error" in last or last.startswith("thinkvl"), err
    for needle in needles:
        assert needle in last, err
    return last


@pytest.fixture
def data(tmp_path: Path) -> Path:
    write_dataset(tmp_path / "data", ["counting"], n=2, seed=0, levels=[0])
    return tmp_path / "data"


def test_output_path_that_is_a_file(tmp_path, data, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    cfg = tmp_path / "sft.yaml"
    cfg.write_text("stage: sft\nsteps: 1\nbatch_size: 1\nmicro_batch: 1\n")
    status = main(["sft", str(cfg), "--data", str(data), "--out", str(blocker)])
    _one_line_error(capsys, status, str(blocker), "File exists")
    status = main(["sft", str(cfg), "--data", str(data), "--out", str(blocker / "run")])
    _one_line_error(capsys, status, str(blocker / "run"), "Not a directory")

    saved = tmp_path / "responses.jsonl"
    saved.write_text(json.dumps({"id": "x", "response": "4"}) + "\n")
    status = main(["eval", "run", "--responses", str(saved), "--tasks", "synth", "--out", str(blocker), "--quiet"])
    _one_line_error(capsys, status, str(blocker))

    filt = tmp_path / "filter.yaml"
    filt.write_text(f"input: {data}\noutput: {blocker / 'out'}\nfilters:\n  - text_quality: {{min_words: 1}}\n")
    status = main(["data", "filter", str(filt), "--quiet"])
    _one_line_error(capsys, status, str(blocker / "out"))

    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text(json.dumps({"response": "\\boxed{4}", "domain": "counting", "answer": 4}) + "\n")
    status = main(["reward", "score", str(rollouts), "--out", str(blocker / "v.jsonl"), "--workers", "1"])
    _one_line_error(capsys, status, str(blocker / "v.jsonl"))


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_weights_are_named(tmp_path, tiny_bundle, capsys, damage):
    model = save_bundle(tiny_bundle, tmp_path / "model")
    weights = model / "model.safetensors"
    if damage == "truncate":
        with weights.open("r+b") as f:
            f.truncate(weights.stat().st_size // 2)
    else:
        weights.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="weights are corrupt or truncated"):
        load_bundle(model)
    status = main(["chat", "how many?", "--model", str(model)])
    _one_line_error(capsys, status, str(model), "corrupt or truncated")


@pytest.mark.parametrize("text", ["steps: [1\n", "- a\n- b\n"], ids=["malformed", "top-level list"])
def test_bad_yaml_is_one_line_for_every_command(tmp_path, data, capsys, text):
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text(json.dumps({"response": "x", "domain": "counting", "answer": 4}) + "\n")
    saved = tmp_path / "responses.jsonl"
    saved.write_text(json.dumps({"id": "x", "response": "4"}) + "\n")
    commands = [
        ["sft", str(bad)],
        ["pretrain", str(bad)],
        ["rl", str(bad)],
        ["grade", str(bad)],
        ["demo", "--config", str(bad), "--out", str(tmp_path / "demo")],
        ["data", "filter", str(bad)],
        ["reward", "score", str(rollouts), "--config", str(bad), "--workers", "1"],
        ["eval", "run", "--config", str(bad), "--responses", str(saved), "--out", str(tmp_path / "e")],
        ["eval", "run", "--reward-config", str(bad), "--responses", str(saved), "--out", str(tmp_path / "e")],
    ]
    for argv in commands:
        line = _one_line_error(capsys, main(argv), str(bad))
        assert ("malformed YAML (line" in line) or ("mapping" in line), (argv, line)
