"""The streaming data path: in-memory packing as a special case, every record once per epoch across data streams
× workers, resume from a data position, every source kind, and clear errors for bad shards and records."""

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from thinkvl.data.loaders import (
    DataError,
    check_source,
    iter_records,
    resolve_source,
    write_hf_dataset,
    write_jsonl,
    write_parquet,
)
from thinkvl.data.record import Record
from thinkvl.data.synth import write_dataset
from thinkvl.train.packing import pack
from thinkvl.train.samples import build_sample
from thinkvl.train.stream import Encoder, PackStream, oversample


def _text_records(n: int) -> list[Record]:
    meta = {"reasoning": "Add them.", "answer_text": "The sum is"}
    return [
        Record(
            f"r{i:03d}",
            "math" if i % 3 else "vqa",
            [{"role": "user", "content": "What is 1 + " + "1 + " * (i % 7) + "2?"}],
            "5" if i % 2 else f"answer {i}",  # a JSON-looking string stays a string
            meta=meta,
        )
        for i in range(n)
    ]


def _stream(source, bundle, **kw) -> PackStream:
    encoder = Encoder(source.root, bundle.processor, bundle.model, "sft")
    return PackStream(source, encoder, **{"pack_len": 128, **kw})


def _take(stream: PackStream, n: int) -> list[tuple[int, list[str]]]:
    """n packs as (epoch, sample ids), the epoch read from the data position after each pack."""
    it = iter(stream)
    out = []
    for _ in range(n):
        p = next(it)
        out.append((stream.position["epoch"], [s.id for s in p]))
    stream.close()
    return out


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stream_synth")
    write_dataset(root, domains=["counting", "chart", "video", "ocr"], n=4, seed=0)
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_packs_equal_in_memory_packing_when_the_buffer_holds_everything(synth_dir, tiny_bundle, workers):
    weights = {"chart": 2.5, "counting": 0.5}
    source = resolve_source(str(synth_dir))
    records = list(iter_records(source))
    samples = [build_sample(r, synth_dir, tiny_bundle.processor, tiny_bundle.model, "sft") for r in records]
    weighted = oversample(samples, {r.id: r.domain for r in records}, weights, seed=3)
    packs, _ = pack(weighted, 512)
    # The in-memory path: every epoch a fresh seeded permutation of the same packs.
    expected = []
    for epoch in range(3):
        order = torch.randperm(len(packs), generator=torch.Generator().manual_seed(3 * 100_003 + epoch))
        expected += [(epoch, [s.id for s in packs[int(i)]]) for i in order]
    stream = _stream(source, tiny_bundle, pack_len=512, seed=3, num_workers=workers, domain_weights=weights)
    assert _take(stream, len(expected)) == expected
    # Same tensors, not only the same ids.
    first = next(iter(_stream(source, tiny_bundle, pack_len=512, seed=3, domain_weights=weights)))
    order = torch.randperm(len(packs), generator=torch.Generator().manual_seed(3 * 100_003))
    for a, b in zip(first, packs[int(order[0])], strict=True):
        assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.position_ids, b.position_ids)
        assert (a.pixel_values is None) == (b.pixel_values is None)
        if a.pixel_values is not None:
            assert torch.equal(a.pixel_values, b.pixel_values)


def test_every_record_once_per_epoch_across_streams_and_workers(tmp_path, tiny_bundle):
    records = _text_records(23)
    write_jsonl(records, tmp_path / "records.jsonl")
    with (tmp_path / "records.jsonl").open("a") as f:  # two bad records: not JSON, and no meta.reasoning
        f.write("{not json\n")
        f.write(json.dumps({**records[0].to_dict(), "id": "bad", "meta": {}}) + "\n")
    source = resolve_source(str(tmp_path))
    per_epoch: dict[int, Counter] = {}
    skipped, complete = [], None
    for s in range(2):
        stream = _stream(source, tiny_bundle, buffer=4, stream=s, streams=2, num_workers=2, pack_len=96)
        packs = _take(stream, 40)
        for epoch, ids in packs:
            per_epoch.setdefault(epoch, Counter()).update(ids)
        skipped.append(stream.skipped)
        done = set(range(packs[-1][0]))  # each stream's last epoch may be cut short
        complete = done if complete is None else complete & done
    assert len(complete) >= 2
    for epoch in complete:
        assert per_epoch[epoch] == Counter(r.id for r in records), epoch
    # Each bad record is skipped by the stream it belongs to every epoch, and counted once with its reason.
    assert [len(s) for s in skipped] == [1, 1]
    text = " ".join(s.describe() for s in skipped)
    assert "records.jsonl:24: " in text and "not valid JSON" in text
    assert "bad: " in text and "no reasoning: " in text


