"""The RLCS trainer on the tiny model: log-prob alignment with the engine, forced answering, the update,
dynamic sampling when nothing is learnable, and checkpoint/resume of the curriculum state."""

import hashlib

import pytest
import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.model import create_bundle, save_bundle
from thinkvl.model import tokens as T
from thinkvl.model.generate import SamplingParams, TransformersEngine
from thinkvl.reward import Verdict
from thinkvl.rl.config import RLConfig
from thinkvl.rl.policy import policy_batch, token_logprobs
from thinkvl.rl.run import run_rl
from thinkvl.rl.trainer import RLCSTrainer, unclosed_thought_rates


class HashReward:
    """Deterministic pseudo-rewards from the response text: about half right, so most groups are mixed."""

    def __init__(self, constant: float | None = None):
        self.constant = constant

    def score_batch(self, texts, records, **_):
        out = []
        for t in texts:
            r = self.constant if self.constant is not None else float(hashlib.sha256(t.encode()).digest()[0] % 2)
            out.append(Verdict(reward=r, correct=r > 0.5, extracted=None, format_ok=True))
        return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("rl")
    write_dataset(root / "data", domains=["counting", "choice", "video"], n=4, seed=0, levels=[0])
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    save_bundle(bundle, root / "model")
    return root, bundle, load_records(root / "data")


def _cfg(root, **over):
    base = dict(
        model=str(root / "model"),
        data=str(root / "data"),
        out=str(root / "run"),
        iterations=2,
        prompts_per_iteration=3,
        group_size=4,
        thinking_budget=6,
        answer_budget=4,
        mini_batch_size=12,
        micro_batch_size=6,
        lr=1e-3,
        save_every=1,
        rollout_batch_size=16,
    )
    base.update(over)
    return RLConfig(**base)


def test_trainer_logprobs_match_the_engines(setup):
    _, bundle, ds = setup
    bundle.model.eval()
    engine = TransformersEngine(bundle)
    records = [r for r in ds.records if r.domain in ("choice", "video")][:2]
    torch.manual_seed(0)
    rollouts = engine.generate(records, ds.root, SamplingParams(n=2, thinking_budget=8, answer_budget=4))
    trainer = RLCSTrainer(_cfg(setup[0]), bundle, ds, HashReward(), engine)
    prompts = {r.id: trainer._encode_prompt(r) for r in records}
    batch = policy_batch([prompts[r.record_id] for r in rollouts], rollouts, bundle.tokenizer.pad_token_id)
    with torch.no_grad():
        logp, _ = token_logprobs(bundle.model, batch, suppressed=engine.suppressed)
    torch.testing.assert_close(logp[batch.mask], batch.rollout_logprobs[batch.mask], atol=2e-3, rtol=0)


def test_forced_answering_closes_the_thought_and_masks_the_marker(setup):
    _, bundle, ds = setup
    engine = TransformersEngine(bundle)
    rollouts = engine.generate(ds.records[:2], ds.root, SamplingParams(n=2, thinking_budget=3, answer_budget=4))
    forced = [r for r in rollouts if r.forced]
    assert forced, "an untrained model never closes its thought within 3 tokens"
    marker = bundle.tokenizer.encode(T.THINK_CLOSE + T.ANSWER_OPEN, add_special_tokens=False)
    for r in forced:
        assert r.response_ids[3 : 3 + len(marker)] == marker
        assert r.action_mask[3 : 3 + len(marker)] == [0] * len(marker)
        assert T.THINK_CLOSE + T.ANSWER_OPEN in r.text
        assert len(r.response_ids) <= 3 + len(marker) + 4


def test_unclosed_thoughts_are_counted_per_domain_and_overall():
    close = 7
    rates = unclosed_thought_rates(
        [("chart", [1, 2, close, 3]), ("chart", [1, 2, 3]), ("math", [close]), ("math", [4, close]), ("chart", [])],
        close,
    )
    assert rates == {
        "response/chart/unclosed_thought_rate": 2 / 3,
        "response/math/unclosed_thought_rate": 0.0,
        "response/unclosed_thought_rate": 2 / 5,
    }
    assert unclosed_thought_rates([], close) == {"response/unclosed_thought_rate": 0.0}


@pytest.mark.slow
def test_an_iteration_updates_the_policy_and_logs(setup):
    root, _, ds = setup
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    engine = TransformersEngine(bundle)
    trainer = RLCSTrainer(_cfg(root), bundle, ds, HashReward(), engine)
    before = {n: p.detach().clone() for n, p in bundle.model.named_parameters()}
    m = trainer.step()
    assert m["groups/trained"] > 0
    changed = sum(not torch.equal(before[n], p) for n, p in bundle.model.named_parameters())
    assert changed > 0
    for key in (
        "rewards/mean",
        "accuracy/mean",
        "dynamic_sampling/expansion_ratio",
        "dynamic_sampling/not_valid_rate",
        "curriculum/tier/ungraded",
        "actor/clip_frac",
        "actor/approx_kl",
        "actor/entropy",
        "response/forced_rate",
        "response/unclosed_thought_rate",
        "perf/rollout_tokens_per_s",
    ):
        assert key in m, key
    assert sum(trainer.sampler.tier_histogram().values()) == len(ds.records)
    assert trainer.sampler.tier_histogram()["ungraded"] < len(ds.records)


@pytest.mark.slow
def test_all_invalid_groups_train_nothing_and_expand_the_draw(setup):
    root, _, ds = setup
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    trainer = RLCSTrainer(
        _cfg(root, expansion_cap=3.0), bundle, ds, HashReward(constant=0.0), TransformersEngine(bundle)
    )
    before = {n: p.detach().clone() for n, p in bundle.model.named_parameters()}
    m = trainer.step()
    assert m["groups/trained"] == 0 and m["dynamic_sampling/not_valid_rate"] == 1.0
    assert all(torch.equal(before[n], p) for n, p in bundle.model.named_parameters())
    assert trainer.expansion.prompts_to_draw(3) == 9  # next draw: 3 × the capped ratio
    assert len(trainer.select_prompts()) == 9


@pytest.mark.slow
def test_resumed_run_matches_an_uninterrupted_one(setup):
    root, _, _ = setup
    straight = run_rl(_cfg(root, out=str(root / "straight"), iterations=3), reward=HashReward(), show_progress=False)
    run_rl(_cfg(root, out=str(root / "resumed"), iterations=2), reward=HashReward(), show_progress=False)
    resumed = run_rl(_cfg(root, out=str(root / "resumed"), iterations=3), reward=HashReward(), show_progress=False)
    a, b = read_metrics(straight / "metrics.jsonl"), read_metrics(resumed / "metrics.jsonl")
    assert [r["step"] for r in b] == [1, 2, 3]
    # Bit for bit, the policy figures too: the resumed process generates with caches sized as the uninterrupted
    # one's were.
    for key in (
        *("rewards/mean", "response/length_mean", "rollouts/total", "curriculum/tier/ungraded"),
        *("actor/loss", "actor/grad_norm", "actor/entropy", "actor/mismatch_kl"),
    ):
        assert [r[key] for r in a] == [r[key] for r in b], key
    # The weight change is measured from the run's starting model after a resume too, not from the checkpoint.
    assert [r["actor/weight_change"] for r in b] == [r["actor/weight_change"] for r in a]
    assert b[2]["actor/weight_change"] > b[0]["actor/weight_change"] > 0
    for name in ("rewards.png", "curriculum.png", "dynamic_sampling.png"):
        assert (straight / name).is_file()
