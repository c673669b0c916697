"""`ThinkvlRewardManager`: verl's reward-loop manager that keeps the thinking-format tags.

Why a manager of our own: every verl reward manager decodes the response with ``skip_special_tokens=True``.
thinkvl's tokenizer registers ``<think>``, ``</think>``, ``<answer>``, ``</answer>`` and the box tokens as
special tokens (one token each, so the policy can't spell a look-alike tag), so the decoded text loses exactly
the tags the strict format gate reads, and every response scores 0. Making the tags non-special in our tokenizer
would not help with a published checkpoint, whose tokenizer files decide for themselves; decoding with the tags
kept is right for any tokenizer. Padding and the end-of-turn stop tokens are dropped before decoding.

verl config (sync or async trainer)::

    reward.reward_manager.source=importlib
    reward.reward_manager.name=ThinkvlRewardManager
    reward.reward_manager.module.path=pkg://thinkvl.integrations.verl.reward_manager

With no ``reward.custom_reward_function`` the manager scores with thinkvl's `RewardSystem`
(`thinkvl.reward.adapters.compute_score`); a configured custom function is used as verl would use it.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase
from verl.utils.reward_score import default_compute_score

from thinkvl.model import tokens as T
from thinkvl.reward.adapters import compute_score as thinkvl_compute_score

# Tokens that end a turn or pad it: not part of what the model said.
_DROPPED = (T.PAD, *T.STOP_TOKENS)


def decode_keeping_tags(tokenizer: Any, token_ids: Sequence[int]) -> str:
    """The response as the reward system reads it: every tag kept, padding and stop tokens removed."""
    vocab = tokenizer.get_vocab()
    dropped = {vocab[t] for t in _DROPPED if t in vocab}
    for attr in ("pad_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if isinstance(value, int):
            dropped.add(value)
    ids = [int(t) for t in token_ids if int(t) not in dropped]
    return tokenizer.decode(ids, skip_special_tokens=False)


class ThinkvlRewardManager(RewardManagerBase):
    """Scores one trajectory at a time (verl's reward loop) with the thinking-format tags intact."""

    def __init__(self, config: Any, tokenizer: Any, compute_score: Any = None, **_: Any):
        super().__init__(config, tokenizer, compute_score)
        # verl hands its own default scorer over when no custom_reward_function is configured: use thinkvl's.
        custom = compute_score is not None and compute_score is not default_compute_score
        self.compute_score = compute_score if custom else thinkvl_compute_score
        self.is_async = inspect.iscoroutinefunction(self.compute_score)

    async def run_single(self, data: DataProto) -> dict[str, Any]:
        item = data[-1:][0]  # several sequences per trajectory: the last one carries the answer
        response_ids = item.batch["responses"]
        length = int(item.batch["attention_mask"][-response_ids.shape[-1] :].sum())
        valid = response_ids[:length].tolist()
        text = await self.loop.run_in_executor(None, lambda: decode_keeping_tags(self.tokenizer, valid))
        kwargs = {
            "data_source": item.non_tensor_batch["data_source"],
            "solution_str": text,
            "ground_truth": item.non_tensor_batch["reward_model"]["ground_truth"],
            "extra_info": dict(item.non_tensor_batch.get("extra_info", None) or {}),
        }
        if self.is_async:
            result = await self.compute_score(**kwargs)
        else:
            result = await self.loop.run_in_executor(None, lambda: self.compute_score(**kwargs))
        if isinstance(result, dict):
            return {"reward_score": float(result["score"]), "reward_extra_info": dict(result)}
        return {"reward_score": float(result), "reward_extra_info": {"acc": float(result)}}
