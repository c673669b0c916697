"""Pack variable-length multimodal samples into fixed-length sequences, isolated from each other.

glm4v accepts packed input as ``position_ids`` of shape [4, batch, length]: row 0 restarts at 0 for every
sample (transformers builds a block-diagonal causal mask from those restarts when ``attention_mask`` is None),
rows 1–3 are each sample's own (t, h, w) positions. All images and videos of a batch go through the vision
encoder together, in the order their tokens appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from thinkvl.train.samples import IGNORE, Sample

Overflow = Literal["truncate", "drop"]


@dataclass
class PackingStats:
    samples: int = 0
    packs: int = 0
    truncated: int = 0
    dropped: int = 0
    real_tokens: int = 0
    slot_tokens: int = 0  # packs × pack length

    @property
    def fill(self) -> float:
        """Fraction of the packed tokens that are real (not padding)."""
        return self.real_tokens / self.slot_tokens if self.slot_tokens else 0.0


def truncate(sample: Sample, max_len: int) -> Sample | None:
    """Cut a sample to at most ``max_len`` tokens, never inside an image: the cut moves back to the start of an
    image it would split, and the images past it leave with their pixels (a long interleaved document keeps its
    first images). None when an image must go and no token with a loss is left."""
    if len(sample) <= max_len:
        return sample
    cut = max_len
    visual = sample.mm_token_type_ids != 0
    if visual[cut]:  # the cut would split an image: move it before the image and its <|begin_of_image|>
        while cut > 0 and visual[cut - 1]:
            cut -= 1
        cut = max(cut - 1, 0)
    if visual[cut:].any() and not (sample.labels[:cut] != IGNORE).any():
        return None  # e.g. a caption after its image: without the image, nothing is left to learn
    pixel_values, grids = sample.pixel_values, sample.image_grid_thw
    if grids is not None and pixel_values is not None:
        # One grid row per run of visual tokens, in token order (`thinkvl.model.embed.visual_as_images`).
        runs = int((visual[:cut] & ~torch.cat([torch.tensor([False]), visual[: cut - 1]])).sum())
        pixel_values = pixel_values[: int(grids[:runs].prod(-1).sum())] if runs else None
        grids = grids[:runs] if runs else None
    return Sample(
        id=sample.id,
        input_ids=sample.input_ids[:cut],
        labels=sample.labels[:cut],
        mm_token_type_ids=sample.mm_token_type_ids[:cut],
        position_ids=sample.position_ids[:, :cut],
        pixel_values=pixel_values,
        image_grid_thw=grids,
    )


def first_fit_decreasing(sizes: list[int], capacity: int) -> list[list[int]]:
    """Indices of ``sizes`` in bins of at most ``capacity`` (each size must fit): longest first, each into the
    first bin with room; equal sizes keep their order, so the same input always gives the same bins."""
    bins: list[list[int]] = []
    room: list[int] = []
    for u in sorted(range(len(sizes)), key=lambda u: -sizes[u]):
        size = sizes[u]
        for b, free in enumerate(room):
            if size <= free:
                bins[b].append(u)
                room[b] -= size
                break
        else:
            bins.append([u])
            room.append(capacity - size)
    return bins


def pack(
    samples: list[Sample], pack_len: int, overflow: Overflow = "truncate"
) -> tuple[list[list[Sample]], PackingStats]:
    """First-fit-decreasing bin packing into packs of at most ``pack_len`` tokens.

    Samples longer than ``pack_len`` are truncated (before the first image that doesn't fit) or dropped, and
    counted in the stats.
    """
    stats = PackingStats(samples=len(samples))
    fitted: list[Sample] = []
    for s in samples:
        if len(s) > pack_len:
            cut = truncate(s, pack_len) if overflow == "truncate" else None
            if cut is None:
                stats.dropped += 1
                continue
            stats.truncated += 1
            s = cut
        fitted.append(s)
    sizes = [len(s) for s in fitted]  # read once: len() of a tensor-backed sample in the scan cost seconds a flush
    packs = [[fitted[i] for i in bin_] for bin_ in first_fit_decreasing(sizes, pack_len)]
    stats.packs = len(packs)
    stats.real_tokens = sum(sizes)
    stats.slot_tokens = len(packs) * pack_len
    return packs, stats


def _visual(samples: list[Sample]) -> dict[str, torch.Tensor]:
    out = {}
    for key in ("pixel_values", "image_grid_thw"):
        parts = [getattr(s, key) for s in samples if getattr(s, key) is not None]
        if parts:
            out[key] = torch.cat(parts)
    return out


def collate_packed(packs: list[list[Sample]], pad_id: int) -> dict[str, torch.Tensor]:
    """Model inputs for a batch of packs, padded to the longest pack; padding is its own segment."""
    length = max(sum(len(s) for s in p) for p in packs)
    rows_ids, rows_labels, rows_types, rows_pos = [], [], [], []
    for p in packs:
        ids = [s.input_ids for s in p]
        labels = [s.labels for s in p]
        types = [s.mm_token_type_ids for s in p]
        text_pos = [torch.arange(len(s)) for s in p]
        pos3 = [s.position_ids for s in p]
        pad = length - sum(len(s) for s in p)
        if pad:
            ids.append(torch.full((pad,), pad_id))
            labels.append(torch.full((pad,), IGNORE))
            types.append(torch.zeros(pad, dtype=torch.long))
            text_pos.append(torch.arange(pad))
            pos3.append(torch.arange(pad)[None].expand(3, -1))
        rows_ids.append(torch.cat(ids))
        rows_labels.append(torch.cat(labels))
        rows_types.append(torch.cat(types))
        rows_pos.append(torch.cat([torch.cat(text_pos)[None], torch.cat(pos3, dim=1)]))  # [4, length]
    return {
        "input_ids": torch.stack(rows_ids),
        "labels": torch.stack(rows_labels),
        "mm_token_type_ids": torch.stack(rows_types),
        "position_ids": torch.stack(rows_pos, dim=1),  # [4, batch, length]
        **_visual([s for p in packs for s in p]),
    }


def collate_padded(samples: list[Sample], pad_id: int) -> dict[str, torch.Tensor]:
    """The usual alternative to packing: one sample per row, right-padded to the longest, with a mask."""
    length = max(len(s) for s in samples)
    batch = len(samples)
    input_ids = torch.full((batch, length), pad_id)
    labels = torch.full((batch, length), IGNORE)
    types = torch.zeros((batch, length), dtype=torch.long)
    mask = torch.zeros((batch, length), dtype=torch.long)
    position_ids = torch.zeros((3, batch, length), dtype=torch.long)
    for i, s in enumerate(samples):
        n = len(s)
        input_ids[i, :n], labels[i, :n], types[i, :n], mask[i, :n] = s.input_ids, s.labels, s.mm_token_type_ids, 1
        position_ids[:, i, :n] = s.position_ids
    return {
        "input_ids": input_ids,
        "labels": labels,
        "mm_token_type_ids": types,
        "attention_mask": mask,
        "position_ids": position_ids,
        **_visual(samples),
    }
