"""Next-token loss for supervised stages, as a sum plus a token count so batches of any shape combine exactly.

The loss goes through the chunked LM head (`thinkvl.train.lm_head`): logits exist only for labelled positions,
a chunk at a time, which is what lets 32K packs fit. ``full_logits=True`` is the plain computation it equals,
kept as the reference for tests and benchmarks.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from thinkvl.train.lm_head import chunked_logprobs, final_hidden_states, unwrap
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


def token_loss_sum(
    model: Any, batch: dict[str, torch.Tensor], *, full_logits: bool = False
) -> tuple[torch.Tensor, int]:
    """(sum of next-token cross-entropy over labelled tokens, number of labelled tokens)."""
    targets = batch["labels"][:, 1:]
    if full_logits:
        logits = forward_logits(model, batch)[:, :-1].float()
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
        return loss, int((targets != IGNORE).sum())
    hidden = final_hidden_states(model, batch)[:, :-1]  # [rows, length - 1, hidden]: position t predicts t + 1
    labelled = targets != IGNORE
    states = hidden[labelled]  # [N, hidden]
    head = unwrap(model).get_output_embeddings()
    logp, _ = chunked_logprobs(states, targets[labelled], head)
    return -logp.sum(), int(labelled.sum())
