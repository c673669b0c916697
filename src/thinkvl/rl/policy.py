"""Rollouts → training tensors, and the trainer's log-probs of the sampled tokens.

The sequences of a micro-batch are *packed* (padding-free, like SFT in `thinkvl.train.packing`): several per
row, each with its own 3D positions. By default a prompt appears once, followed by all of its rollouts in the
batch, and a block mask lets each rollout see the prompt and itself only: a group's G rollouts share the prompt's
computation (for the tiny demo model a third of the tokens) and the vision encoder runs once per prompt. With
flash attention (no custom masks) each (prompt, rollout) is its own segment instead, isolated by restarting the
text positions with no mask and no cache. Either way the results equal each sequence run alone.

Log-probs are taken only where they are used. The model's final hidden states are read at the positions that
predict a sampled response token (prompt tokens, padding and tokens appended by forced answering are skipped),
and the LM head and log-softmax run on those in chunks (`thinkvl.train.lm_head`, shared with the supervised loss):
memory for logits no longer grows with vocabulary × length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from thinkvl.model.generate import Rollout
from thinkvl.train import lm_head
from thinkvl.train.lm_head import chunked_logprobs, unwrap
from thinkvl.train.packing import first_fit_decreasing
from thinkvl.train.samples import IGNORE, Sample

# Longest packed row when units are shorter. Attention with a mask (SDPA, CPU) costs O(row²): rows of one or a
# few units beat one long row (benchmarks/README.md).
PACK_TOKENS = 512
# Response tokens whose entropy is measured when entropy is only a metric (entropy_coef 0).
ENTROPY_SAMPLE = 256

Entropy = Literal["none", "sample", "all"]


@dataclass
class PromptEncoding:
    """A record's prompt, tokenised once and shared by its G rollouts."""

    input_ids: torch.Tensor  # [P]
    mm_token_type_ids: torch.Tensor  # [P]
    position_ids: torch.Tensor  # [3, P] from glm4v's get_rope_index
    pixel_values: torch.Tensor | None  # every image and video step, as images in token order
    image_grid_thw: torch.Tensor | None


def rollout_sample(prompt: PromptEncoding, rollout: Rollout, model: Any = None) -> Sample:
    """One (prompt, response) sequence; its pixels are the prompt's own tensors (shared, not copied)."""
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
    inputs: dict[str, torch.Tensor]  # input_ids [rows, length], position_ids [4, rows, length], attention_mask
    predict_at: torch.Tensor  # [N] flat (row · length + column) positions that predict a sampled token
    targets: torch.Tensor  # [N] those sampled tokens, in the row-major order of ``mask``
    mask: torch.Tensor  # [B, T] bool: sampled response tokens
    rollout_logprobs: torch.Tensor  # [B, T]: the engine's log-probs
    # Distinct visual inputs (pixels, grids) and, per image in token order, which distinct input it comes from.
    visual: tuple[torch.Tensor, torch.Tensor, list[int]] | None = None


def policy_batch(
    prompts: list[PromptEncoding],
    rollouts: list[Rollout],
    pad_id: int,
    *,
    pack_len: int | None = PACK_TOKENS,
    share_prompts: bool = True,
) -> PolicyBatch:
    """Pack the (prompt, rollout) pairs into rows of at most ``max(pack_len, longest unit)`` tokens
    (``pack_len=None``: one row).

    ``share_prompts``: a unit is one prompt followed by all of its rollouts in the batch, each rollout attending
    to the prompt and to itself only (a custom block mask), so a prompt is computed once, not once per rollout.
    Otherwise a unit is one (prompt, rollout) sequence, isolated by restarting text positions with no mask, which
    flash-attention's variable-length kernels can run without building a mask."""
    if not rollouts or len(prompts) != len(rollouts):
        raise ValueError(f"need one prompt per rollout, got {len(prompts)} prompts and {len(rollouts)} rollouts")
    units: dict[int, list[int]] = {}  # unit → its rollouts' indices, in order of first appearance
    for i, p in enumerate(prompts):
        units.setdefault(id(p) if share_prompts else i, []).append(i)
    members = list(units.values())
    sizes = [len(prompts[m[0]].input_ids) + sum(len(rollouts[i].response_ids) for i in m) for m in members]
    rows = first_fit_decreasing(sizes, sum(sizes) if pack_len is None else max(pack_len, max(sizes)))
    length = max(sum(sizes[u] for u in row) for row in rows)

    n_rows = len(rows)
    input_ids = torch.full((n_rows, length), pad_id, dtype=torch.long)
    positions = torch.zeros((4, n_rows, length), dtype=torch.long)
    segment = torch.full((n_rows, length), -1, dtype=torch.long)  # unit id; padding gets its own below
    branch = torch.zeros((n_rows, length), dtype=torch.long)  # 0: prompt (seen by all), j: the unit's j-th rollout
    predict_at: list[list[int]] = [[] for _ in rollouts]
    distinct: dict[int, int] = {}  # id(prompt) → index of its first image among the distinct ones
    pixels, grids, order = [], [], []
    for r, row in enumerate(rows):
        col = 0
        for u in row:
            prompt = prompts[members[u][0]]
            P = len(prompt.input_ids)
            input_ids[r, col : col + P] = prompt.input_ids
            positions[0, r, col : col + P] = torch.arange(P)
            positions[1:, r, col : col + P] = prompt.position_ids
            segment[r, col : col + P] = u
            if prompt.pixel_values is not None:
                if id(prompt) not in distinct:
                    distinct[id(prompt)] = sum(len(g) for g in grids)
                    pixels.append(prompt.pixel_values)
                    grids.append(prompt.image_grid_thw)
                first = distinct[id(prompt)]
                order += range(first, first + len(prompt.image_grid_thw))
            prompt_end, col = col + P - 1, col + P
            start = int(prompt.position_ids.max()) + 1
            for j, i in enumerate(members[u], start=1):
                ids = rollouts[i].response_ids
                n = len(ids)
                input_ids[r, col : col + n] = torch.tensor(ids, dtype=torch.long)
                positions[0, r, col : col + n] = torch.arange(P, P + n)
                positions[1:, r, col : col + n] = torch.arange(start, start + n)
                segment[r, col : col + n] = u
                branch[r, col : col + n] = j
                # token k is predicted from the one before it: the prompt's last token for k = 0
                before = [prompt_end] + list(range(col, col + n - 1))
                predict_at[i] = [r * length + before[k] for k, a in enumerate(rollouts[i].action_mask) if a]
                col += n
        pad = length - col
        positions[:, r, col:] = torch.arange(pad)
        segment[r, col:] = len(members) + r
    inputs: dict[str, Any] = {"input_ids": input_ids, "position_ids": positions, "attention_mask": None}
    if share_prompts:
        inputs["attention_mask"] = _shared_prompt_mask(segment, branch)

    width = max(len(r.response_ids) for r in rollouts)
    mask = torch.zeros(len(rollouts), width, dtype=torch.bool)
    old = torch.zeros(len(rollouts), width)
    for i, r in enumerate(rollouts):
        mask[i, : len(r.response_ids)] = torch.tensor(r.action_mask, dtype=torch.bool)
        old[i, : len(r.response_ids)] = torch.tensor(r.logprobs)
    targets = torch.tensor([t for r in rollouts for t, a in zip(r.response_ids, r.action_mask) if a], dtype=torch.long)
    visual = (torch.cat(pixels), torch.cat(grids), order) if pixels else None
    flat = torch.tensor([k for at in predict_at for k in at], dtype=torch.long)
    return PolicyBatch(inputs, flat, targets, mask, old, visual)


