"""What the training data path says about odd data: an empty shard is named, an empty records file is called empty
(not a domain problem), a bad record is counted once however many epochs pass, and a bad flag is named as a flag."""

from __future__ import annotations

import logging

import pytest

from thinkvl.cli import main
from thinkvl.data.loaders import check_source, resolve_source, write_jsonl, write_parquet
from thinkvl.data.record import Record
from thinkvl.train.stream import Encoder, PackStream


def _records(n: int, start: int = 0) -> list[Record]:
    meta = {"reasoning": "Add them.", "answer_text": "The sum is"}
    return [
        Record(f"r{i:03d}", "math", [{"role": "user", "content": f"What is {i} + 2?"}], str(i + 2), meta=meta)
        for i in range(start, start + n)
    ]


def _stream(source, bundle, **kw) -> PackStream:
    encoder = Encoder(source.root, bundle.processor, bundle.model, "sft", domains=kw.pop("domains", None))
    return PackStream(source, encoder, **{"pack_len": 96, **kw})


@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_an_empty_shard_is_named_in_a_warning(tmp_path, caplog, kind):
    write = write_jsonl if kind == "jsonl" else write_parquet
    write(_records(3), tmp_path / f"part-0.{kind}")
    write([], tmp_path / f"part-1.{kind}")
    with caplog.at_level(logging.WARNING, logger="thinkvl.train.stream"):
        check_source(resolve_source(str(tmp_path)))
    empty = tmp_path / f"part-1.{kind}"
    assert [r.getMessage() for r in caplog.records] == [f"shard {empty} is empty: it adds no records"]


def test_an_empty_records_file_is_called_empty(tmp_path, tiny_bundle):
    (tmp_path / "records.jsonl").write_text("")
    with pytest.raises(ValueError, match=r"records\.jsonl \(epoch 0\): it holds no records \(empty\)") as err:
        next(iter(_stream(resolve_source(str(tmp_path)), tiny_bundle)))
    assert "domains" not in str(err.value)


def test_rl_calls_an_empty_records_file_empty(tmp_path):
    from thinkvl.rl.config import RLConfig
    from thinkvl.rl.run import _dataset

    (tmp_path / "records.jsonl").write_text("")
    with pytest.raises(ValueError, match="the records file is empty"):
        _dataset(RLConfig(data=str(tmp_path)))
    write_jsonl(_records(2), tmp_path / "records.jsonl")
    with pytest.raises(ValueError, match=r"no verifiable records .*domains: \['ocr'\]"):
        _dataset(RLConfig(data=str(tmp_path), domains=["ocr"]))


def test_records_outside_the_domains_still_say_check_domains(tmp_path, tiny_bundle):
    write_jsonl(_records(3), tmp_path / "records.jsonl")
    with pytest.raises(ValueError, match=r"none of its 3 record\(s\) is in the domains trained on \(check domains\)"):
        next(iter(_stream(resolve_source(str(tmp_path)), tiny_bundle, domains=["ocr"])))


@pytest.mark.parametrize("workers", [0, 1])
def test_a_missing_image_is_counted_once_not_once_per_epoch(tmp_path, tiny_bundle, workers):
    missing = Record(
        "no-image",
        "vqa",
        [{"role": "user", "content": [{"type": "image", "image": "gone.png"}, {"type": "text", "text": "What?"}]}],
        "x",
        meta={"reasoning": "Look.", "answer_text": "It is"},
    )
    write_jsonl([*_records(6), missing, *_records(5, 6)], tmp_path / "records.jsonl")
    stream = _stream(resolve_source(str(tmp_path)), tiny_bundle, buffer=4, num_workers=workers)  # never whole
    packs = iter(stream)
    while stream.position["epoch"] < 3:
        next(packs)
    stream.close()
    assert len(stream.skipped) == 1 and stream.skipped.counts() == {"missing image": 1}


def test_a_resumed_stream_counts_records_before_its_start_once_too(tmp_path, tiny_bundle):
    rows = [*_records(6), Record("bad", "math", [{"role": "user", "content": "q"}], "1", meta={})]
    write_jsonl([*rows, *_records(5, 6)], tmp_path / "records.jsonl")
    stream = _stream(resolve_source(str(tmp_path)), tiny_bundle, buffer=4)
    stream.load_state_dict({"epoch": 1, "start": 8, "emitted": 0, "stream": 0, "streams": 1, "buffer": 4})
    packs = iter(stream)
    while stream.position["epoch"] < 4:
        next(packs)
    stream.close()
    assert len(stream.skipped) == 1  # met first in epoch 2 (it is before the start), then never counted again


def test_a_bad_flag_is_named_as_the_flag_not_the_yaml_file(tmp_path, capsys):
    config = tmp_path / "sft.yaml"
    config.write_text(f"stage: sft\nmodel: tiny\ndata: {tmp_path}\nout: {tmp_path / 'out'}\nsteps: 1\n")
    for value, why in (("-1", "lr must be > 0"), ("abc", "lr must be a number")):
        assert main(["sft", str(config), f"--lr={value}", "--steps", "2"]) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith(f"thinkvl: error: --lr: {why}") and str(config) not in last, last
    config.write_text("stage: sft\nlr: -1\n")  # the file's own mistake is still the file's
    assert main(["sft", str(config), "--steps", "2"]) == 2
    assert str(config) in capsys.readouterr().err
