"""The LM head without full logits: one implementation for the supervised loss and the RL log-probs.

A [tokens, vocab] logits tensor is what stops 32K packs from fitting (151,552 × 32,768 × 4 bytes is 20 GB per
fp32 copy, and the loss keeps several). So the model runs without its LM head (`final_hidden_states`), the
states that predict a labelled token are gathered, and the head and log-softmax run on them in chunks of at
most ``LOGIT_CHUNK_ELEMENTS`` logits, each recomputed in the backward pass when there is more than one chunk.
Results and gradients equal the full-logits computation (tests/test_lm_head.py).

Under FSDP the ViT is its own unit, so every rank must run it in every pass: a rank whose batch has no image runs
it on one blank image whose output is added to the text embeddings times zero (`idle_vision`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.utils.checkpoint

from thinkvl.train import distributed as D

# At most this many float32 logits at a time (64 MiB): 16,384 tokens of the tiny model's vocabulary, 110 of the
# 9B's 151,552.
LOGIT_CHUNK_ELEMENTS = 2**24


def unwrap(model: Any) -> Any:
    """The transformers model inside a DDP-style wrapper (which keeps it as ``.module``)."""
    return getattr(model, "module", model)


def idle_vision(model: Any) -> torch.Tensor:
    """A zero scalar that depends on every ViT parameter: the ViT run on one blank 2×2-patch image.

    FSDP all-gathers a unit's parameters in forward and reduce-scatters its gradients in backward, collectives
    every rank must join; this lets a rank without images join them (gradients of exactly zero)."""
    inner = unwrap(model)
    vision = inner.config.vision_config
    grid = torch.tensor([[1, 2, 2]], device=inner.device)
    width = vision.in_channels * vision.temporal_patch_size * vision.patch_size**2
    pixels = torch.zeros(4, width, device=inner.device, dtype=inner.model.visual.dtype)
    features = inner.get_image_features(pixels, grid, return_dict=True).pooler_output
    return 0.0 * torch.cat(list(features)).float().sum()


def final_hidden_states(model: Any, inputs: dict[str, Any], **extra: Any) -> torch.Tensor:
    """[rows, length, hidden]: the language model's output after its final norm, with no logits computed.

    ``inputs``: input_ids, position_ids, attention_mask and optionally pixel_values + image_grid_thw; ``extra``
    goes to the model as is (RL passes precomputed image features). The model's own forward runs (so wrappers
    see the call); a hook on the final norm reads its output and ``logits_to_keep`` of no position makes the LM
    head a no-op."""
    inner = unwrap(model)
    device = inner.get_output_embeddings().weight.device
    captured: list[torch.Tensor] = []
    hooks = [inner.model.language_model.norm.register_forward_hook(lambda _m, _i, out: captured.append(out))]
    has_images = inputs.get("pixel_values") is not None or "mm_encoder_outputs" in extra
    if D.is_sharded(inner) and not has_images and torch.is_grad_enabled():
        # Where a rank with images runs the ViT (after the root's all-gather, before the decoder layers), so the
        # collectives come in the same order; its zero joins the text embeddings as image features would.
        def add_idle_vision(_module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            embeds = kwargs["inputs_embeds"]
            return args, {**kwargs, "inputs_embeds": embeds + idle_vision(model).to(embeds.dtype)}

        hooks.append(inner.model.language_model.register_forward_pre_hook(add_idle_vision, with_kwargs=True))
    try:
        model(
            input_ids=inputs["input_ids"],
            position_ids=inputs["position_ids"],
            attention_mask=inputs.get("attention_mask"),
            pixel_values=inputs.get("pixel_values"),
            image_grid_thw=inputs.get("image_grid_thw"),
            use_cache=False,
            logits_to_keep=torch.zeros(0, dtype=torch.long, device=device),
            **extra,
        )
    finally:
        for hook in hooks:
            hook.remove()
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


def chunked_logprobs(
    hidden: torch.Tensor,
    targets: torch.Tensor,
    head: Any,
    *,
    temperature: float = 1.0,
    suppressed: torch.Tensor | None = None,
    entropy: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """[n] log-probs of ``targets`` from [n, hidden] states, and [n] entropies if asked (else empty), computed
    ``LOGIT_CHUNK_ELEMENTS`` logits at a time; no [chunk, vocab] tensor is kept for backward."""
    size = max(1, LOGIT_CHUNK_ELEMENTS // head.weight.shape[0])
    if len(hidden) <= size:
        return _head(hidden, targets, head, temperature, suppressed, entropy)
    parts = []
    for h, t in zip(hidden.split(size), targets.split(size)):
        if torch.is_grad_enabled() and h.requires_grad:
            parts.append(
                torch.utils.checkpoint.checkpoint(
                    _head, h, t, head, temperature, suppressed, entropy, use_reentrant=False
                )
            )
        else:
            parts.append(_head(h, t, head, temperature, suppressed, entropy))
    return torch.cat([a for a, _ in parts]), torch.cat([b for _, b in parts])
