"""RL must be seen to train: every iteration moves the policy, and a learnable reward goes up.

The first RLCS demo logged rewards, a KL and a clip fraction while its weights moved 0.15% in 32 updates; nothing
failed. These tests fail if an iteration leaves the policy where it was, or if the loop does not raise a reward that
depends only on what the policy writes."""

import pytest
import torch

from thinkvl.config import load_yaml
from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.demo import demo_config_path
from thinkvl.model import create_bundle
from thinkvl.model.generate import TransformersEngine
from thinkvl.reward import Verdict
from thinkvl.rl.config import RLConfig
from thinkvl.rl.trainer import RLCSTrainer


class EvenTokenReward:
    """Reward = the share of a response's tokens whose id is even: learnable from the policy's own samples
    (no image needed), and graded, so groups are rarely all equal."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def score_batch(self, texts, records, **_):
        out = []
        for t in texts:
            ids = self.tokenizer.encode(t, add_special_tokens=False) or [1]
            r = sum(i % 2 == 0 for i in ids) / len(ids)
            out.append(Verdict(reward=r, correct=r > 0.5, extracted=None, format_ok=True))
        return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("rl_trains")
    write_dataset(root / "data", domains=["counting", "chart"], n=8, seed=0, levels=[0])
    return load_records(root / "data")


def _trainer(data, **over) -> RLCSTrainer:
    torch.manual_seed(0)
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    over = {"iterations": 8, **over}
    cfg = RLConfig(
        model="unused", data="unused", prompts_per_iteration=4, group_size=4, thinking_budget=8,
        answer_budget=4, mini_batch_size=8, micro_batch_size=8, temperature=1.0, rollout_batch_size=16,
        dynamic_sampling=False, **over,
    )  # fmt: skip
    return RLCSTrainer(cfg, bundle, data, EvenTokenReward(bundle.tokenizer), TransformersEngine(bundle))


@pytest.mark.slow
def test_every_iteration_moves_the_policy_and_a_learnable_reward_rises(data):
    trainer = _trainer(data, lr=3e-3, warmup_steps=2)
    rows = [trainer.step() for _ in range(10)]
    changes = [m["actor/weight_change"] for m in rows]
    assert all(b > a for a, b in zip(changes, changes[1:])), changes  # each iteration moved the weights further
    assert all(m["actor/approx_kl"] > 1e-6 for m in rows[1:]), [m["actor/approx_kl"] for m in rows]
    assert changes[-1] > 1e-3
    first, last = sum(m["rewards/mean"] for m in rows[:2]) / 2, sum(m["rewards/mean"] for m in rows[-3:]) / 3
    assert last > first + 0.08, [round(m["rewards/mean"], 3) for m in rows]  # measured: 0.72 -> 0.86


@pytest.mark.slow
def test_the_demo_rl_settings_move_the_policy_within_its_warm_up(data):
    """The demo's own learning rate and warm-up reach full strength and move the policy measurably."""
    demo = load_yaml(RLConfig, demo_config_path("rl.yaml"))
    trainer = _trainer(data, lr=demo.lr, warmup_steps=demo.warmup_steps)
    steps_per_iteration = trainer.cfg.prompts_per_iteration * trainer.cfg.group_size // trainer.cfg.mini_batch_size
    rows = [trainer.step() for _ in range(-(-demo.warmup_steps // steps_per_iteration))]
    assert rows[-1]["actor/lr"] == pytest.approx(demo.lr)
    assert rows[-1]["actor/weight_change"] > 5e-4, [m["actor/weight_change"] for m in rows]


@pytest.mark.slow
def test_the_learning_rate_decays_to_its_floor_over_the_planned_updates(data):
    """min_lr_ratio < 1: after warm-up a cosine takes the rate to lr × min_lr_ratio by the last planned update."""
    trainer = _trainer(data, lr=1e-3, warmup_steps=2, min_lr_ratio=0.1, iterations=3)
    assert trainer.cfg.planned_updates == 6  # 3 iterations × 16 responses / mini-batches of 8
    lrs = [trainer.step()["actor/lr"] for _ in range(3)]  # the rate of the next update, after 2, 4 and 6 updates
    assert lrs == pytest.approx([1e-3, 5.5e-4, 1e-4]), lrs
    constant = _trainer(data, lr=1e-3, warmup_steps=2, iterations=3)
    assert [constant.step()["actor/lr"] for _ in range(3)] == pytest.approx([1e-3] * 3)
