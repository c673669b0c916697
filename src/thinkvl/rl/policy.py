"""Rollouts → training tensors, and the trainer's log-probs of the sampled tokens.

Each rollout becomes one sequence (prompt + response, with the prompt's images or video) in a right-padded
batch; the response tokens are then gathered into a [batch, response_length] view with a mask that is 0 for
padding and for tokens that forced answering appended (they were never sampled by the policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from thinkvl.model.generate import Rollout
from thinkvl.train.loss import forward_logits
from thinkvl.train.packing import collate_padded
from thinkvl.train.samples import IGNORE, Sample


@dataclass
class PromptEncoding:
    """A record's prompt, tokenised once and shared by its G rollouts."""

    input_ids: torch.Tensor  # [P]
    mm_token_type_ids: torch.Tensor  # [P]
    position_ids: torch.Tensor  # [3, P] from glm4v's get_rope_index
    pixel_values: torch.Tensor | None  # every image and video step, as images in token order
    image_grid_thw: torch.Tensor | None


def rollout_sample(prompt: PromptEncoding, rollout: Rollout, model: Any) -> Sample:
    response = torch.tensor(rollout.response_ids, dtype=torch.long)
    input_ids = torch.cat([prompt.input_ids, response])
    types = torch.cat([prompt.mm_token_type_ids, torch.zeros_like(response)])
    positions = torch.cat(
        [prompt.position_ids, prompt.position_ids.max() + 1 + torch.arange(len(response))[None].expand(3, -1)], dim=1
    )
    action = torch.tensor(rollout.action_mask, dtype=torch.bool)
    labels = torch.cat([torch.full_like(prompt.input_ids, IGNORE), torch.where(action, response, IGNORE)])
    return Sample(
        id=rollout.record_id,
        input_ids=input_ids,
        labels=labels,
        mm_token_type_ids=types,
        position_ids=positions,
        pixel_values=prompt.pixel_values,
        image_grid_thw=prompt.image_grid_thw,
    )


@dataclass
class PolicyBatch:
    inputs: dict[str, torch.Tensor]
    starts: list[int]  # where each response begins in its row
    mask: torch.Tensor  # [B, T] bool: sampled response tokens
    rollout_logprobs: torch.Tensor  # [B, T]: the engine's log-probs


def policy_batch(samples: list[Sample], rollouts: list[Rollout], pad_id: int, prompt_lens: list[int]) -> PolicyBatch:
    inputs = collate_padded(samples, pad_id)
    width = max(len(r.response_ids) for r in rollouts)
    mask = torch.zeros(len(rollouts), width, dtype=torch.bool)
    old = torch.zeros(len(rollouts), width)
    for i, r in enumerate(rollouts):
        n = len(r.response_ids)
        mask[i, :n] = torch.tensor(r.action_mask, dtype=torch.bool)
        old[i, :n] = torch.tensor(r.logprobs)
    return PolicyBatch(inputs=inputs, starts=prompt_lens, mask=mask, rollout_logprobs=old)


def token_logprobs(
    model: Any,
    batch: PolicyBatch,
    *,
    temperature: float = 1.0,
    suppressed: list[int] | None = None,
    with_entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[B, T] log-probs of the response tokens (and per-token entropy), under the sampler's temperature and
    token suppression, so that they are comparable with the engine's."""
    inputs = batch.inputs
    logits = forward_logits(model, inputs).float()
    if temperature != 1.0:
        logits = logits / temperature
    if suppressed:
        logits[..., suppressed] = float("-inf")
    B, T = batch.mask.shape
    # Row i's response token k sits at position starts[i] + k and is predicted from position starts[i] + k - 1.
    index = torch.tensor(batch.starts, device=logits.device)[:, None] - 1 + torch.arange(T, device=logits.device)[None]
    index = index.clamp(max=logits.shape[1] - 1)
    picked = logits.gather(1, index[..., None].expand(B, T, logits.shape[-1]))  # [B, T, V]
    logp = torch.log_softmax(picked, dim=-1)
    targets = inputs["input_ids"].gather(1, (index + 1).clamp(max=logits.shape[1] - 1))
    token_lp = logp.gather(-1, targets[..., None])[..., 0]
    token_lp = torch.where(batch.mask, token_lp, torch.zeros_like(token_lp))
    entropy = None
    if with_entropy:
        p = logp.exp()
        entropy = -(p * torch.where(p > 0, logp, torch.zeros_like(logp))).sum(-1)
    return token_lp, entropy
