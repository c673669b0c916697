"""Packing must be exact: a packed batch gives the same loss and gradients as its samples one by one."""

import pytest
import torch
from PIL import Image

from thinkvl.data.record import Record
from thinkvl.model import create_bundle
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed, collate_padded, pack
from thinkvl.train.samples import IGNORE, build_sample


def _records(root) -> list[Record]:
    Image.new("RGB", (56, 84), "red").save(root / "a.png")
    Image.new("RGB", (112, 56), "blue").save(root / "b.png")
    for i in range(4):
        Image.new("RGB", (56, 56), (60 * i, 0, 255 - 60 * i)).save(root / f"v{i}.png")
    meta = {"caption": "A coloured picture.", "reasoning": "I look at it.", "answer_text": "It is"}
    image = lambda p, q: [{"role": "user", "content": [{"type": "image", "image": p}, {"type": "text", "text": q}]}]  # noqa: E731
    video = [
        {"type": "video", "video": [f"v{i}.png" for i in range(4)], "fps": 2.0},
        {"type": "text", "text": "Order?"},
    ]
    return [
        Record("t1", "vqa", [{"role": "user", "content": "What is two plus three?"}], "5", meta=meta),
        Record("i1", "vqa", image("a.png", "Colour?"), "red", meta=meta),
        Record("v1", "video", [{"role": "user", "content": video}], "red, blue", meta=meta),
        Record("i2", "counting", image("b.png", "How many?"), 1, meta=meta),
        Record("t2", "vqa", [{"role": "user", "content": "Say hi."}], "hi", meta=meta),
    ]


@pytest.fixture(scope="module")
def model_and_samples(tmp_path_factory):
    root = tmp_path_factory.mktemp("pack")
    bundle = create_bundle("tiny", seed=1, attn_implementation="sdpa")
    bundle.model.train(False)
    samples = [build_sample(r, root, bundle.processor, bundle.model, "sft") for r in _records(root)]
    return bundle, samples


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def test_sft_labels_cover_only_the_response(model_and_samples):
    bundle, samples = model_and_samples
    tok = bundle.tokenizer
    for s in samples:
        target = tok.decode(s.labels[s.labels != IGNORE])
        assert target.startswith("<think>I look at it.</think><answer>It is <|begin_of_box|>")
        assert target.endswith("</answer><|endoftext|>")
        assert (s.labels[s.mm_token_type_ids != 0] == IGNORE).all()


@pytest.mark.parametrize("stage", ["sft", "pretrain"])
def test_packed_loss_and_gradients_equal_one_by_one(model_and_samples, tmp_path, stage):
    bundle, samples = model_and_samples
    model = bundle.model
    if stage == "pretrain":
        samples = [build_sample(r, tmp_path, bundle.processor, model, "pretrain") for r in _records(tmp_path)]
    pad = bundle.tokenizer.pad_token_id

    model.zero_grad()
    total, count = torch.zeros(()), 0
    for s in samples:
        loss_sum, n = token_loss_sum(model, collate_packed([[s]], pad))
        loss_sum.backward()
        total, count = total + loss_sum.detach(), count + n
    reference_loss, reference_grads = total / count, _grads(model)

    packs, stats = pack(samples, pack_len=512)
    assert stats.packs == 1 and len(packs[0]) == len(samples)
    model.zero_grad()
    loss_sum, n = token_loss_sum(model, collate_packed(packs, pad))
    (loss_sum / n).backward()
    assert n == count
    torch.testing.assert_close(loss_sum.detach() / n, reference_loss, rtol=1e-5, atol=1e-5)
    grads = _grads(model)
    assert grads.keys() == reference_grads.keys()
    for name, g in grads.items():
        torch.testing.assert_close(g, reference_grads[name] / count, rtol=1e-4, atol=1e-6, msg=name)


def test_padded_batch_matches_too(model_and_samples):
    bundle, samples = model_and_samples
    pad = bundle.tokenizer.pad_token_id
    with torch.no_grad():
        packed, n1 = token_loss_sum(bundle.model, collate_packed(pack(samples, 512)[0], pad))
        padded, n2 = token_loss_sum(bundle.model, collate_padded(samples, pad))
    assert n1 == n2
    torch.testing.assert_close(packed, padded, rtol=1e-4, atol=1e-4)


def test_overlong_samples_are_truncated_or_dropped_and_counted(model_and_samples):
    _, samples = model_and_samples
    limit = 12
    over = [s for s in samples if len(s) > limit]
    splits_visual = [s for s in over if (s.mm_token_type_ids[limit:] != 0).any()]
    assert over and splits_visual and len(splits_visual) < len(over)  # the fixture covers both cases
    packs, stats = pack(samples, pack_len=limit, overflow="truncate")
    assert stats.dropped == len(splits_visual)  # an image can't be half-encoded
    assert stats.truncated == len(over) - len(splits_visual)
    assert all(sum(len(s) for s in p) <= limit for p in packs)
    assert sum(len(p) for p in packs) == len(samples) - stats.dropped
    _, stats = pack(samples, pack_len=limit, overflow="drop")
    assert stats.dropped == len(over) and stats.truncated == 0
