"""The RLCS policy loss: GRPO advantages, PPO clip with clip-higher, per-sample or per-token averaging.

Choices, as in GLM-4.1V-Thinking (arXiv 2507.01006, §5): group-normalised advantages (GRPO, DeepSeekMath
arXiv 2402.03300); asymmetric clip bounds ("clip-higher", DAPO arXiv 2503.14476: ε_low 0.2, ε_high 0.28) so
low-probability tokens with positive advantage can still grow, which keeps entropy from collapsing; no KL and no
entropy term by default (both here for ablations); loss averaged per sample, which the report found more stable
than per token. Because the rollout engine (e.g. vLLM) and the trainer can assign slightly different
probabilities to the same tokens, their mismatch is logged and corrected by a truncated importance weight
``min(π_old / π_rollout, cap)`` (truncated importance sampling, TIS).

All tensors are [B, T] over response tokens (B sequences, T positions) with a mask of the tokens to train on;
values at masked-out positions are ignored, even when they are inf or NaN.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

LossAveraging = Literal["sample", "token"]
# exp() of a log-ratio beyond this overflows float16/bfloat16 ranges; PPO clipping makes such tokens inert anyway.
MAX_LOG_RATIO = 20.0


def group_advantages(rewards: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """[n_groups, G] rewards → [n_groups, G] advantages ``(r − mean) / (std + eps)`` within each group.

    The std is the population std (correction 0), so a group's advantages have unit spread. A group whose
    rewards are all equal gets exactly zero advantage: it carries no preference between its responses.
    """
    if rewards.ndim != 2:
        raise ValueError(f"rewards must be [n_groups, G], got shape {tuple(rewards.shape)}")
    if not torch.isfinite(rewards).all():
        raise ValueError("rewards contain inf or NaN")
    rewards = rewards.to(torch.promote_types(rewards.dtype, torch.float32))
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True, correction=0)
    advantages = (rewards - mean) / (std + eps)
    all_equal = rewards.amax(dim=1, keepdim=True) == rewards.amin(dim=1, keepdim=True)
    return advantages.masked_fill(all_equal, 0.0)


def masked_average(
    values: torch.Tensor, mask: torch.Tensor, averaging: LossAveraging, normalizer: float | None = None
) -> torch.Tensor:
    """Average [B, T] values over masked tokens.

    ``"token"``: sum over all tokens / number of tokens — long responses weigh more. ``"sample"``: mean over each
    sequence's tokens, then over sequences (those with at least one token) — every response weighs the same.
    ``normalizer`` replaces the denominator (tokens or sequences) so that micro-batches of one mini-batch, or
    ranks, can each pass the whole mini-batch's count and have their losses add up to the full-batch loss.
    """
    mask = mask.bool()
    values = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    if averaging == "token":
        total, count = values.sum(), mask.sum()
    elif averaging == "sample":
        per_sequence = values.sum(dim=-1) / mask.sum(dim=-1).clamp_min(1)  # [B]
        total, count = per_sequence.sum(), mask.any(dim=-1).sum()
    else:
        raise ValueError(f"averaging must be one of {get_args(LossAveraging)}, got {averaging!r}")
    if normalizer is not None:
        if not normalizer > 0:
            raise ValueError(f"normalizer must be > 0, got {normalizer!r}")
        return total / normalizer
    return total / count.clamp_min(1)


def _k3(log_ratio: torch.Tensor) -> torch.Tensor:
    """Schulman's k3 estimator of KL(p‖q) from samples of p, with log_ratio = log q − log p: unbiased, >= 0."""
    return torch.expm1(log_ratio) - log_ratio


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    eps_low: float = 0.2,
    eps_high: float = 0.28,
    averaging: LossAveraging = "sample",
    *,
    ref_logprobs: torch.Tensor | None = None,
    kl_coef: float = 0.0,
    entropy: torch.Tensor | None = None,
    entropy_coef: float = 0.0,
    rollout_logprobs: torch.Tensor | None = None,
    tis_cap: float | None = None,
    normalizer: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO clipped surrogate with clip-higher; returns (scalar loss to minimise, metrics).

    ``logprobs`` [B, T]: the current policy's log-probs of the sampled tokens (with grad). ``old_logprobs``: the
    trainer's log-probs before this iteration's updates. ``advantages``: [B] per sequence or [B, T]. ``mask``:
    [B, T], true for response tokens. Optional: ``ref_logprobs`` with ``kl_coef`` > 0 adds a k3 KL penalty to
    the reference policy; ``entropy`` [B, T] with ``entropy_coef`` > 0 adds an entropy bonus (NaN entries mark
    tokens whose entropy was not measured: the metric averages the others; a bonus needs them all);
    ``rollout_logprobs`` (the engine's log-probs) logs the engine/trainer mismatch and, with ``tis_cap``,
    weights each token by ``min(exp(old − rollout), tis_cap)``.

    Metrics (token means over the mask): ``actor/clip_frac_low`` / ``_high`` (tokens whose gradient the lower /
    upper bound removed), ``actor/approx_kl`` (k3 KL from the rollout-time policy to the current one),
    ``actor/mismatch_kl`` (k3 KL from the engine to the trainer), ``actor/entropy`` when given.
    """
    shape = logprobs.shape
    if logprobs.ndim != 2:
        raise ValueError(f"logprobs must be [B, T], got shape {tuple(shape)}")
    named = {"old_logprobs": old_logprobs, "mask": mask, "ref_logprobs": ref_logprobs, "entropy": entropy}
    named["rollout_logprobs"] = rollout_logprobs
    for name, tensor in named.items():
        if tensor is not None and tensor.shape != shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {tuple(shape)} like logprobs")
    if advantages.shape not in (shape, shape[:1]):
        raise ValueError(f"advantages must be [B] or [B, T] = {tuple(shape)}, got {tuple(advantages.shape)}")
    if averaging not in get_args(LossAveraging):
        raise ValueError(f"averaging must be one of {get_args(LossAveraging)}, got {averaging!r}")
    if not 0 <= eps_low < 1 or not eps_high >= 0:
        raise ValueError(f"need 0 <= eps_low < 1 and eps_high >= 0, got eps_low={eps_low}, eps_high={eps_high}")
    if kl_coef < 0 or entropy_coef < 0:
        raise ValueError(f"kl_coef and entropy_coef must be >= 0, got {kl_coef}, {entropy_coef}")
    if kl_coef > 0 and ref_logprobs is None:
        raise ValueError("kl_coef > 0 needs ref_logprobs")
    if entropy_coef > 0 and entropy is None:
        raise ValueError("entropy_coef > 0 needs entropy")
    if tis_cap is not None and not tis_cap > 0:
        raise ValueError(f"tis_cap must be > 0 or None, got {tis_cap!r}")

    mask = mask.bool()
    # At least float32: bf16 log-prob differences are too coarse for ratios near 1 ± ε.
    dtype = torch.promote_types(logprobs.dtype, torch.float32)
    zero = torch.zeros((), dtype=dtype, device=logprobs.device)

    def clean(t: torch.Tensor) -> torch.Tensor:
        # Masked-out positions may hold padding garbage; zero them before any arithmetic so no inf/NaN leaks
        # into the loss or its gradient.
        return torch.where(mask, t.to(dtype), zero)

    logp = clean(logprobs)
    old = clean(old_logprobs).detach()
    adv = clean(advantages[:, None].expand(shape) if advantages.ndim == 1 else advantages).detach()

    log_ratio = (logp - old).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
    ratio = torch.exp(log_ratio)  # [B, T]
    surrogate = ratio * adv
    clipped = ratio.clamp(1 - eps_low, 1 + eps_high) * adv
    token_pg = -torch.minimum(surrogate, clipped)

    stats: dict[str, torch.Tensor] = {}
    if rollout_logprobs is not None:
        rollout_log_ratio = (old - clean(rollout_logprobs).detach()).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO)
        stats["actor/mismatch_kl"] = _k3(rollout_log_ratio)
        if tis_cap is not None:
            tis = torch.exp(rollout_log_ratio).clamp(max=tis_cap)
            token_pg = token_pg * tis
            stats["actor/tis_weight_mean"] = tis
            stats["actor/tis_truncated_frac"] = (torch.exp(rollout_log_ratio) > tis_cap).to(logp.dtype)

    token_loss = token_pg
    if ref_logprobs is not None:
        kl_ref = _k3((clean(ref_logprobs).detach() - logp).clamp(-MAX_LOG_RATIO, MAX_LOG_RATIO))
        stats["actor/kl_ref"] = kl_ref
        if kl_coef > 0:
            token_loss = token_loss + kl_coef * kl_ref
    entropy_mean = None
    if entropy is not None:
        measured = mask & ~torch.isnan(entropy)  # NaN: not measured (entropy as a metric on a sample of tokens)
        if entropy_coef > 0:
            if not torch.equal(measured, mask):
                raise ValueError("entropy_coef > 0 needs the entropy of every token, got NaN at some")
            token_loss = token_loss - entropy_coef * clean(entropy)
        entropy_mean = masked_average(torch.where(measured, entropy.detach().to(dtype), zero), measured, "token")

    loss = masked_average(token_loss, mask, averaging, normalizer)

    with torch.no_grad():
        stats["actor/clip_frac_low"] = ((ratio < 1 - eps_low) & (adv < 0)).to(logp.dtype)
        stats["actor/clip_frac_high"] = ((ratio > 1 + eps_high) & (adv > 0)).to(logp.dtype)
        stats["actor/approx_kl"] = _k3(log_ratio)
        stats["actor/ratio_mean"] = ratio
        means = {k: masked_average(v.detach(), mask, "token") for k, v in stats.items()}
        means["actor/clip_frac"] = means["actor/clip_frac_low"] + means["actor/clip_frac_high"]
        means["actor/pg_loss"] = masked_average(token_pg.detach(), mask, averaging, normalizer)
        means["actor/loss"] = loss.detach()
        means["actor/tokens"] = mask.sum().to(logp.dtype)
        if entropy_mean is not None:
            means["actor/entropy"] = entropy_mean
        values = torch.stack(list(means.values())).tolist()  # one device sync for all metrics
    return loss, dict(zip(means, values, strict=True))
