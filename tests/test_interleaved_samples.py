"""Interleaved documents in training: many images at their places in a text, loss on the text only, packed and
truncated without splitting an image, equal to one-by-one runs, and read by the streaming loader."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from thinkvl.data.loaders import resolve_source, write_parquet
from thinkvl.data.record import Record
from thinkvl.model import tokens as T
from thinkvl.model.chat import IMAGE_PLACEHOLDER
from thinkvl.model.embed import visual_as_images
from thinkvl.model.processor import encode
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed, pack, truncate
from thinkvl.train.samples import IGNORE, build_sample, skip_reason
from thinkvl.train.stream import Encoder, PackStream

TEXTS = ["A harbour at dawn. ", "Boats come in with the tide. ", "The market opens at nine. ", "The end."]


def document(rid: str, images: list[str]) -> Record:
    """Text, image, text, image, …: the parts of an interleaved web page in reading order."""
    parts: list[dict] = []
    for i, text in enumerate(TEXTS):
        parts.append({"type": "text", "text": text})
        if i < len(images):
            parts.append({"type": "image", "image": images[i]})
    return Record(rid, "interleaved", [{"role": "user", "content": parts}], "")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("interleaved")
    for i, size in enumerate([(56, 84), (112, 56), (56, 56)]):
        Image.new("RGB", size, (80 * i, 40, 200 - 60 * i)).save(root / f"p{i}.png")
    Image.new("RGB", (56, 56), "red").save(root / "c.png")
    return root


@pytest.fixture(scope="module")
def samples(root, tiny_bundle):
    records = [
        document("doc3", ["p0.png", "p1.png", "p2.png"]),
        Record(
            "cap",
            "caption",
            [{"role": "user", "content": [{"type": "image", "image": "c.png"}]}],
            "x",
            meta={"caption": "A red square."},
        ),
        document("doc1", ["p1.png"]),
    ]
    return [build_sample(r, root, tiny_bundle.processor, tiny_bundle.model, "pretrain") for r in records]


def test_loss_on_every_text_token_none_on_images(samples, tiny_bundle):
    doc = samples[0]
    tok = tiny_bundle.tokenizer
    assert doc.image_grid_thw.shape[0] == 3  # three images, each its own grid row
    assert (doc.labels[doc.mm_token_type_ids != 0] == IGNORE).all()
    learned = tok.decode(doc.labels[doc.labels != IGNORE])
    assert learned == "".join(TEXTS) + T.END_OF_TEXT  # every text token, and no image boundary token
    boundaries = tok.convert_tokens_to_ids([T.BEGIN_OF_IMAGE, T.END_OF_IMAGE])
    assert doc.input_ids.tolist().count(boundaries[0]) == 3
    assert not torch.isin(doc.labels, torch.tensor(boundaries)).any()


def test_positions_advance_past_each_image(samples):
    """glm4v's 3D positions: an image spans a (h, w) grid at one time step; the text after it starts one past
    the largest position used so far, so three images give three jumps."""
    doc = samples[0]
    pos, visual = doc.position_ids, doc.mm_token_type_ids != 0
    text_after_image = (~visual[1:] & visual[:-1]).nonzero().flatten() + 1
    assert len(text_after_image) == 3
    for i in text_after_image.tolist():
        assert pos[0, i] == pos[:, :i].max() + 1
        assert (pos[:, i] == pos[0, i]).all()


def test_packed_interleaved_loss_and_gradients_equal_one_by_one(samples, tiny_bundle):
    model, pad = tiny_bundle.model, tiny_bundle.tokenizer.pad_token_id
    model.zero_grad()
    total, count = torch.zeros(()), 0
    for s in samples:
        loss_sum, n = token_loss_sum(model, collate_packed([[s]], pad))
        loss_sum.backward()
        total, count = total + loss_sum.detach(), count + n
    reference = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    packs, _ = pack(samples, pack_len=sum(len(s) for s in samples))
    assert len(packs) == 1
    model.zero_grad()
    loss_sum, n = token_loss_sum(model, collate_packed(packs, pad))
    loss_sum.backward()
    model_grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    assert n == count
    torch.testing.assert_close(loss_sum.detach(), total, rtol=1e-5, atol=1e-4)
    for name, g in reference.items():
        torch.testing.assert_close(model_grads[name], g, rtol=1e-4, atol=1e-5, msg=name)


def test_truncation_keeps_the_images_before_the_cut(samples, tiny_bundle, root):
    doc = samples[0]
    visual = (doc.mm_token_type_ids != 0).nonzero().flatten()
    starts = [int(i) for i in visual if not (doc.mm_token_type_ids[i - 1] != 0)]
    cut = truncate(doc, starts[1] + 3)  # inside the second image
    assert cut is not None and len(cut) == starts[1] - 1  # before the image and its <|begin_of_image|>
    assert cut.image_grid_thw.shape[0] == 1
    assert cut.pixel_values.shape[0] == int(doc.image_grid_thw[0].prod())
    # The truncated sample is what the first image and text alone encode to: ids, positions and pixels.
    first = document("one", ["p0.png"])
    text = T.GMASK + T.SOP + TEXTS[0] + IMAGE_PLACEHOLDER + TEXTS[1]
    enc = encode(tiny_bundle.processor, [text], [first.messages], root)
    pixels, _ = visual_as_images(enc)
    torch.testing.assert_close(cut.input_ids, enc["input_ids"][0])
    torch.testing.assert_close(cut.pixel_values, pixels)
    with torch.no_grad():  # the model accepts it: image features match image tokens
        loss_sum, n = token_loss_sum(tiny_bundle.model, collate_packed([[cut]], tiny_bundle.tokenizer.pad_token_id))
    assert n == int((cut.labels != IGNORE).sum()) and torch.isfinite(loss_sum)
    assert truncate(samples[1], 5) is None  # a caption sample cut inside its image has nothing left to learn


def test_interleaved_records_are_for_pretraining_only(root, tiny_bundle):
    with pytest.raises(ValueError, match="interleaved document") as err:
        build_sample(document("d", ["p0.png"]), root, tiny_bundle.processor, tiny_bundle.model, "sft")
    assert skip_reason(str(err.value)) == "interleaved (pre-training only)"


def test_streaming_loader_reads_interleaved_parquet(root, tiny_bundle, samples):
    records = [document(f"d{i}", ["p0.png", "p1.png", "p2.png"][: i % 3 + 1]) for i in range(6)]
    write_parquet(records, root / "docs.parquet")
    source = resolve_source(str(root / "docs.parquet"))
    encoder = Encoder(source.root, tiny_bundle.processor, tiny_bundle.model, "pretrain")
    stream = PackStream(source, encoder, pack_len=512, buffer=16)
    packs = []
    for p in stream:
        packs.append(p)
        if stream.position["epoch"] > 0 or sum(len(q) for q in packs) >= len(records):
            break
    stream.close()
    got = {s.id: s for p in packs for s in p}
    assert sorted(got) == sorted(r.id for r in records)
    for i, r in enumerate(records):
        assert got[r.id].image_grid_thw.shape[0] == i % 3 + 1
    torch.testing.assert_close(got["d2"].input_ids, samples[0].input_ids)
