"""The RL policy batch is packed (prompts shared by their rollouts, or one segment per rollout) and takes logits
only at response tokens; it must stay exact: log-probs, entropies and policy-loss gradients equal those of each
sequence run alone with full logits."""

import random

import pytest
import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.model import create_bundle, save_bundle
from thinkvl.model.generate import Rollout, TransformersEngine
from thinkvl.rl import policy
from thinkvl.rl.config import RLConfig
from thinkvl.rl.loss import policy_loss
from thinkvl.rl.policy import policy_batch, rollout_sample, token_logprobs
from thinkvl.rl.trainer import RLCSTrainer
from thinkvl.train import lm_head
from thinkvl.train.loss import forward_logits
from thinkvl.train.packing import collate_padded

G = 3


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Two rollouts-worth of groups per image, video and text prompt, with random responses (some forced)."""
    root = tmp_path_factory.mktemp("policy")
    write_dataset(root / "data", domains=["counting", "video", "choice"], n=1, seed=0, levels=[0])
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    save_bundle(bundle, root / "model")
    ds = load_records(root / "data")
    cfg = RLConfig(model=str(root / "model"), data=str(root / "data"), out=str(root / "run"))
    engine = TransformersEngine(bundle)
    trainer = RLCSTrainer(cfg, bundle, ds, None, engine)
    prompts = {r.id: trainer._encode_prompt(r) for r in ds.records}
    rng = random.Random(0)
    allowed = [t for t in range(40, 512) if t not in engine.suppressed]
    rollouts = []
    for r in ds.records:
        for _ in range(G):
            n = rng.randint(3, 12)
            action = [1] * n
            if rng.random() < 0.5:  # a forced-answering marker: tokens the policy did not sample
                action[n // 2 : n // 2 + 2] = [0, 0]
            ids = [rng.choice(allowed) for _ in range(n)]
            rollouts.append(Rollout(r.id, "", ids, [-1.0] * n, action))
    rng.shuffle(rollouts)  # a group's rollouts need not be adjacent
    bundle.model.eval()
    return bundle, prompts, rollouts, engine.suppressed


def _batch(setup, rollouts, pack_len=policy.PACK_TOKENS, share=True):
    bundle, prompts, _, _ = setup
    return policy_batch(
        [prompts[r.record_id] for r in rollouts],
        rollouts,
        bundle.tokenizer.pad_token_id,
        pack_len=pack_len,
        share_prompts=share,
    )


def _reference(setup, rollout, temperature):
    """Today's way, one sequence alone: full logits over the whole row, log-softmax, pick the response."""
    bundle, prompts, _, suppressed = setup
    prompt = prompts[rollout.record_id]
    inputs = collate_padded([rollout_sample(prompt, rollout)], bundle.tokenizer.pad_token_id)
    logits = forward_logits(bundle.model, inputs)[0].float() / temperature
    logits[:, suppressed] = float("-inf")
    p = len(prompt.input_ids)
    logp = torch.log_softmax(logits[p - 1 : p - 1 + len(rollout.response_ids)], dim=-1)
    token_lp = logp.gather(-1, torch.tensor(rollout.response_ids)[:, None])[:, 0]
    probs = logp.exp()
    entropy = -(probs * torch.where(probs > 0, logp, torch.zeros_like(logp))).sum(-1)
    action = torch.tensor(rollout.action_mask, dtype=torch.bool)
    return torch.where(action, token_lp, 0.0), torch.where(action, entropy, 0.0)


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("pack_len", [None, 64, policy.PACK_TOKENS])
def test_packed_response_logprobs_equal_one_by_one_full_logits(setup, pack_len, share):
    bundle, prompts, rollouts, suppressed = setup
    batch = _batch(setup, rollouts, pack_len, share)
    rows, length = batch.inputs["input_ids"].shape
    assert rows == 1 if pack_len is None else rows > 1 if pack_len == 64 else True
    assert batch.inputs["position_ids"].shape == (4, rows, length)
    assert (batch.inputs["attention_mask"] is None) != share
    tokens = sum(len(r.response_ids) for r in rollouts)
    prompt_tokens = sum(len(p.input_ids) for p in prompts.values())
    if pack_len is None:  # one row, no padding: each prompt once when shared, G times otherwise
        assert length == tokens + prompt_tokens * (1 if share else G)
    with torch.no_grad():
        logp, entropy = token_logprobs(bundle.model, batch, temperature=0.7, suppressed=suppressed, entropy="all")
    for i, r in enumerate(rollouts):
        ref_lp, ref_ent = _reference(setup, r, 0.7)
        n = len(r.response_ids)
        torch.testing.assert_close(logp[i, :n], ref_lp, atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(entropy[i, :n], ref_ent, atol=2e-5, rtol=1e-5)
        assert (logp[i, n:] == 0).all()


def _grads(model):
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


def _loss(model, batch, advantages, suppressed, normalizer):
    """The policy loss with "old" log-probs a fixed, position-dependent step away, so that some ratios clip."""
    logp, _ = token_logprobs(model, batch, suppressed=suppressed)
    old = logp.detach() + 0.3 * torch.sin(torch.arange(logp.shape[1]) * 1.7)
    loss, _ = policy_loss(logp, old, advantages, batch.mask, normalizer=normalizer)
    return loss


@pytest.mark.parametrize(("share", "chunk_elements"), [(True, None), (False, None), (True, 512 * 5)])
def test_policy_loss_gradients_packed_equal_one_by_one(setup, monkeypatch, share, chunk_elements):
    """Packed (and, with a small chunk budget, chunked and recomputed in backward) = one sequence at a time."""
    bundle, _, rollouts, suppressed = setup
    if chunk_elements:
        monkeypatch.setattr(lm_head, "LOGIT_CHUNK_ELEMENTS", chunk_elements)
    model = bundle.model
    adv = torch.linspace(-1.5, 1.5, len(rollouts))
    model.zero_grad()
    total = torch.zeros(())
    for i, r in enumerate(rollouts):
        loss = _loss(model, _batch(setup, [r]), adv[i : i + 1], suppressed, float(len(rollouts)))
        loss.backward()
        total = total + loss.detach()
    reference = _grads(model)

    model.zero_grad()
    loss = _loss(model, _batch(setup, rollouts, 64, share), adv, suppressed, float(len(rollouts)))
    loss.backward()
    grads = _grads(model)
    model.zero_grad()
    assert grads.keys() == reference.keys() and any(k.startswith("model.visual") for k in grads)
    torch.testing.assert_close(loss.detach(), total, atol=1e-5, rtol=1e-5)
    for name, g in grads.items():
        torch.testing.assert_close(g, reference[name], atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.parametrize("share", [True, False])
def test_vision_encoder_runs_once_per_distinct_prompt(setup, share):
    bundle, prompts, rollouts, _ = setup
    batch = _batch(setup, rollouts, share=share)
    pixels, grids, order = batch.visual
    visual_prompts = [p for p in prompts.values() if p.pixel_values is not None]
    assert len(pixels) == sum(len(p.pixel_values) for p in visual_prompts)
    assert len(order) == (1 if share else G) * sum(len(p.image_grid_thw) for p in visual_prompts)
    seen = []
    handle = bundle.model.model.visual.register_forward_hook(lambda _m, args, _o: seen.append(len(args[0])))
    try:
        with torch.no_grad():
            token_logprobs(bundle.model, batch)
    finally:
        handle.remove()
    assert seen == [len(pixels)]


def test_entropy_as_a_metric_is_measured_on_a_sample(setup, monkeypatch):
    bundle, _, rollouts, _ = setup
    monkeypatch.setattr(policy, "ENTROPY_SAMPLE", 10)
    batch = _batch(setup, rollouts)
    with torch.no_grad():
        _, full = token_logprobs(bundle.model, batch, entropy="all")
        _, sampled = token_logprobs(bundle.model, batch, entropy="sample")
        _, none = token_logprobs(bundle.model, batch)
    assert none is None
    measured = batch.mask & ~sampled.isnan()
    assert 5 <= int(measured.sum()) <= 10 < int(batch.mask.sum())
    torch.testing.assert_close(sampled[measured], full[measured])
    logp = torch.zeros(batch.mask.shape)
    _, metrics = policy_loss(logp, logp, torch.zeros(len(rollouts)), batch.mask, entropy=sampled)
    assert metrics["actor/entropy"] == pytest.approx(full[measured].mean().item(), rel=1e-5)
    with pytest.raises(ValueError, match="every token"):
        policy_loss(logp, logp, torch.zeros(len(rollouts)), batch.mask, entropy=sampled, entropy_coef=0.1)


def test_policy_batch_rejects_mismatched_inputs(setup):
    bundle, prompts, rollouts, _ = setup
    with pytest.raises(ValueError, match="one prompt per rollout"):
        policy_batch([prompts[r.record_id] for r in rollouts], rollouts[:-1], bundle.tokenizer.pad_token_id)
