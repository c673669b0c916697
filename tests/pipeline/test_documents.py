"""Long documents: a PDF made here becomes page images with their text (pypdfium2), OCR records, and long
interleaved samples cut at a token budget; a long video becomes a sample that fits the pack length."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from thinkvl.data.loaders import load_records, write_jsonl
from thinkvl.data.pipeline.documents import (
    TokenCounter,
    long_document_records,
    ocr_records,
    render_pdf,
)
from thinkvl.data.synth.documents import paragraph, write_text_pdf
from thinkvl.train.long_video import long_video_record
from thinkvl.train.packing import pack
from thinkvl.train.samples import IGNORE, build_sample

PAGES = [[f"Page {i + 1} of the report."] + [paragraph(10 * i + j)[:60] for j in range(4)] for i in range(7)]


@pytest.fixture(scope="module")
def pdf_pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("pdf")
    pdf = write_text_pdf(root / "report.pdf", PAGES)
    return root, render_pdf(pdf, root, dpi=72)


def test_pdf_pages_become_images_and_their_text(pdf_pages):
    root, pages = pdf_pages
    assert [p.number for p in pages] == list(range(1, 8))
    for page, lines in zip(pages, PAGES, strict=True):
        assert page.text.split("\n") == lines  # the text layer, line by line
        with Image.open(root / page.image) as img:
            assert img.size == (420, 595)  # A5 at 72 dpi
            assert img.convert("L").getextrema()[0] < 100  # dark text was drawn on the page
    records = ocr_records(pages, "report")
    write_jsonl(records, root / "records.jsonl")
    loaded = load_records(root, check_media=True)
    assert [r.answer for r in loaded] == [p.text for p in pages]
    assert all(r.domain == "ocr" and r.meta["caption"] == r.answer for r in loaded)


def test_long_samples_fill_the_budget_in_page_order(pdf_pages, tiny_bundle):
    root, pages = pdf_pages
    counter = TokenCounter(tiny_bundle.processor)
    one_page = [counter.image(root / p.image) + counter.text(p.text) for p in pages]
    budget = int(2.5 * max(one_page))  # two pages fit a sample, three never do
    records = long_document_records(pages, "report", root, counter, budget)
    assert len(records) == 4 and all(r.domain == "interleaved" for r in records)
    seen = []
    for r in records:
        sample = build_sample(r, root, tiny_bundle.processor, tiny_bundle.model, "pretrain")
        assert len(sample) == r.meta["tokens"] <= budget  # counted exactly, without encoding the sample
        parts = r.messages[0]["content"]
        seen += [p["image"] for p in parts if p["type"] == "image"]
        assert sample.image_grid_thw.shape[0] == len([p for p in parts if p["type"] == "image"])
        assert tiny_bundle.tokenizer.decode(sample.labels[sample.labels != IGNORE]).startswith("Page ")
    assert seen == [p.image for p in pages]
    assert [r.meta["pages"] for r in records] == [[1, 2], [3, 4], [5, 6], [7, 7]]


def test_a_long_video_keeps_every_kth_frame_to_fit_the_pack(tmp_path, tiny_bundle):
    frames = []
    for i in range(120):
        Image.new("RGB", (56, 56), (2 * i, 100, 250 - 2 * i)).save(tmp_path / f"f{i:03d}.png")
        frames.append(f"f{i:03d}.png")
    caption = "A square fades from blue to red."
    full = long_video_record("v", frames, 2.0, caption, tmp_path, tiny_bundle.processor, 10_000)
    assert full.meta["frame_stride"] == 1
    pack_len = full.meta["tokens"] // 2
    record = long_video_record("v", frames, 2.0, caption, tmp_path, tiny_bundle.processor, pack_len)
    stride = record.meta["frame_stride"]
    assert stride >= 2 and record.messages[0]["content"][0]["video"] == frames[::stride]
    assert record.messages[0]["content"][0]["fps"] == 2.0 / stride  # frame times stay true
    sample = build_sample(record, tmp_path, tiny_bundle.processor, tiny_bundle.model, "pretrain")
    assert len(sample) == record.meta["tokens"] <= pack_len
    _, stats = pack([sample], pack_len)
    assert stats.truncated == stats.dropped == 0 and stats.packs == 1
    tighter = long_video_record("v", frames, 2.0, caption, tmp_path, tiny_bundle.processor, record.meta["tokens"] - 1)
    assert tighter.meta["frame_stride"] > stride  # one token less needs more frames left out
    with pytest.raises(ValueError, match="pack_len"):
        long_video_record("v", frames, 2.0, caption, tmp_path, tiny_bundle.processor, 20)


def test_unreadable_pdf_is_one_clear_error(tmp_path: Path):
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 nothing here")
    with pytest.raises(ValueError, match="can't open PDF bad.pdf"):
        render_pdf(tmp_path / "bad.pdf", tmp_path)


def test_documents_command_writes_ocr_and_long_records(tmp_path, tiny_bundle, capsys):
    from thinkvl.cli import main
    from thinkvl.model import save_bundle

    model = save_bundle(tiny_bundle, tmp_path / "model")
    for name in ("a", "b"):
        write_text_pdf(tmp_path / "pdfs" / f"{name}.pdf", PAGES[:3])
    args = ["data", "documents", "--pdfs", str(tmp_path / "pdfs"), "--out", str(tmp_path / "out"), "--dpi", "72"]
    assert main([*args, "--model", str(model), "--target-tokens", "100000"]) == 0
    counts = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert counts == {"documents": 2, "pages": 6, "ocr_records": 6, "long_records": 2}
    records = load_records(tmp_path / "out", check_media=True).records
    assert [r.domain for r in records] == ["ocr"] * 6 + ["interleaved"] * 2
    assert main([*args, "--model", str(tmp_path / "nomodel")]) == 2
    assert "not a model directory" in capsys.readouterr().err
