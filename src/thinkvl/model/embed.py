"""Input embeddings with image and video features placed by token type.

glm4v marks video frames with the same ``<|image|>`` token as images, and transformers 5.24 finds both
kinds of placeholder by that token id, so a batch holding an image *and* a video fails ("Image features
and image tokens do not match"). Packing mixes them all the time; placing features by ``mm_token_type_ids``
(1 image, 2 video — what the processor returns) is exact and needs no other change.
"""

from __future__ import annotations

from typing import Any

import torch


def multimodal_embeds(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """[batch, length, hidden] embeddings of ``input_ids`` with visual features scattered in."""
    core = model.model
    embeds = core.get_input_embeddings()(batch["input_ids"])
    types = batch["mm_token_type_ids"]
    if batch.get("pixel_values") is not None:
        feats = core.get_image_features(batch["pixel_values"], batch["image_grid_thw"], return_dict=True)
        embeds = embeds.masked_scatter((types == 1)[..., None], torch.cat(feats.pooler_output).to(embeds.dtype))
    if batch.get("pixel_values_videos") is not None:
        feats = core.get_video_features(batch["pixel_values_videos"], batch["video_grid_thw"], return_dict=True)
        embeds = embeds.masked_scatter((types == 2)[..., None], torch.cat(feats.pooler_output).to(embeds.dtype))
    return embeds
