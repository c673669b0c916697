"""Skipped records keep their reasons (printed, counted in the metrics, in the error when none is left);
an interrupted checkpoint save leaves nothing behind after the next start."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.train.checkpoint import MARKER, latest_checkpoint
from thinkvl.train.config import StageConfig
from thinkvl.train.samples import Skipped, skip_reason
from thinkvl.train.trainer import run_stage


def _data(tmp_path: Path, n: int = 4) -> tuple[Path, list]:
    write_dataset(tmp_path / "data", ["counting"], n=n, seed=0, levels=[0])
    return tmp_path / "data", load_records(tmp_path / "data").records


def _damage(root: Path, records: list, how: list[str]) -> None:
    for record, kind in zip(records, how):
        (_, rel), *_ = record.media()
        path = root / rel
        if kind == "missing":
            path.unlink()
        elif kind == "truncated":
            path.write_bytes(path.read_bytes()[:40])
        elif kind == "bomb":
            Image.new("1", (9000, 9000)).save(path)  # 81 M pixels, over the 64 M limit


def _cfg(tmp_path: Path, data: Path, **kw) -> StageConfig:
    base = dict(stage="sft", data=str(data), out=str(tmp_path / "run"), steps=1, batch_size=1, micro_batch=1)
    return StageConfig(**(base | kw))


def test_skip_reasons_are_named_and_counted():
    skipped = Skipped()
    for i, message in enumerate(
        [
            "image file not found: /d/a.png",
            "corrupt or unreadable image a.png: truncated",
            "image a.png is 6000x6000 = 36,000,000 pixels, over the limit of 16,777,216",
            "image file not found: /d/b.png",
            "something new",
        ]
    ):
        skipped.add(f"r{i}", ValueError(message))
    assert skip_reason("record 'x' has no meta.caption for pre-training") == "no caption"
    assert skipped.metrics() == {
        "data/skipped_records": 5,
        "data/skipped/corrupt image": 1,
        "data/skipped/image too large": 1,
        "data/skipped/missing image": 2,
        "data/skipped/other": 1,
    }
    text = skipped.describe(first=2)
    assert text.startswith("5 record(s) skipped (missing image: 2, ") and "r0: image file not found" in text
    assert "r2:" not in text and text.endswith("(and 3 more)")


def test_when_every_record_is_skipped_the_error_gives_the_reasons(tmp_path):
    data, records = _data(tmp_path, n=3)
    _damage(data, records, ["missing", "truncated", "bomb"])
    with pytest.raises(ValueError) as err:
        run_stage(_cfg(tmp_path, data, overflow="truncate"), show_progress=False)
    message = str(err.value)
    assert "pack_len" not in message
    for reason in ("missing image: 1", "corrupt image: 1", "image too large: 1", records[0].id):
        assert reason in message


def test_some_skipped_records_are_printed_and_counted_in_the_metrics(tmp_path, capsys):
    data, records = _data(tmp_path, n=4)
    _damage(data, records, ["missing"])
    result = run_stage(_cfg(tmp_path, data), show_progress=True)
    assert result.skipped_records == 1
    assert f"1 record(s) skipped (missing image: 1): {records[0].id}: image file not found" in capsys.readouterr().err
    first = read_metrics(tmp_path / "run" / "metrics.jsonl")[0]
    assert first["data/skipped_records"] == 1 and first["data/skipped/missing image"] == 1


def test_leftover_temporary_checkpoints_are_removed_at_start_up(tmp_path):
    parent = tmp_path / "checkpoints"
    (parent / "step-00000002").mkdir(parents=True)
    (parent / "step-00000002" / MARKER).write_text("ok")
    leftover = parent / ".step-00000004.k3j2_x"  # what a kill during save_checkpoint leaves
    (leftover / "model").mkdir(parents=True)
    (leftover / "model" / "model.safetensors").write_bytes(b"\0" * 1024)
    assert latest_checkpoint(parent).name == "step-00000002"
    assert sorted(p.name for p in parent.iterdir()) == ["step-00000002"]
