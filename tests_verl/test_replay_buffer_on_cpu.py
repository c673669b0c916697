"""`RLCSReplayBuffer` against a real TransferQueue: balanced selection, over-drawing by the expansion ratio,
refill rounds for a shortfall, curriculum updates and state saved/restored beside the checkpoints.

The rollout side is played by the test: it writes each group's trajectories (``rm_scores`` with the reward on
the last token, ``extra_fields.reward_extra_info.acc``, ``rlcs_index``) and then the prompt's terminal tag,
as verl's agent loop does.
"""

from __future__ import annotations

import uuid

import pytest
import torch

from thinkvl.integrations.verl.replay_buffer import RLCSReplayBuffer
from thinkvl.integrations.verl.state import register_curriculum
from thinkvl.rl.curriculum import CurriculumSampler


def _uid() -> str:
    return uuid.uuid4().hex  # no "_": verl splits keys on it


class Rollouts:
    """Writes finished groups into one partition; as ``refill_fn`` it adds groups from a queue of patterns."""

    def __init__(self, tq, partition: str, global_steps: int = 1):
        self.tq, self.partition, self.global_steps = tq, partition, global_steps
        self.queue: list[tuple[int, list[float]]] = []  # (dataset index, per-rollout correctness) for refills
        self.calls: list[int] = []
        self.uid_of: dict[str, int] = {}

    def write(self, index: int, correct: list[float]) -> str:
        uid = _uid()
        for session, c in enumerate(correct):
            scores = torch.zeros(4)
            scores[-1] = c
            self.tq.kv_put(
                key=f"{uid}_{session}_0",
                partition_id=self.partition,
                fields={
                    "rm_scores": scores,
                    "extra_fields": {"reward_extra_info": {"acc": float(c)}},
                    "rlcs_index": torch.tensor(index),
                },
                tag={"status": "success", "global_steps": self.global_steps},
            )
        self.tq.kv_put(
            key=uid,
            partition_id=self.partition,
            tag={"is_prompt": True, "status": "finished", "global_steps": self.global_steps},
        )
        self.uid_of[uid] = index
        return uid

    def __call__(self, n: int) -> int:
        self.calls.append(n)
        for _ in range(n):
            index, correct = self.queue.pop(0) if self.queue else (0, [1.0, 1.0])
            self.write(index, correct)
        return n


def _buffer(refill, tmp_path, name: str, **kwargs) -> RLCSReplayBuffer:
    return RLCSReplayBuffer(
        trainer_mode="sync",
        trainer_config={},
        max_off_policy_threshold=8,
        max_off_policy_strategy="drop",
        sampler_kwargs={
            "curriculum_name": name,
            "state_dir": str(tmp_path / "rlcs_state"),
            "poll_interval": 0.05,
            **kwargs,
        },
        refill_fn=refill,
    )


def _selected(batch, rollouts: Rollouts) -> list[int]:
    return sorted({rollouts.uid_of[k.split("_")[0]] for k in batch.keys})


def _left(tq, partition: str) -> set[str]:
    listed = tq.kv_list(partition_id=partition) or {}
    return {k.split("_")[0] for k in listed.get(partition, {})}


@pytest.fixture
def curriculum():
    name = f"test-{uuid.uuid4().hex}"
    sampler = CurriculumSampler([f"r{i}" for i in range(8)], seed=0)
    register_curriculum(name, sampler)
    return name, sampler


def test_keeps_the_most_balanced_valid_groups_and_updates_the_curriculum(transfer_queue, tmp_path, curriculum):
    name, sampler = curriculum
    partition = f"train-{uuid.uuid4().hex}"
    rollouts = Rollouts(transfer_queue, partition)
    rollouts.write(0, [1, 1, 1, 1])  # all right: no gradient
    rollouts.write(1, [0, 0, 0, 0])  # all wrong: no gradient
    rollouts.write(2, [1, 0, 1, 0])  # pass rate 0.5: most balanced
    rollouts.write(3, [1, 1, 1, 0])  # 0.75
    rollouts.write(4, [1, 0, 0, 0])  # 0.25
    buffer = _buffer(rollouts, tmp_path, name)
    batch, metrics = buffer.sample(global_steps=1, partition_id=partition, batch_size=2)
    assert rollouts.calls == []  # first step: ratio 1, nothing over-drawn
    assert len(batch.keys) == 8 and _selected(batch, rollouts) in ([2, 3], [2, 4])  # two groups of four
    assert metrics["dynamic_sampling/not_valid_rate"] == pytest.approx(2 / 5)
    assert metrics["dynamic_sampling/expansion_ratio"] == pytest.approx(5 / 3)
    assert _left(transfer_queue, partition) <= {k.split("_")[0] for k in batch.keys}  # the rest is cleared
    assert [sampler.pass_rate(f"r{i}") for i in range(5)] == [1.0, 0.0, 0.5, 0.75, 0.25]
    assert sampler.pass_rate("r5") is None
    assert sampler.tier("r0") == "very_easy" and sampler.tier("r1") == "very_hard"
    assert (tmp_path / "rlcs_state" / "global_step_1.json").is_file()


