"""The whole chain on a messy dataset: every bad record dropped with the right reason, nothing crashes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from pipeline_testdata import DatasetBuilder, pair_record, scene_caption, scene_image

from thinkvl.data.pipeline.commands import add_commands
from thinkvl.data.pipeline.config import (
    ConfigError,
    DedupConfig,
    FilterPipelineConfig,
    ImageQualityConfig,
    TextQualityConfig,
)
from thinkvl.data.pipeline.runner import run_filter_pipeline
from thinkvl.data.record import Record, validate_media


def config(src: Path, out: Path, **kw) -> FilterPipelineConfig:
    filters = [ImageQualityConfig(), TextQualityConfig(), DedupConfig()]
    return FilterPipelineConfig(input=str(src), output=str(out), filters=filters, **kw)


def drops_by_line(out: Path) -> dict[int, str]:
    found = {}
    for path in (out / "dropped").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            d = json.loads(line)
            found[d["line"]] = d["reason"].split(":")[0]
    return found


def kept_ids(out: Path) -> list[str]:
    return [json.loads(line)["id"] for line in (out / "records.jsonl").read_text().splitlines()]


def test_every_bad_record_is_dropped_with_its_reason(messy: DatasetBuilder, tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = run_filter_pipeline(config(messy.root, out, chunk_size=7, batch_size=3))
    assert drops_by_line(out) == messy.expected_drops()
    assert kept_ids(out) == messy.expected_kept()
    summary = json.loads((out / "report.json").read_text())
    assert summary["records_in"] == len(messy.lines) and summary["records_out"] == len(messy.expected_kept())
    stages = {s["filter"]: s for s in summary["stages"]}
    assert list(stages) == ["read", "image_quality", "text_quality", "dedup", "write"]
    assert stages["dedup"]["reasons"] == {
        "near_image": 4,
        "exact_text": 2,
        "exact_image": 1,
        "near_text": 1,
        "duplicate_id": 1,
    }
    for s in stages.values():
        assert s["kept"] == s["seen"] - s["dropped"]
    # each stage sees what the one before kept
    assert [s["seen"] for s in summary["stages"][1:]] == [s["kept"] for s in summary["stages"][:-1]]
    assert report.records_out == len(messy.expected_kept())
    sample = json.loads((out / "dropped" / "text_quality.jsonl").read_text().splitlines()[0])
    assert sample["id"] == "bad-ad" and sample["record"]["meta"]["caption"].startswith("Buy now")
    # The output is a dataset in its own right: every kept record validates and its images are there.
    for line in (out / "records.jsonl").read_text().splitlines():
        validate_media(Record.from_dict(json.loads(line)), out)


def test_workers_keep_order_and_give_the_same_result(messy: DatasetBuilder, tmp_path: Path) -> None:
    run_filter_pipeline(config(messy.root, tmp_path / "one", chunk_size=5))
    run_filter_pipeline(config(messy.root, tmp_path / "two", chunk_size=5, workers=2))
    assert (tmp_path / "one" / "records.jsonl").read_bytes() == (tmp_path / "two" / "records.jsonl").read_bytes()
    assert drops_by_line(tmp_path / "two") == messy.expected_drops()


def test_dropped_samples_are_bounded(messy: DatasetBuilder, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_filter_pipeline(config(messy.root, out, dropped_samples=2))
    summary = json.loads((out / "report.json").read_text())
    for stage in summary["stages"]:
        lines = (out / "dropped" / f"{stage['filter']}.jsonl").read_text().splitlines()
        assert len(lines) == min(2, stage["dropped"])
        assert all(json.loads(x)["reason"] for x in lines)


def test_adversarial_lines_never_crash(tmp_path: Path) -> None:
    b = DatasetBuilder(tmp_path / "raw")
    img = b.image("a.png", scene_image(1))
    b.add("good", img, scene_caption(1))
    b.raw("x" * 5000, "line_too_long")
    b.raw("[" * 100_000 + "]" * 100_000, "line_too_long")
    b.raw("[" * 2000 + "]" * 2000, "bad_json")  # nested past the recursion limit
    b.raw("\udcff not utf8".encode("utf-8", "surrogateescape").decode("latin-1"), "bad_json")
    b.raw(json.dumps(pair_record("weird-caption", img, {"not": "a string"})), "no_text")
    b.raw(json.dumps(pair_record("huge-caption", b.image("b.png", scene_image(2)), "word " * 300)), "repetition")
    b.raw(json.dumps(pair_record("ctrl", b.image("c.png", scene_image(3)), "\x00\x01\u202e a b c " * 20)), "symbols")
    b.raw(json.dumps(pair_record("deep", img, "x")) + "trailing", "bad_json")
    b.finish()
    with (b.root / "records.jsonl").open("ab") as f:
        f.write(b"\xff\xfe bad bytes\n")
    b.expect.append("bad_utf8")
    out = tmp_path / "out"
    run_filter_pipeline(config(b.root, out, max_line_bytes=4096))
    assert drops_by_line(out) == b.expected_drops()
    assert kept_ids(out) == ["good"]


def test_existing_output_is_not_overwritten_silently(messy: DatasetBuilder, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_filter_pipeline(config(messy.root, out))
    with pytest.raises(ConfigError, match="already exists"):
        run_filter_pipeline(config(messy.root, out))
    run_filter_pipeline(config(messy.root, out, overwrite=True))
    assert kept_ids(out) == messy.expected_kept()
    with pytest.raises(ConfigError, match="no records.jsonl"):
        run_filter_pipeline(config(tmp_path / "nowhere", tmp_path / "o2"))


def test_cli_filter_runs_a_yaml_config(messy: DatasetBuilder, tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "filter.yaml"
    cfg.write_text(
        "input: raw\noutput: cli_out\nfilters:\n"
        "  - image_quality: {min_side: 32}\n  - text_quality: {}\n  - dedup: {}\n"
    )
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["filter", str(cfg), "--quiet"])
    assert args.func(args) == 0
    assert kept_ids(tmp_path / "cli_out") == messy.expected_kept()
    assert "kept 20 of" in capsys.readouterr().out
    args = parser.parse_args(["filter", str(cfg), "--quiet"])  # output exists now
    assert args.func(args) == 2
    assert "already exists" in capsys.readouterr().err
    cfg.write_text("input: raw\noutput: x\nfilters:\n  - dedup: {}\n  - text_quality: {}\n")
    assert args.func(args) == 2
    assert "dedup must be the last filter" in capsys.readouterr().err
