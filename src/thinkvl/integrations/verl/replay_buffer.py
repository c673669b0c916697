"""`RLCSReplayBuffer`: dynamic sampling expansion and the online curriculum as verl's custom replay buffer.

verl's sync trainer dispatches ``train_batch_size`` prompts per step and then asks the replay buffer for that
many finished groups. This buffer, per step:

1. over-draws: ``ceil(batch × expansion_ratio) − batch`` more prompts through verl's ``refill_fn``, where the
   ratio is thinkvl's `ExpansionController` (EMA of ``1 / (1 − not_valid_rate)``, capped);
2. waits until every group of the step has finished; if fewer than ``batch`` groups have a reward spread, asks
   for up to ``max_refill_rounds`` more rounds (sized by the current ratio);
3. keeps the ``batch`` most balanced valid groups (`select_groups`: pass rate nearest 0.5), pads a shortfall
   with invalid groups (zero advantage: they cost compute, never bias the gradient) so the trainer always gets
   ``batch`` groups, and clears the rest from TransferQueue;
4. folds every finished group's pass rate into the curriculum shared with `RLCSDataset` and re-sets its
   weights, then saves curriculum + expansion state beside verl's checkpoints (`state.save_state`).

Config (``trainer.v1.sampler``; ``sampler_kwargs`` holds `options.SamplerOptions`, with `RLConfig`'s expansion
fields and defaults)::

    custom_sampler: {path: pkg://thinkvl.integrations.verl.replay_buffer, name: RLCSReplayBuffer}
    sampler_kwargs: {curriculum_name: rlcs, state_dir: ${trainer.default_local_dir}/rlcs_state,
                     gen_batch_size: ${data.gen_batch_size}, expansion_ema_decay: 0.9, expansion_cap: 4.0}

Only ``trainer.v1.trainer_mode: sync`` is supported (RLCS is on-policy); validation batches are sampled as
verl's own buffer samples them.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from typing import Any

import transfer_queue as tq
from transfer_queue import KVBatchMeta
from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

from thinkvl.integrations.verl.options import SamplerOptions, read_options
from thinkvl.integrations.verl.state import get_curriculum, load_state, save_state
from thinkvl.rl.dynamic_sampling import select_groups

logger = logging.getLogger(__name__)
INDEX_FIELD = "rlcs_index"  # the dataset position `RLCSDataset` stores in every row


class RLCSReplayBuffer(ReplayBuffer):
    """verl's sync replay buffer with RLCS group selection, over-drawing and curriculum updates."""

    def __init__(
        self,
        trainer_mode: str,
        trainer_config: Any,
        max_off_policy_threshold: int | None,
        max_off_policy_strategy: str,
        sampler_kwargs: Any,
        poll_interval: float = 2.0,
        refill_fn: Any = None,
        **kwargs: Any,
    ):
        if trainer_mode != "sync":
            raise ValueError(
                f"RLCSReplayBuffer needs trainer.v1.trainer_mode=sync (RLCS is on-policy), got {trainer_mode!r}"
            )
        if refill_fn is None:
            raise ValueError("RLCSReplayBuffer needs verl's refill_fn to over-draw prompts")
        options = read_options(SamplerOptions, sampler_kwargs, "trainer.v1.sampler.sampler_kwargs")
        poll_interval = options.poll_interval or poll_interval
        super().__init__(
            trainer_mode,
            trainer_config,
            max_off_policy_threshold,
            max_off_policy_strategy,
            sampler_kwargs,
            poll_interval=poll_interval,
            refill_fn=refill_fn,
        )
        self.expansion = options.expansion_controller()
        self.gen_batch_size, self.max_refill_rounds = options.gen_batch_size, options.max_refill_rounds
        self.curriculum_name, self.state_dir = options.curriculum_name, options.state_dir
        self.correct_field, self.timeout = options.correct_field, options.timeout_s
        self._restored = False
        self.last_metrics: dict[str, float] = {}

    # --- public hook ----------------------------------------------------------------------------------------

    def sample(self, global_steps: int, partition_id: str, batch_size: int) -> tuple[KVBatchMeta, dict]:
        if partition_id == "val":
            return super().sample(global_steps, partition_id, batch_size)
        self._restore(global_steps)
        extra = self._round_up(self.expansion.prompts_to_draw(batch_size) - batch_size)
        if extra > 0:
            self.refill_fn(extra)
        rounds, started = 0, time.time()
        while True:
            self._sync_metadata_from_transfer_queue()
            if self.pending_keys[partition_id] or self.running_keys[partition_id]:
                if self.timeout and time.time() - started > self.timeout:
                    raise TimeoutError(f"RLCSReplayBuffer: groups still running after {self.timeout:.0f} s")
                time.sleep(self.poll_interval)
                continue
            groups = self._finished_groups(partition_id)
            num_valid = sum(1 for g in groups.values() if _spread(g["rewards"]))
            if num_valid < batch_size and rounds < self.max_refill_rounds:
                rounds += 1
                self.refill_fn(self._round_up(math.ceil((batch_size - num_valid) * self.expansion.ratio_ema)))
                continue
            break
        return self._select(global_steps, partition_id, batch_size, groups, rounds, extra)

    # --- steps ----------------------------------------------------------------------------------------------

    def _select(
        self, global_steps: int, partition_id: str, batch_size: int, groups: dict[str, dict], rounds: int, extra: int
    ) -> tuple[KVBatchMeta, dict]:
        uids = sorted(groups, key=lambda u: self.prompt_global_steps[partition_id].get(u, 0))
        rewards = [groups[u]["rewards"] for u in uids]
        rates = [_mean(groups[u]["correct"]) for u in uids]
        selection = select_groups(rewards, batch_size, pass_rates=rates)
        chosen = [uids[i] for i in selection.indices]
        if len(chosen) < batch_size:  # pad with the leftovers: zero advantage, but the batch keeps its shape
            rest = [u for u in uids if u not in set(chosen)]
            chosen += rest[: batch_size - len(chosen)]
        if len(chosen) < batch_size:
            raise RuntimeError(f"RLCSReplayBuffer: only {len(uids)} finished groups for a batch of {batch_size}")
        self.expansion.observe(selection.num_invalid, selection.num_groups)
        curriculum_metrics = self._update_curriculum(groups)
        failed = self.failure_keys[partition_id] - set(groups)
        self._clear_groups(partition_id, (set(uids) - set(chosen)) | failed)
        snapshot = dict(self.partitions[partition_id])
        self.last_metrics = {
            **selection.metrics(),
            **self.expansion.metrics(),
            **curriculum_metrics,
            "dynamic_sampling/overdrawn_prompts": float(extra),
            "dynamic_sampling/refill_rounds": float(rounds),
            "dynamic_sampling/padded_groups": float(batch_size - len(selection.indices)),
        }
        self._save(global_steps)
        return self._materialize_batch(partition_id, chosen, snapshot), dict(self.last_metrics)

    def _finished_groups(self, partition_id: str) -> dict[str, dict]:
        """uid → rewards, correctness and dataset index of each finished group with trajectories."""
        partition = self.partitions[partition_id]
        by_uid: dict[str, list[str]] = defaultdict(list)
        for key in partition:
            uid = key.split("_")[0]
            if uid in self.finished_keys[partition_id]:
                by_uid[uid].append(key)
        keys = [k for ks in by_uid.values() for k in ks]
        if not keys:
            return {}
        data = tq.kv_batch_get(
            keys=keys, partition_id=partition_id, select_fields=["rm_scores", "extra_fields", INDEX_FIELD]
        )
        out: dict[str, dict] = {}
        for key, scores, extra, index in zip(
            keys, data["rm_scores"], data["extra_fields"], data[INDEX_FIELD], strict=True
        ):
            group = out.setdefault(key.split("_")[0], {"rewards": [], "correct": [], "index": int(index)})
            reward = float(scores.sum().item())
            info = getattr(extra, "data", extra)
            info = info.get("reward_extra_info", {}) if isinstance(info, dict) else {}
            correct = info.get(self.correct_field, reward)
            group["rewards"].append(reward)
            group["correct"].append(min(max(float(correct), 0.0), 1.0))
        return out

    def _update_curriculum(self, groups: dict[str, dict]) -> dict[str, float]:
        curriculum = get_curriculum(self.curriculum_name)
        if curriculum is None:
            return {}
        ids, rates = [], []
        for group in groups.values():
            ids += [curriculum.ids[group["index"]]] * len(group["correct"])
            rates += group["correct"]
        curriculum.update(ids, rates)
        curriculum.reset_weights()
        return curriculum.metrics()

    def _round_up(self, n: int) -> int:
        """verl submits prompts in whole ``gen_batch_size`` fetches."""
        return 0 if n <= 0 else math.ceil(n / self.gen_batch_size) * self.gen_batch_size

    # --- state ----------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        curriculum = get_curriculum(self.curriculum_name)
        return {
            "expansion": self.expansion.state_dict(),
            "curriculum": curriculum.state_dict() if curriculum is not None else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.expansion.load_state_dict(state["expansion"])
        curriculum = get_curriculum(self.curriculum_name)
        if curriculum is not None and state.get("curriculum") is not None:
            curriculum.load_state_dict(state["curriculum"])

    def _save(self, global_steps: int) -> None:
        if self.state_dir:
            save_state(self.state_dir, global_steps, self.state_dict())

    def _restore(self, global_steps: int) -> None:
        """On the first step of a (resumed) run, continue from the newest state saved before it."""
        if self._restored:
            return
        self._restored = True
        if self.state_dir:
            found = load_state(self.state_dir, before_step=global_steps)
            if found is not None:
                step, state = found
                self.load_state_dict(state)
                logger.info("RLCS state restored from step %d", step)


def _spread(values: list[float], atol: float = 1e-6) -> bool:
    return len(values) >= 2 and max(values) - min(values) > atol


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
