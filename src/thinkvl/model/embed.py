"""Video steps as images, in token order, so glm4v's own forward places every visual feature.

glm4v marks video frames with the same ``<|image|>`` token as images, and transformers 5.24 finds both kinds of
placeholder by that token id, so a batch holding an image *and* a video fails ("Image features and image tokens
do not match"). Packing mixes them all the time. The vision tower encodes a video as independent temporal steps
of grid (1, h, w) anyway (`get_video_features`), so feeding each step as an image, in the order the tokens
appear, gives identical features and lets the model's forward (and FSDP/DDP wrapping it) work unchanged.
3D positions are computed beforehand with the real video grid, so video time positions are kept.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch


def visual_as_images(enc: Any, row: int = 0) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """(pixel_values, image_grid_thw) of one tokenised sequence with video steps turned into images."""
    images, steps = [], []
    if enc.get("pixel_values") is not None:
        sizes = enc["image_grid_thw"].prod(-1).tolist()
        images = list(zip(torch.split(enc["pixel_values"], sizes), enc["image_grid_thw"]))
    if enc.get("pixel_values_videos") is not None:
        grids = enc["video_grid_thw"]
        for pv, (_t, h, w) in zip(torch.split(enc["pixel_values_videos"], grids.prod(-1).tolist()), grids.tolist()):
            for chunk in torch.split(pv, h * w):
                steps.append((chunk, torch.tensor([1, h, w])))
    if not images and not steps:
        return None, None
    queues = {1: iter(images), 2: iter(steps)}
    ordered = []
    for kind, _ in itertools.groupby(enc["mm_token_type_ids"][row].tolist()):
        if kind:
            ordered.append(next(queues[kind]))
    return torch.cat([pv for pv, _ in ordered]), torch.stack([g for _, g in ordered]).long()
