"""Rollouts → training tensors, and the trainer's log-probs of the sampled tokens.

Each rollout becomes one sequence (prompt + response, with the prompt's images or video). The sequences of a
micro-batch are *packed* (padding-free, like SFT: `thinkvl.train.packing`): several per row, each with its own
3D positions, isolated by the restarts of the text positions with no attention mask and no cache. The vision
encoder runs once per distinct prompt, not once per rollout: a group's G rollouts share their prompt's pixels.

Log-probs are taken only where they are used. The model's final hidden states are read at the positions that
predict a sampled response token (prompt tokens, padding and tokens appended by forced answering are skipped),
and the LM head and log-softmax run on those, in chunks of at most ``LOGIT_CHUNK_ELEMENTS`` logits, recomputed in
the backward pass when there is more than one chunk: memory for logits no longer grows with vocabulary × length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.utils.checkpoint
from transformers.modeling_outputs import BaseModelOutputWithPooling

from thinkvl.model.generate import Rollout
from thinkvl.train.packing import collate_packed, pack
from thinkvl.train.samples import IGNORE, Sample

# Longest packed row when sequences are shorter. On CPU (SDPA) transformers builds a dense block-diagonal mask,
# so attention costs O(row²): short rows of a few sequences beat one long row (benchmarks/README.md).
PACK_TOKENS = 512
# At most this many float32 logits at a time (64 MiB): 16,384 tokens of the tiny model's vocabulary, ~440 of a
# 151k one.
LOGIT_CHUNK_ELEMENTS = 2**24
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
    inputs: dict[str, torch.Tensor]  # packed: position_ids [4, rows, length], no attention mask
    predict_at: torch.Tensor  # [N] flat (row · length + column) positions that predict a sampled token
    targets: torch.Tensor  # [N] those sampled tokens, in the row-major order of ``mask``
    mask: torch.Tensor  # [B, T] bool: sampled response tokens
    rollout_logprobs: torch.Tensor  # [B, T]: the engine's log-probs
    # Distinct visual inputs (pixels, grids) and, per image in token order, which distinct input it comes from.
    visual: tuple[torch.Tensor, torch.Tensor, list[int]] | None = None


def policy_batch(
    samples: list[Sample],
    rollouts: list[Rollout],
    pad_id: int,
    prompt_lens: list[int],
    pack_len: int | None = PACK_TOKENS,
) -> PolicyBatch:
    """Pack ``samples`` (one per rollout, in order) into rows of at most ``max(pack_len, longest)`` tokens;
    ``pack_len=None`` puts them all in one row."""
    if not samples or len(samples) != len(rollouts) or len(samples) != len(prompt_lens):
        raise ValueError(f"need as many samples as rollouts and prompt lengths, got {len(samples)}, {len(rollouts)}")
    longest = max(len(s) for s in samples)
    row_len = sum(len(s) for s in samples) if pack_len is None else max(pack_len, longest)
    packs, _ = pack(samples, row_len)
    inputs = collate_packed(packs, pad_id)
    length = inputs["input_ids"].shape[1]
    where = {id(s): (r, sum(len(x) for x in p[:k])) for r, p in enumerate(packs) for k, s in enumerate(p)}

    width = max(len(r.response_ids) for r in rollouts)
    mask = torch.zeros(len(rollouts), width, dtype=torch.bool)
    old = torch.zeros(len(rollouts), width)
    predict_at, targets = [], []
    for i, (s, r, p) in enumerate(zip(samples, rollouts, prompt_lens)):
        n = len(r.response_ids)
        mask[i, :n] = torch.tensor(r.action_mask, dtype=torch.bool)
        old[i, :n] = torch.tensor(r.logprobs)
        row, offset = where[id(s)]
        k = mask[i].nonzero()[:, 0]  # response token k sits at offset + p + k, predicted from the one before
        predict_at.append(row * length + offset + p - 1 + k)
        targets.append(s.input_ids[p + k])
    visual = _distinct_visual([s for pk in packs for s in pk], inputs)
    return PolicyBatch(inputs, torch.cat(predict_at), torch.cat(targets), mask, old, visual)


def _distinct_visual(
    ordered: list[Sample], inputs: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, list[int]] | None:
    """Deduplicate the samples' visual inputs (the G rollouts of a prompt carry the same pixel tensor)."""
    if "pixel_values" not in inputs:
        return None
    inputs.pop("pixel_values")
    inputs.pop("image_grid_thw")
    distinct: dict[int, int] = {}  # id(pixel tensor) → index of its first image among the distinct ones
    pixels, grids, order = [], [], []
    for s in ordered:
        if s.pixel_values is None:
            continue
        key = id(s.pixel_values)
        if key not in distinct:
            distinct[key] = sum(len(g) for g in grids)
            pixels.append(s.pixel_values)
            grids.append(s.image_grid_thw)
        order += range(distinct[key], distinct[key] + len(s.image_grid_thw))
    return torch.cat(pixels), torch.cat(grids), order


