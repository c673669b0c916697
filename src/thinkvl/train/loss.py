"""Next-token loss for supervised stages, as a sum plus a token count so batches of any shape combine exactly."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from thinkvl.train.samples import IGNORE


def forward_logits(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits [batch, length, vocab]; no cache, so packed samples stay isolated."""
    return model(
        input_ids=batch["input_ids"],
        position_ids=batch["position_ids"],
        attention_mask=batch.get("attention_mask"),
        pixel_values=batch.get("pixel_values"),
        image_grid_thw=batch.get("image_grid_thw"),
        use_cache=False,
    ).logits


def token_loss_sum(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """(sum of next-token cross-entropy over labelled tokens, number of labelled tokens)."""
    logits = forward_logits(model, batch)[:, :-1].float()
    targets = batch["labels"][:, 1:]
    loss = F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
    )
    return loss, int((targets != IGNORE).sum())