def test_over_draws_by_the_expansion_ratio_and_refills_a_shortfall(transfer_queue, tmp_path, curriculum):
    name, _ = curriculum
    partition = f"train-{uuid.uuid4().hex}"
    rollouts = Rollouts(transfer_queue, partition)
    buffer = _buffer(rollouts, tmp_path, name, gen_batch_size=1)
    buffer.expansion.load_state_dict({"ratio_ema": 2.0, "observations": 3})
    for i in range(4):  # the step's own dispatch: four prompts, only one with a reward spread
        rollouts.write(i, [1, 0] if i == 0 else [1, 1])
    # over-draw: ceil(4 × 2.0) − 4 = 4 more prompts; they come back invalid too, so a refill round follows
    rollouts.queue = [(4, [1, 1])] * 4 + [(5, [0, 1]), (6, [1, 0]), (7, [0, 1]), (3, [1, 0]), (2, [0, 1]), (1, [1, 0])]
    batch, metrics = buffer.sample(global_steps=5, partition_id=partition, batch_size=4)
    assert rollouts.calls[0] == 4
    assert rollouts.calls[1] == 6  # ceil((4 − 1 valid) × ratio 2.0)
    assert metrics["dynamic_sampling/refill_rounds"] == 1.0
    assert metrics["dynamic_sampling/padded_groups"] == 0.0
    assert len(_selected(batch, rollouts)) == 4 and len(batch.keys) == 8


def test_pads_with_invalid_groups_when_refills_run_out(transfer_queue, tmp_path, curriculum):
    name, _ = curriculum
    partition = f"train-{uuid.uuid4().hex}"
    rollouts = Rollouts(transfer_queue, partition)
    buffer = _buffer(rollouts, tmp_path, name, max_refill_rounds=1)
    rollouts.write(0, [1, 0])
    rollouts.write(1, [1, 1])
    rollouts.write(2, [0, 0])
    batch, metrics = buffer.sample(global_steps=1, partition_id=partition, batch_size=3)  # refill brings [1, 1]
    assert rollouts.calls == [2]
    assert metrics["dynamic_sampling/padded_groups"] == 2.0
    assert len({k.split("_")[0] for k in batch.keys}) == 3  # the trainer always gets its batch


def test_state_is_restored_when_a_run_resumes(transfer_queue, tmp_path, curriculum):
    name, sampler = curriculum
    partition = f"train-{uuid.uuid4().hex}"
    rollouts = Rollouts(transfer_queue, partition)
    rollouts.write(6, [1, 0, 0, 0])
    rollouts.write(7, [0, 0])
    _buffer(rollouts, tmp_path, name).sample(global_steps=3, partition_id=partition, batch_size=1)
    # a new process: fresh curriculum and buffer, resuming at step 4
    fresh = CurriculumSampler([f"r{i}" for i in range(8)], seed=0)
    register_curriculum(name, fresh)
    resumed = _buffer(rollouts, tmp_path, name)
    assert resumed.expansion.ratio_ema == 1.0
    rollouts.write(5, [1, 0])
    resumed.sample(global_steps=4, partition_id=partition, batch_size=1)
    assert fresh.pass_rate("r6") == pytest.approx(0.25) and fresh.pass_rate("r7") == 0.0
    assert fresh.pass_rate("r5") == pytest.approx(0.5)
    assert resumed.expansion.observations == 2


def test_refuses_async_mode(tmp_path) -> None:
    with pytest.raises(ValueError, match="trainer_mode=sync"):
        RLCSReplayBuffer("colocate_async", {}, 8, "drop", {}, refill_fn=lambda n: n)
