"""The supervised loss through the chunked LM head equals the full-logits loss, in value and in every gradient,
whether the labelled tokens fit one chunk or span many (recomputed in backward)."""

import copy

import pytest
import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.model import create_bundle
from thinkvl.train import lm_head
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed, pack
from thinkvl.train.samples import build_sample


@pytest.fixture(scope="module")
def model_and_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm_head")
    write_dataset(root, domains=["counting", "chart", "choice"], n=2, seed=0, levels=[0])
    dataset = load_records(root)
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    samples = [build_sample(r, dataset.root, bundle.processor, bundle.model, "sft") for r in dataset.records]
    packs, _ = pack(samples, 512, "truncate")
    batch = collate_packed(packs[:2], bundle.tokenizer.pad_token_id)
    assert batch.get("pixel_values") is not None
    return bundle.model.train(), batch


def _loss_and_grads(model, batch, **kw):
    model = copy.deepcopy(model)
    loss, n = token_loss_sum(model, batch, **kw)
    (loss / n).backward()
    return loss.detach(), n, {k: p.grad for k, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("chunk_elements", [2**24, 512 * 37])
def test_chunked_loss_and_gradients_equal_full_logits(model_and_batch, monkeypatch, chunk_elements):
    model, batch = model_and_batch
    full, n_full, full_grads = _loss_and_grads(model, batch, full_logits=True)
    chunks = []
    original = lm_head._head
    monkeypatch.setattr(lm_head, "_head", lambda h, *a: chunks.append(len(h)) or original(h, *a))
    monkeypatch.setattr(lm_head, "LOGIT_CHUNK_ELEMENTS", chunk_elements)
    loss, n, grads = _loss_and_grads(model, batch)
    assert n == n_full > 100
    if chunk_elements == 2**24:  # the labelled tokens fit one chunk
        assert chunks == [n]
    else:  # chunks of 37 tokens, each run again in backward
        assert len(chunks) == 2 * -(-n // 37) and max(chunks) == 37
    torch.testing.assert_close(loss, full, rtol=1e-5, atol=1e-4)
    assert grads.keys() == full_grads.keys() and any(k.startswith("model.visual") for k in grads)
    for k, g in full_grads.items():
        torch.testing.assert_close(grads[k], g, rtol=1e-4, atol=1e-6, msg=k)
