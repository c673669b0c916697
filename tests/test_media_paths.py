"""A record's media path may not leave its dataset directory (``..``, an absolute path, a symlink out) on any route:
loading, local generation and training (`load_media`), and a served model, which would send the file away."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from thinkvl.data.loaders import load_records
from thinkvl.data.record import ALLOW_MEDIA_OUTSIDE_ROOT, MediaPathError, Record, RecordError, media_path
from thinkvl.eval.endpoint import EndpointModel
from thinkvl.eval.loaders import LoadedBenchmark
from thinkvl.eval.registry import BENCHMARKS
from thinkvl.eval.runner import EndpointConfig, run_benchmark
from thinkvl.eval.stub_server import StubServer, chat_reply
from thinkvl.model.processor import load_media
from thinkvl.reward import RewardConfig, RewardSystem


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """``data/`` (a dataset with one good image) and ``secret.png`` beside it, with a symlink to it inside."""
    data, secret = tmp_path / "data", tmp_path / "secret.png"
    (data / "images").mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(data / "images" / "ok.png")
    Image.new("RGB", (8, 8), "blue").save(secret)
    (data / "images" / "link.png").symlink_to(secret)
    return {"data": data, "secret": secret}


def _record(rid: str, image: str) -> Record:
    content = [{"type": "image", "image": image}, {"type": "text", "text": "What colour?"}]
    return Record(id=rid, domain="vqa", messages=[{"role": "user", "content": content}], answer="red")


def _escapes(layout: dict[str, Path]) -> list[str]:
    return ["../secret.png", str(layout["secret"]), "images/link.png", "../" * 12 + "etc/hostname"]


def test_media_path_refuses_every_way_out(layout):
    assert media_path(layout["data"], "images/ok.png") == (layout["data"] / "images" / "ok.png").resolve()
    for rel in _escapes(layout):
        with pytest.raises(MediaPathError, match=f"leaves the dataset directory.*{ALLOW_MEDIA_OUTSIDE_ROOT}=1"):
            media_path(layout["data"], rel)


def test_load_records_refuses_them_without_check_media(layout):
    for rel in _escapes(layout):
        (layout["data"] / "records.jsonl").write_text(json.dumps(_record("r1", rel).to_dict()) + "\n")
        with pytest.raises(RecordError, match=r"record 'r1', field 'messages\[0\].content\[0\]'.*leaves"):
            load_records(layout["data"])
        assert load_records(layout["data"], on_error="skip").errors


def test_local_generation_and_training_refuse_them(layout):
    """`load_media` is what the transformers and vLLM engines, SFT samples and RL prompts open media through."""
    assert len(load_media(_record("ok", "images/ok.png").messages, layout["data"])[0]) == 1
    for rel in _escapes(layout):
        with pytest.raises(MediaPathError):
            load_media(_record("bad", rel).messages, layout["data"])


def test_a_served_model_is_never_sent_a_file_from_outside(layout, tmp_path):
    """The Python API route (records → `LoadedBenchmark` → `run_benchmark`) skips the loaders' checks: the request
    builder refuses the item itself, and it is saved as an error row."""
    records = [_record("ok", "images/ok.png"), _record("out", "images/link.png"), _record("up", "../secret.png")]
    loaded = LoadedBenchmark(bench=BENCHMARKS["synth"], records=records, root=layout["data"])
    scorer = RewardSystem(RewardConfig.from_yaml(None))
    with StubServer(lambda path, body: chat_reply("<answer>red</answer>")) as server:
        model = EndpointModel(EndpointConfig(server.url, "m"), backoff=0.01)
        rows = run_benchmark(loaded, model, tmp_path / "out", None, scorer, batch_size=4)
    assert len(server.requests) == 1  # only the item whose image is inside the dataset
    errors = {row["id"]: row["error"] for row in rows if "error" in row}
    assert set(errors) == {"out", "up"} and all("leaves the dataset directory" in e for e in errors.values())


def test_the_opt_in_allows_them(layout, monkeypatch):
    monkeypatch.setitem(os.environ, ALLOW_MEDIA_OUTSIDE_ROOT, "1")
    for rel in _escapes(layout)[:3]:
        assert media_path(layout["data"], rel) == layout["secret"].resolve()
        assert len(load_media(_record("out", rel).messages, layout["data"])[0]) == 1
