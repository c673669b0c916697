import json
import struct
import zlib

import pytest

from thinkvl.data.loaders import load_records, write_hf_dataset, write_jsonl, write_parquet
from thinkvl.data.record import Record, RecordError, validate_media


def _record(**over) -> dict:
    base = {
        "id": "r1",
        "domain": "counting",
        "messages": [
            {"role": "user", "content": [{"type": "image", "image": "red.png"}, {"type": "text", "text": "?"}]}
        ],
        "answer": 3,
        "difficulty": 1,
        "meta": {"caption": "three dots"},
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"domain": "poetry"}, "domain", "unknown domain"),
        ({"answer": -2}, "answer", "non-negative integer"),
        ({"answer": ""}, "answer", "empty answer"),
        ({"domain": "grounding", "answer": [10, 10, 5, 900]}, "answer", "x1<=x2"),
        ({"domain": "grounding", "answer": [0, 0, 10, 1001]}, "answer", "0–1000"),
        ({"domain": "choice", "answer": "E", "meta": {"choices": ["a", "b", "c"]}}, "answer", "A–C"),
        ({"domain": "choice", "answer": "A", "meta": {"choices": ["only"]}}, "answer", "meta.choices"),
        ({"messages": []}, "messages", "non-empty"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0]", "role"),
        ({"messages": [{"role": "user", "content": [{"type": "video", "video": ["a.png"]}]}]}, "content[0]", "fps"),
        ({"difficulty": "hard"}, "difficulty", "integer"),
    ],
)
def test_validation_names_record_and_field(change, field, reason):
    with pytest.raises(RecordError) as info:
        Record.from_dict(_record(**change))
    assert info.value.record_id == "r1"
    assert field in info.value.field_name
    assert reason in info.value.reason


def test_missing_field_and_non_object():
    data = _record()
    del data["answer"]
    with pytest.raises(RecordError, match="'answer': missing"):
        Record.from_dict(data)
    with pytest.raises(RecordError, match="JSON object"):
        Record.from_dict([1, 2])


def _png_header_only(path, width, height):
    """A PNG whose header claims width×height: opening it must not decode (or allocate) the pixels."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_media_errors_missing_corrupt_and_bomb(image_dir):
    record = Record.from_dict(_record())
    validate_media(record, image_dir)  # the good case passes
    missing = Record.from_dict(
        _record(messages=[{"role": "user", "content": [{"type": "image", "image": "nope.png"}]}])
    )
    with pytest.raises(RecordError, match="not found"):
        validate_media(missing, image_dir)
    (image_dir / "bad.png").write_bytes(b"\x89PNG garbage")
    corrupt = Record.from_dict(_record(messages=[{"role": "user", "content": [{"type": "image", "image": "bad.png"}]}]))
    with pytest.raises(RecordError, match="corrupt"):
        validate_media(corrupt, image_dir)
    for size in ((100_000, 100_000), (20_000, 5_000)):  # over Pillow's own bomb limit, and over ours only
        _png_header_only(image_dir / "bomb.png", *size)
        bomb = Record.from_dict(
            _record(messages=[{"role": "user", "content": [{"type": "image", "image": "bomb.png"}]}])
        )
        with pytest.raises(RecordError, match="over the limit") as info:
            validate_media(bomb, image_dir)
        assert info.value.field_name == "messages[0].content[0]"
    escape = Record.from_dict(_record(messages=[{"role": "user", "content": [{"type": "image", "image": "../x.png"}]}]))
    with pytest.raises(RecordError, match="leaves the dataset"):
        validate_media(escape, image_dir)


def test_jsonl_parquet_and_hf_round_trip(image_dir):
    records = [Record.from_dict(_record(id=f"r{i}", answer=i)) for i in range(3)] + [
        Record.from_dict(_record(id="g", domain="grounding", answer=[[1, 2, 3, 4], [5, 6, 7, 8]], difficulty=None))
    ]
    write_jsonl(records, image_dir / "records.jsonl")
    write_parquet(records, image_dir / "data.parquet")
    write_hf_dataset(records, image_dir / "hf")
    for source in (image_dir, image_dir / "data.parquet", image_dir / "hf"):
        loaded = load_records(source)
        assert [r.to_dict() for r in loaded] == [r.to_dict() for r in records]
    assert load_records(image_dir, check_media=True).root == image_dir


def test_malformed_lines_raise_or_are_skipped_with_reasons(tmp_path):
    lines = [
        json.dumps(_record(id="ok")),
        "{not json",
        json.dumps(_record(id="bad", domain="x")),
        json.dumps(_record(id="ok")),
    ]
    (tmp_path / "records.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RecordError, match="records.jsonl:2"):
        load_records(tmp_path)
    loaded = load_records(tmp_path, on_error="skip")
    assert [r.id for r in loaded] == ["ok"]
    assert len(loaded.errors) == 3
    assert "duplicate id" in loaded.errors[2]
