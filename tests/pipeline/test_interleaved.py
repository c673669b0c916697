"""The interleaved builder: OBELICS-layout parquet in (bytes, structs, paths), filtered per image and per document,
every drop counted by filter and reason, interleaved records out that load and keep their reading order."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from test_relevance import COLOUR_NAMES, SHAPES, SIZE, caption, shape_image, tiny_clip  # noqa: F401 (fixture)

from thinkvl.config import ConfigError, from_mapping
from thinkvl.data.loaders import load_records
from thinkvl.data.pipeline.config import RelevanceConfig
from thinkvl.data.pipeline.interleaved import (
    InterleavedConfig,
    WebImageConfig,
    build_interleaved,
    web_image_problem,
)
from thinkvl.data.pipeline.relevance import ClipScorer
from thinkvl.data.synth.documents import paragraph, picture, png, qr_like, web_documents, write_web_documents


def test_web_image_heuristics() -> None:
    cfg = WebImageConfig()
    assert web_image_problem(picture(1), cfg) is None
    assert web_image_problem(picture(2, (40, 300)), cfg).startswith("too_small")
    assert web_image_problem(picture(3, (600, 100)), cfg).startswith("ad_banner")
    assert web_image_problem(qr_like(4), cfg).startswith("qr_like")
    assert web_image_problem(Image.new("RGB", (100, 100), "white"), cfg).startswith("few_colours")
    text = Image.new("RGB", (200, 100), "white")  # black text on white is not a QR code
    from PIL import ImageDraw

    ImageDraw.Draw(text).text((5, 40), "Black text on a white page.", fill="black")
    assert not (web_image_problem(text, cfg) or "").startswith("qr_like")


def test_builder_keeps_good_documents_and_counts_every_drop(tmp_path: Path) -> None:
    src = write_web_documents(tmp_path / "web" / "a.parquet", n=6, seed=3)
    # A second shard: images as paths (relative to the parquet file), a URL, a Hugging Face Image struct, bad bytes.
    picture(500).save(tmp_path / "web" / "local.png")
    rows = [
        {"texts": [paragraph(501), None, paragraph(502)], "images": [None, {"path": "local.png", "bytes": None}, None]},
        {"texts": [paragraph(503), None, None], "images": [None, {"path": None, "bytes": b"not a png"}, None]},
        {"texts": [paragraph(504), None], "images": [None, {"path": "https://example.com/x.jpg", "bytes": None}]},
        {"texts": [paragraph(505), None, None], "images": [None, {"path": None, "bytes": png(picture(506))}, None]},
    ]
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    images = pa.array([r["images"] for r in rows], type=pa.list_(struct))
    pq.write_table(pa.table({"texts": [r["texts"] for r in rows], "images": images}), tmp_path / "web" / "b.parquet")

    out = tmp_path / "out"
    report = build_interleaved(InterleavedConfig(input=str(src.parent), output=str(out)))
    docs = web_documents(6, seed=3)
    n_images = sum(sum(i is not None for i in d["images"]) for d in docs) + 4
    assert (report.documents_in, report.images_in) == (len(docs) + 4, n_images)
    expected = {
        "image_quality": {"images": {"too_small": 1, "few_colours": 1, "ad_banner": 1, "qr_like": 1}, "documents": {}},
        "text_quality": {"images": {"ad": 1}, "documents": {"ad": 1}},
        "dedup": {"images": {"exact_image": 1, "exact_text": 2}, "documents": {"exact_text": 1}},
        "read": {"images": {"corrupt": 1, "remote_image": 1}, "documents": {}},
        "min_images": {"images": {}, "documents": {"no_images": 2}},
    }
    assert report.to_json()["dropped"] == expected
    assert report.documents_out == report.documents_in - 4
    assert report.images_out == n_images - sum(sum(f["images"].values()) for f in expected.values())
    assert json.loads((out / "report.json").read_text())["dropped"] == expected

    dataset = load_records(out, check_media=True)  # every kept image is written and decodes
    assert len(dataset) == report.documents_out
    first = dataset.records[0]
    kinds = [p["type"] for p in first.messages[0]["content"]]
    assert first.domain == "interleaved" and kinds == ["text", "image", "text", "image", "text"]
    assert first.messages[0]["content"][0]["text"].strip() == docs[0]["texts"][0]
    assert (out / first.messages[0]["content"][1]["image"]).read_bytes() == docs[0]["images"][1]
    local = next(r for r in dataset if r.id == "b-000000")
    assert [p["type"] for p in local.messages[0]["content"]] == ["text", "image", "text"]


def test_relevance_drops_images_unrelated_to_their_text(tiny_clip: Path, tmp_path: Path) -> None:  # noqa: F811
    rng = random.Random(5)
    texts, images, matched = [], [], []
    for i in range(60):
        c, s = rng.choice(COLOUR_NAMES), rng.choice(SHAPES)
        words = (c, s) if i % 2 == 0 else rng.choice([(c2, s2) for c2 in COLOUR_NAMES for s2 in SHAPES if c2 != c])
        texts.append(caption(*words, rng))
        images.append(shape_image(c, s, SIZE, rng).resize((64, 64)))
        matched.append(i % 2 == 0)
    scores = np.asarray(ClipScorer(tiny_clip).scores(images, texts))
    threshold = float(np.median(scores))
    table = pa.table({"texts": [[t, None] for t in texts], "images": [[None, png(im)] for im in images]})
    pq.write_table(table, tmp_path / "shapes.parquet")
    cfg = InterleavedConfig(
        input=str(tmp_path / "shapes.parquet"),
        output=str(tmp_path / "out"),
        images=WebImageConfig(min_side=32),
        text_quality=None,
        relevance=RelevanceConfig(model=str(tiny_clip), threshold=threshold),
        dedup=None,
    )
    report = build_interleaved(cfg)
    kept = {r.id for r in load_records(tmp_path / "out")}
    should_keep = {f"shapes-{i:06d}" for i in range(60) if scores[i] >= threshold}
    assert kept == should_keep  # per image, exactly the scorer's verdict
    assert report.to_json()["dropped"]["relevance"]["images"] == {"low_clip_score": 60 - len(kept)}
    kept_matched = np.mean([f"shapes-{i:06d}" in kept for i in range(60) if matched[i]])
    kept_unmatched = np.mean([f"shapes-{i:06d}" in kept for i in range(60) if not matched[i]])
    assert kept_matched - kept_unmatched >= 0.5, (kept_matched, kept_unmatched)


def test_config_reads_nested_sections_and_names_bad_fields(tmp_path: Path) -> None:
    cfg = from_mapping(InterleavedConfig, {"input": "a", "output": "b", "images": {"min_side": 10}, "dedup": None})
    assert cfg.images.min_side == 10 and cfg.dedup is None and cfg.text_quality is not None
    with pytest.raises(ConfigError, match="min_sid"):
        from_mapping(InterleavedConfig, {"input": "a", "output": "b", "images": {"min_sid": 10}})
    with pytest.raises(FileNotFoundError, match="no parquet"):
        build_interleaved(InterleavedConfig(input=str(tmp_path / "none"), output=str(tmp_path / "o")))


def test_command_runs_the_shipped_config_with_flags_on_top(tmp_path: Path, capsys) -> None:
    from thinkvl.cli import main

    src = write_web_documents(tmp_path / "web.parquet", n=4, seed=1)
    config = Path(__file__).resolve().parents[2] / "configs" / "data_interleaved.yaml"
    args = ["data", "interleaved", "--config", str(config), "--input", str(src), "--output", str(tmp_path / "o")]
    assert main([*args, "--images.min-side", "10"]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert "too_small" not in report["dropped"]["image_quality"]["images"]  # the 16 px icon is still dropped…
    assert report["dropped"]["image_quality"]["images"]["few_colours"] == 2  # … as a blank, beside the logo
    assert "documents 11 → 9" in capsys.readouterr().out
    assert main(["data", "interleaved", "--config", str(config), "--input", str(tmp_path / "nothing")]) == 2
    assert "no parquet file" in capsys.readouterr().err
