"""Image quality: corrupt, too small, extreme aspect ratio, near-blank.

Every image (and video frame) of a record is decoded, so a corrupt frame anywhere drops the record with a
reason instead of crashing training later. Near-blank is judged on a grey thumbnail: a flat image has a tiny
spread of grey levels whatever its size, and the thumbnail keeps the check cheap on large images.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from thinkvl.data.pipeline.base import Filter, Reason, Sample
from thinkvl.data.pipeline.config import ImageQualityConfig
from thinkvl.data.record import open_media

THUMBNAIL_SIDE = 128


def pixel_std(img: Image.Image) -> float:
    """Standard deviation of grey levels (0-255) on a thumbnail of at most 128 px a side."""
    grey = img.convert("L")
    grey.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BOX)
    return float(np.asarray(grey, dtype=np.float32).std())


def image_problem(img: Image.Image, cfg: ImageQualityConfig) -> Reason:
    """Why one decoded image is unusable, or None."""
    w, h = img.size
    if min(w, h) < cfg.min_side:
        return f"too_small: {w}x{h}, min side {cfg.min_side}"
    ratio = max(w, h) / min(w, h)
    if ratio > cfg.max_aspect_ratio:
        return f"aspect_ratio: {ratio:.1f}:1 > {cfg.max_aspect_ratio:g}:1"
    std = pixel_std(img)
    if std < cfg.min_pixel_std:
        return f"near_blank: grey-level std {std:.2f} < {cfg.min_pixel_std:g}"
    return None


class ImageQualityFilter(Filter):
    name = "image_quality"

    def __init__(self, cfg: ImageQualityConfig):
        self.cfg = cfg

    def check(self, samples: list[Sample]) -> list[Reason]:
        return [self._check_one(s) for s in samples]

    def _check_one(self, sample: Sample) -> Reason:
        paths = sample.media_paths
        if not paths:
            return "no_image: the record references no image" if self.cfg.require_image else None
        try:
            first = sample.image()
        except ValueError as err:
            return str(err)
        images = [first]
        for rel in paths[1:]:
            try:
                images.append(open_media(sample.root, rel, max_pixels=self.cfg.max_pixels))
            except ValueError as err:
                return f"corrupt: {err}"
        for img in images:
            problem = image_problem(img, self.cfg)
            if problem:
                return problem
        return None
