"""The rollout engine's preallocated (static) KV cache is a speed choice only: the same tokens, log-probs and
forced answers as transformers' default dynamic cache, for images and video, sampled and greedy."""

import pytest
import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.model import create_bundle
from thinkvl.model.generate import SamplingParams, TransformersEngine


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