def _shared_prompt_mask(segment: torch.Tensor, branch: torch.Tensor) -> torch.Tensor:
    """[rows, 1, length, length] bool: a token sees earlier tokens of its unit's prompt and of its own branch."""
    same_unit = segment[:, :, None] == segment[:, None, :]
    visible = (branch[:, None, :] == 0) | (branch[:, :, None] == branch[:, None, :])
    causal = torch.ones(segment.shape[1], segment.shape[1], dtype=torch.bool).tril()
    return (same_unit & visible & causal)[:, None]


def shares_prompts(model: Any) -> bool:
    """Whether `policy_batch` should share prompts (a custom mask) for this model: not with flash attention."""
    return "flash" not in str(getattr(unwrap(model).config, "_attn_implementation", ""))


def final_hidden_states(model: Any, batch: PolicyBatch) -> torch.Tensor:
    """[rows, length, hidden] after the final norm, no logits; each distinct image goes through the ViT once."""
    inner = unwrap(model)
    device = inner.get_output_embeddings().weight.device
    inputs = {k: v.to(device) if v is not None else None for k, v in batch.inputs.items()}
    extra: dict[str, Any] = {}
    if batch.visual is not None:
        pixels, grids, order = batch.visual
        features = inner.get_image_features(pixels.to(device), grids.to(device), return_dict=True).pooler_output
        extra["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=[features[i] for i in order])}
    return lm_head.final_hidden_states(model, inputs, **extra)


def token_logprobs(
    model: Any,
    batch: PolicyBatch,
    *,
    temperature: float = 1.0,
    suppressed: list[int] | None = None,
    entropy: Entropy = "none",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[B, T] log-probs of the sampled response tokens (0 elsewhere), under the sampler's temperature and token
    suppression so that they are comparable with the engine's; and per-token entropy: ``"all"`` with gradient
    (for an entropy bonus), ``"sample"`` without, at up to ``ENTROPY_SAMPLE`` evenly spaced tokens and NaN at the
    others (a metric), ``"none"``: None."""
    hidden = final_hidden_states(model, batch)
    device = hidden.device
    states = hidden.reshape(-1, hidden.shape[-1])[batch.predict_at.to(device)]  # [N, hidden]
    targets, mask = batch.targets.to(device), batch.mask.to(device)
    head = unwrap(model).get_output_embeddings()
    banned = torch.tensor(sorted(set(suppressed)), device=device) if suppressed else None
    kw = {"temperature": temperature, "suppressed": banned}
    logp, ent = chunked_logprobs(states, targets, head, entropy=entropy == "all", **kw)
    out = torch.zeros(mask.shape, dtype=logp.dtype, device=device).masked_scatter(mask, logp)
    if entropy == "none":
        return out, None
    if entropy == "sample":
        with torch.no_grad():
            stride = -(-len(states) // ENTROPY_SAMPLE)
            ent = torch.full((len(states),), float("nan"), device=device)
            _, ent[::stride] = chunked_logprobs(states[::stride], targets[::stride], head, entropy=True, **kw)
    return out, torch.zeros(mask.shape, dtype=ent.dtype, device=device).masked_scatter(mask, ent)
