"""Recaptioning with a tiny glm4v trained here to say one caption: batched, keeps the original, resumable."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest
import torch
from pipeline_testdata import COLOURS, SHAPES, DatasetBuilder, shape_image

from thinkvl.data.pipeline.commands import add_commands
from thinkvl.data.pipeline.recaption import (
    SKIPPED,
    RecaptionConfig,
    Recaptioner,
    build_prompt,
    recaption,
)

NEW = "a small picture"
# No {caption} in the test prompt: the tiny model then learns one answer in a few steps (build_prompt's
# substitution has its own test below).
PROMPT = "Describe this image briefly."
CAPTIONS = ["Buy now!! red square 50% off", "", "weird {0} {caption} }{ braces", "img_0041.jpg", "a square", "x"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> DatasetBuilder:
    rng = random.Random(0)
    b = DatasetBuilder(tmp_path_factory.mktemp("pairs"))
    colours = ["red", "blue", "green", "yellow", "purple", "orange"]
    for i, (colour, text) in enumerate(zip(colours, CAPTIONS, strict=True)):
        b.add(f"p{i}", b.image(f"p{i}.png", shape_image(colour, "square", 56, rng)), text)
    (b.root / "images" / "broken.png").write_bytes(b"not an image")
    b.add("broken", "images/broken.png", "a broken image")
    b.add("p6", b.image("p6.png", shape_image("red", "circle", 56, rng)), "a red circle")
    b.finish()
    return b


@pytest.fixture(scope="module")
def vlm(tmp_path_factory: pytest.TempPathFactory, dataset: DatasetBuilder) -> Path:
    """thinkvl's tiny glm4v, trained for 40 steps to answer the recaption prompt with NEW whatever the image
    (at 20 the loss is still ~0.7 and, depending on the threads' arithmetic, the end token may not be learned)."""
    from thinkvl.model import create_bundle, save_bundle

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # the 20 steps below must not depend on which tests ran before
    bundle = create_bundle("tiny", corpus=[NEW, *CAPTIONS], vocab_size=600)
    directory = save_bundle(bundle, tmp_path_factory.mktemp("vlm") / "model")
    prompt = build_prompt(bundle.processor, PROMPT, "")
    proc = bundle.processor
    rng = random.Random(1)
    prompt_len = len(proc(text=[prompt], images=[shape_image("red", "square", 56, rng)])["input_ids"][0])
    opt = torch.optim.AdamW(bundle.model.parameters(), lr=3e-3)
    bundle.model.train()
    for _ in range(40):  # fresh random shapes every step, so the answer can't depend on the image
        images = [shape_image(rng.choice(list(COLOURS)), rng.choice(SHAPES), 56, rng) for _ in range(4)]
        enc = proc(text=[prompt + NEW + "<|endoftext|>"] * 4, images=images, return_tensors="pt")
        labels = enc["input_ids"].clone()
        labels[:, :prompt_len] = -100  # learn only the answer
        bundle.model(**enc, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    bundle.model.eval()
    save_bundle(bundle, directory)
    torch.set_num_threads(threads)
    return directory


@pytest.fixture(scope="module")
def captioner(vlm: Path, dataset: DatasetBuilder) -> Recaptioner:
    return Recaptioner(RecaptionConfig(model=str(vlm), data=str(dataset.root), out=str(vlm.parent / "unused")))


def config(vlm: Path, data: Path, out: Path, **kw) -> RecaptionConfig:
    return RecaptionConfig(
        model=str(vlm), data=str(data), out=str(out), prompt=PROMPT, batch_size=3, max_new_tokens=8, **kw
    )


@pytest.fixture(scope="module")
def reference(vlm: Path, dataset: DatasetBuilder, captioner: Recaptioner, tmp_path_factory: pytest.TempPathFactory):
    """One uninterrupted run, shared by the tests that compare against it."""
    out = tmp_path_factory.mktemp("reference")
    stats = recaption(config(vlm, dataset.root, out), captioner=captioner)
    return out, stats


def written(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def test_recaption_rewrites_captions_and_keeps_originals(reference) -> None:
    out, stats = reference
    records = written(out)
    assert [r["id"] for r in records] == ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]
    for r, old in zip(records, [*CAPTIONS, "a red circle"], strict=True):
        assert r["meta"]["original_caption"] == old
        assert r["meta"]["caption"] == NEW  # what the model was trained to say
        assert r["meta"]["recaption_model"] == "model"
        assert r["answer"] == r["meta"]["caption"] or old == ""  # a caption record's answer is its caption
        assert (out / r["messages"][0]["content"][0]["image"]).is_file()
    skipped = [json.loads(line) for line in (out / SKIPPED).read_text().splitlines()]
    assert [s["id"] for s in skipped] == ["broken"] and skipped[0]["reason"].startswith("corrupt")
    assert (stats.written, stats.recaptioned, stats.skipped_bad) == (7, 7, 1)


class Crash(BaseException):
    """Like a kill: not an Exception, so no per-batch error handling can absorb it."""


class CrashingCaptioner:
    """Delegates to a real captioner and counts calls; dies on call number ``crash_at``."""

    def __init__(self, inner: Recaptioner, crash_at: int | None = None):
        self.inner, self.crash_at, self.calls = inner, crash_at, 0

    def captions(self, images, captions):
        self.calls += 1
        if self.calls == self.crash_at:
            raise Crash("killed")
        return self.inner.captions(images, captions)


def test_a_crash_loses_at_most_the_current_batch_and_resume_finishes(
    vlm: Path, dataset: DatasetBuilder, captioner: Recaptioner, reference, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with pytest.raises(Crash):
        recaption(config(vlm, dataset.root, out), captioner=CrashingCaptioner(captioner, crash_at=2))
    assert [r["id"] for r in written(out)] == ["p0", "p1", "p2"]  # batch 1 is safe on disk
    with (out / "records.jsonl").open("a") as f:
        f.write('{"id": "p3", "domain": "cap')  # a line cut by the crash
    resumed = CrashingCaptioner(captioner)
    stats = recaption(config(vlm, dataset.root, out), captioner=resumed)
    assert stats.skipped_done == 3 and resumed.calls == 2  # only the remaining two batches were generated
    assert (out / "records.jsonl").read_bytes() == (reference[0] / "records.jsonl").read_bytes()
    again = recaption(config(vlm, dataset.root, out), captioner=CrashingCaptioner(captioner, crash_at=1))
    assert again.written == 0 and again.skipped_done == 8  # everything done: no generation at all


def test_generation_failures_keep_the_caption_with_a_reason(
    vlm: Path, dataset: DatasetBuilder, captioner: Recaptioner, tmp_path: Path
) -> None:
    class Failing:
        def captions(self, images, captions):
            raise RuntimeError("out of memory")

    class Empty:
        def captions(self, images, captions):
            return [""] * len(images)

    for name, cap in (("fail", Failing()), ("empty", Empty())):
        out = tmp_path / name
        stats = recaption(config(vlm, dataset.root, out, limit=3), captioner=cap)
        records = written(out)
        assert len(records) == 3 and stats.failed == 3
        for r, old in zip(records, CAPTIONS, strict=False):
            assert r["meta"]["caption"] == old and "original_caption" not in r["meta"]
            assert r["meta"]["recaption_error"].startswith("generate failed" if name == "fail" else "empty")


def test_cli_recaption(vlm: Path, dataset: DatasetBuilder, tmp_path: Path, capsys) -> None:
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    argv = ["recaption", "--model", str(vlm), "--data", str(dataset.root), "--out", str(tmp_path / "o")]
    args = parser.parse_args([*argv, "--batch-size", "4", "--max-new-tokens", "4", "--limit", "4", "--quiet"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["written"] == 4
    assert len(written(tmp_path / "o")) == 4
    args = parser.parse_args(["recaption", "--model", str(tmp_path), "--data", str(dataset.root), "--out", "x"])
    assert args.func(args) == 2
    assert "config.json" in capsys.readouterr().err


def test_prompt_substitution_is_literal(captioner: Recaptioner) -> None:
    text = build_prompt(captioner.processor, "Caption was: {caption}. Rewrite {it}.", "weird {0} }{ {caption}")
    assert "Caption was: weird {0} }{ {caption}. Rewrite {it}." in text
    assert text.count("<|image|>") == 1 and text.rstrip().endswith("<think></think>")
