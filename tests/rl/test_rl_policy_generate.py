"""Speed choices in the rollout engine change nothing: a preallocated (static) KV cache gives the same tokens,
log-probs and forced answers as transformers' default dynamic cache, and a prompt encoded once and repeated for
its G rollouts is the same batch as G encodings."""

import pytest
import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.model import create_bundle
from thinkvl.model.chat import render_prompt
from thinkvl.model.generate import SamplingParams, TransformersEngine, media_counts, repeat_rows
from thinkvl.model.processor import encode


@pytest.mark.parametrize("greedy", [False, True])
def test_static_cache_generates_what_the_dynamic_cache_does(tmp_path, greedy):
    write_dataset(tmp_path, domains=["counting", "video"], n=2, seed=0, levels=[0])
    ds = load_records(tmp_path)
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    bundle.model.eval()
    params = SamplingParams(n=2, thinking_budget=10, answer_budget=4, greedy=greedy)
    outs = {}
    for cache in ("dynamic", "static"):
        torch.manual_seed(0)
        rollouts = TransformersEngine(bundle, batch_size=3, cache=cache).generate(ds.records, ds.root, params)
        outs[cache] = [(r.response_ids, r.action_mask, r.forced) for r in rollouts]
        lps = torch.tensor([x for r in rollouts for x in r.logprobs])
        outs[cache + "_lp"] = lps
    assert outs["static"] == outs["dynamic"]
    assert any(forced for *_, forced in outs["static"])  # the forced-answering pass ran too
    torch.testing.assert_close(outs["static_lp"], outs["dynamic_lp"], atol=1e-5, rtol=0)


def test_prompts_encoded_once_and_repeated_equal_encoding_each_copy(tmp_path):
    write_dataset(tmp_path, domains=["counting", "video", "choice"], n=2, seed=0, levels=[0])
    ds = load_records(tmp_path)
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    records = ds.records
    prompts = [render_prompt(r.messages) for r in records]
    once = repeat_rows(
        encode(bundle.processor, prompts, [r.messages for r in records], ds.root, padding=True),
        [media_counts(r) for r in records],
        3,
    )
    copies = [i for i in range(len(records)) for _ in range(3)]
    each = encode(
        bundle.processor, [prompts[i] for i in copies], [records[i].messages for i in copies], ds.root, padding=True
    )
    assert {k for k, v in each.items() if v is not None} == set(once) and {"pixel_values_videos"} <= set(once)
    for key, value in once.items():
        assert torch.equal(value, each[key]), key


@pytest.mark.parametrize("greedy", [False, True])
def test_vision_encoded_once_per_group_generates_what_repeated_pixels_do(tmp_path, monkeypatch, greedy):
    """With ``mm_encoder_outputs`` the ViT runs once per prompt, not once per rollout; the rollouts stay the same."""
    import thinkvl.model.generate as generate

    write_dataset(tmp_path, domains=["counting", "video", "choice"], n=2, seed=0, levels=[0])
    ds = load_records(tmp_path)
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    bundle.model.eval()
    if not generate.encodes_visual_once(bundle.model):
        pytest.skip("this transformers' generate has no mm_encoder_outputs (older than 5.25)")
    params = SamplingParams(n=3, thinking_budget=10, answer_budget=4, greedy=greedy)
    calls = []
    visual_forward = bundle.model.model.visual.forward
    monkeypatch.setattr(
        bundle.model.model.visual, "forward", lambda *a, **k: calls.append(len(a[0])) or visual_forward(*a, **k)
    )
    outs = {}
    for once in (False, True):
        monkeypatch.setattr(generate, "encodes_visual_once", lambda model, once=once: once)
        calls.clear()
        torch.manual_seed(0)
        rollouts = TransformersEngine(bundle, batch_size=4).generate(ds.records, ds.root, params)
        outs[once] = ([(r.response_ids, r.action_mask, r.forced) for r in rollouts], sum(calls))
        outs[f"{once}_lp"] = torch.tensor([x for r in rollouts for x in r.logprobs])
    assert outs[True][0] == outs[False][0]
    torch.testing.assert_close(outs["True_lp"], outs["False_lp"], atol=1e-5, rtol=0)
    # fewer patches through the ViT: the first generate call encodes each prompt once instead of three times
    assert outs[True][1] < outs[False][1]