@pytest.mark.parametrize("buffer", [5, 64])
def test_resume_from_a_data_position_replays_the_same_packs(tmp_path, tiny_bundle, buffer):
    write_jsonl(_text_records(30), tmp_path / "records.jsonl")
    source = resolve_source(str(tmp_path))
    weights = {"vqa": 1.5}
    reference = _take(_stream(source, tiny_bundle, buffer=buffer, domain_weights=weights, pack_len=96), 40)
    for k in (1, 7, 23):
        first = _stream(source, tiny_bundle, buffer=buffer, domain_weights=weights, num_workers=2, pack_len=96)
        head = _take(first, k)
        state = json.loads(json.dumps(first.state_dict()))  # it is saved as plain data
        resumed = _stream(source, tiny_bundle, buffer=buffer, domain_weights=weights, num_workers=1, pack_len=96)
        resumed.load_state_dict(state)
        assert head + _take(resumed, 40 - k) == reference, k
    with pytest.raises(ValueError, match="pack_buffer"):
        _stream(source, tiny_bundle, buffer=buffer + 1).load_state_dict(state)


def test_every_source_kind_streams_the_same_records(tmp_path):
    records = _text_records(12)
    write_jsonl(records, tmp_path / "jsonl" / "records.jsonl")
    (tmp_path / "shards").mkdir()
    write_parquet(records[:5], tmp_path / "shards" / "part-0.parquet")
    write_parquet(records[5:], tmp_path / "shards" / "part-1.parquet")
    write_hf_dataset(records, tmp_path / "hf")
    (tmp_path / "pq").mkdir()
    write_parquet(records, tmp_path / "pq" / "train.parquet")
    ids = [r.id for r in records]
    for spec in ("jsonl", "jsonl/records.jsonl", "hf", "pq/train.parquet", "hf:" + str(tmp_path / "pq")):
        path = spec if spec.startswith("hf:") else str(tmp_path / spec)
        got = list(iter_records(resolve_source(path)))
        assert [(r.id, r.answer, r.meta) for r in got] == [(r.id, r.answer, r.meta) for r in records], spec
    sharded = resolve_source(str(tmp_path / "shards"))
    assert sharded.kind == "parquet" and len(sharded.shards) == 2
    assert sorted(r.id for r in iter_records(sharded)) == ids
    assert [r.id for r in iter_records(resolve_source(str(tmp_path / "jsonl")), ["vqa"])] == ids[::3]


def test_unreadable_shards_fail_with_one_line_naming_them(tmp_path, tiny_bundle):
    with pytest.raises(DataError, match="dataset not found"):
        resolve_source(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no records.jsonl"):
        resolve_source(str(tmp_path / "empty"))
    write_parquet(_text_records(4), tmp_path / "a.parquet")
    (tmp_path / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    source = resolve_source(str(tmp_path))
    with pytest.raises(DataError, match=r"cannot read shard .*b\.parquet") as err:
        check_source(source)
    assert "\n" not in str(err.value)
    # The same shard going bad mid-run (after the check) stops training with the same kind of error.
    with pytest.raises(DataError, match=r"b\.parquet"):
        _take(_stream(source, tiny_bundle, num_workers=1, seed=1), 10)


def test_samples_from_workers_leave_shared_memory(synth_dir, tiny_bundle):
    # Each shared-memory tensor holds a file descriptor while it lives; a buffer of them exhausted the demo's
    # descriptors ("Too many open files") when the packs of a whole epoch were kept.
    stream = _stream(resolve_source(str(synth_dir)), tiny_bundle, pack_len=512, num_workers=1)
    packs = [next(iter(stream))]
    stream.close()
    tensors = [
        t for p in packs for s in p for t in (s.input_ids, s.labels, s.position_ids, s.pixel_values) if t is not None
    ]
    assert tensors and not any(t.is_shared() for t in tensors)
