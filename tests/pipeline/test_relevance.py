"""CLIP relevance: a tiny CLIP trained here on coloured shapes separates matched from shuffled pairs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from pipeline_testdata import COLOURS, SHAPES, DatasetBuilder, shape_image
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, PreTrainedTokenizerFast

from thinkvl.data.pipeline.config import FilterPipelineConfig, RelevanceConfig
from thinkvl.data.pipeline.relevance import ClipScorer
from thinkvl.data.pipeline.runner import run_filter_pipeline

SIZE = 32
COLOUR_NAMES = list(COLOURS)[:4]
TEMPLATES = ("a {c} {s}", "a photo of a {c} {s}", "one {c} {s} on white", "picture of a {c} {s}")


def caption(colour: str, shape: str, rng: random.Random) -> str:
    return rng.choice(TEMPLATES).format(c=colour, s=shape)


def build_tokenizer() -> PreTrainedTokenizerFast:
    words = sorted({w for t in TEMPLATES for w in t.split() if "{" not in w} | set(COLOUR_NAMES) | set(SHAPES))
    vocab = {tok: i for i, tok in enumerate(["<pad>", "<unk>", "<s>", "</s>", *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def pairs(n: int, rng: random.Random) -> list[tuple[object, str, tuple[str, str]]]:
    out = []
    for _ in range(n):
        c, s = rng.choice(COLOUR_NAMES), rng.choice(SHAPES)
        out.append((shape_image(c, s, SIZE, rng), caption(c, s, rng), (c, s)))
    return out


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train a 0.15M-parameter CLIP for a few seconds on coloured shapes; save it like any checkpoint."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster than two fighting over a shared machine
    torch.manual_seed(0)
    rng = random.Random(0)
    tokenizer = build_tokenizer()
    processor = CLIPImageProcessor(
        size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE}, do_center_crop=True
    )
    small = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
    config = CLIPConfig(
        text_config={
            **small,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 16,
            "eos_token_id": tokenizer.eos_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**small, "image_size": SIZE, "patch_size": 8},
        projection_dim=32,
    )
    model = CLIPModel(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    data = pairs(768, rng)
    pixels = processor(images=[d[0] for d in data], return_tensors="pt")["pixel_values"]
    model.train()
    for _ in range(80):  # measured: ROC-AUC ~0.96 on held-out pairs after 80 steps
        idx = rng.sample(range(len(data)), 48)
        tok = tokenizer([data[i][1] for i in idx], padding=True, return_tensors="pt")
        out = model(**tok, pixel_values=pixels[idx], return_loss=True)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    directory = tmp_path_factory.mktemp("clip")
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor.save_pretrained(directory)
    torch.set_num_threads(threads)
    return directory


def roc_auc(pos: list[float], neg: list[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float((p > n).mean() + 0.5 * (p == n).mean())


def test_roc_auc_helper() -> None:
    assert roc_auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1], [0.9]) == 0.0
    assert roc_auc([0.5], [0.5]) == 0.5


def matched_and_shuffled(root: Path, n: int, seed: int) -> DatasetBuilder:
    """n matched pairs and n pairs whose caption names another colour or shape."""
    rng = random.Random(seed)
    b = DatasetBuilder(root)
    for i, (img, text, (c, s)) in enumerate(pairs(n, rng)):
        b.add(f"match-{i}", b.image(f"m{i}.png", img), text)
        wrong = rng.choice([(c2, s2) for c2 in COLOUR_NAMES for s2 in SHAPES if (c2, s2) != (c, s)])
        b.add(f"shuffled-{i}", b.image(f"s{i}.png", shape_image(c, s, SIZE, rng)), caption(*wrong, rng))
    b.finish()
    return b


def run(src: Path, out: Path, model: Path, threshold: float) -> dict[str, dict]:
    cfg = FilterPipelineConfig(
        input=str(src), output=str(out), filters=[RelevanceConfig(model=str(model), threshold=threshold)]
    )
    run_filter_pipeline(cfg)
    return {json.loads(line)["id"]: json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()}


def test_matched_pairs_outscore_shuffled_through_the_filter(tiny_clip: Path, tmp_path: Path) -> None:
    src = matched_and_shuffled(tmp_path / "pairs", 60, seed=1).root
    kept = run(src, tmp_path / "scored", tiny_clip, threshold=-1.0)  # keep everything, record the scores
    assert len(kept) == 120
    pos = [r["meta"]["clip_score"] for rid, r in kept.items() if rid.startswith("match")]
    neg = [r["meta"]["clip_score"] for rid, r in kept.items() if rid.startswith("shuffled")]
    auc = roc_auc(pos, neg)
    assert auc >= 0.9, f"ROC-AUC {auc:.3f}"

    # With a threshold calibrated on other pairs, the filter keeps matched and drops shuffled pairs (balanced
    # accuracy >= 0.8), each drop with its score as the reason.
    calib = matched_and_shuffled(tmp_path / "calib", 30, seed=2)
    scorer = ClipScorer(tiny_clip)
    rows = [json.loads(line) for line in calib.lines]
    from PIL import Image

    scores = scorer.scores(
        [Image.open(calib.root / r["messages"][0]["content"][0]["image"]) for r in rows],
        [r["meta"]["caption"] for r in rows],
    )
    pos_c = np.asarray([s for r, s in zip(rows, scores, strict=True) if r["id"].startswith("match")])
    neg_c = np.asarray([s for r, s in zip(rows, scores, strict=True) if r["id"].startswith("shuffled")])
    threshold = max(scores, key=lambda t: (pos_c >= t).mean() + (neg_c < t).mean())  # best balanced accuracy
    kept = run(src, tmp_path / "filtered", tiny_clip, threshold=float(threshold))
    kept_match = sum(rid.startswith("match") for rid in kept) / 60
    dropped_shuffled = 1 - sum(rid.startswith("shuffled") for rid in kept) / 60
    assert (kept_match + dropped_shuffled) / 2 >= 0.8, (kept_match, dropped_shuffled)
    dropped = [json.loads(x) for x in (tmp_path / "filtered" / "dropped" / "relevance.jsonl").read_text().splitlines()]
    assert dropped and all(d["reason"].startswith("low_clip_score:") for d in dropped)
    report = json.loads((tmp_path / "filtered" / "report.json").read_text())
    stage = next(s for s in report["stages"] if s["filter"] == "relevance")
    assert stage["dropped"] == 120 - len(kept) == stage["reasons"]["low_clip_score"]


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        ClipScorer(tmp_path)