def _unwrap(model: Any) -> Any:
    """The transformers model inside a DDP/FSDP-style wrapper (which keeps it as ``.module``)."""
    return getattr(model, "module", model)


def final_hidden_states(model: Any, batch: PolicyBatch) -> torch.Tensor:
    """[rows, length, hidden]: the language model's output after its final norm, with no logits computed.

    The model's own forward runs (so wrappers around it see the call); a hook on the final norm reads its
    output and ``logits_to_keep`` of no position makes the LM head a no-op."""
    inner = _unwrap(model)
    captured: list[torch.Tensor] = []
    handle = inner.model.language_model.norm.register_forward_hook(lambda _m, _i, out: captured.append(out))
    extra: dict[str, Any] = {}
    if batch.visual is not None:
        pixels, grids, order = batch.visual
        features = inner.get_image_features(pixels, grids, return_dict=True).pooler_output  # one per distinct
        extra["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=[features[i] for i in order])}
    try:
        model(
            input_ids=batch.inputs["input_ids"],
            position_ids=batch.inputs["position_ids"],
            attention_mask=None,
            use_cache=False,
            logits_to_keep=torch.zeros(0, dtype=torch.long),
            **extra,
        )
    finally:
        handle.remove()
    return captured[-1]


def _head(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    head: Any,
    temperature: float,
    suppressed: torch.Tensor | None,
    entropy: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[n] log-probs of ``targets`` (and [n] entropies, or an empty tensor) from [n, hidden] states."""
    logits = head(hidden).float()
    if temperature != 1.0:
        logits = logits / temperature
    if suppressed is not None:
        logits = logits.index_fill(-1, suppressed, float("-inf"))
    logz = torch.logsumexp(logits, dim=-1)
    logp = logits.gather(-1, targets[:, None])[:, 0] - logz
    if not entropy:
        return logp, logp.new_zeros(0)
    p = torch.exp(logits - logz[:, None])
    # H = logZ − Σ p·logit; suppressed tokens have p = 0 and logit −inf, and contribute nothing.
    return logp, logz - (p * torch.where(p > 0, logits, torch.zeros_like(logits))).sum(-1)


def _chunked_head(
    hidden: torch.Tensor, targets: torch.Tensor, head: Any, temperature: float, suppressed: Any, entropy: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    vocab = head.weight.shape[0]
    size = max(1, LOGIT_CHUNK_ELEMENTS // vocab)
    if len(hidden) <= size:
        return _head(hidden, targets, head, temperature, suppressed, entropy)
    parts = []
    for h, t in zip(hidden.split(size), targets.split(size)):
        if torch.is_grad_enabled() and h.requires_grad:  # keep no [chunk, vocab] tensor alive for backward
            parts.append(
                torch.utils.checkpoint.checkpoint(
                    _head, h, t, head, temperature, suppressed, entropy, use_reentrant=False
                )
            )
        else:
            parts.append(_head(h, t, head, temperature, suppressed, entropy))
    return torch.cat([a for a, _ in parts]), torch.cat([b for _, b in parts])


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
    states = hidden.reshape(-1, hidden.shape[-1])[batch.predict_at]  # [N, hidden]
    head = _unwrap(model).get_output_embeddings()
    banned = torch.tensor(sorted(set(suppressed)), device=states.device) if suppressed else None
    logp, ent = _chunked_head(states, batch.targets, head, temperature, banned, entropy == "all")
    out = torch.zeros(batch.mask.shape, dtype=logp.dtype, device=logp.device)
    out = out.masked_scatter(batch.mask, logp)
    if entropy == "none":
        return out, None
    if entropy == "sample":
        with torch.no_grad():
            stride = -(-len(states) // ENTROPY_SAMPLE)
            ent = torch.full((len(states),), float("nan"), device=states.device)
            _, ent[::stride] = _chunked_head(states[::stride], batch.targets[::stride], head, temperature, banned, True)
    full = torch.zeros(batch.mask.shape, dtype=ent.dtype, device=ent.device)
    return out, full.masked_scatter(batch.mask, ent)
