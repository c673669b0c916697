"""What every filter sees and returns.

A filter gets a batch of `Sample`s (a record plus its dataset directory, with the first image decoded once and
shared by all filters) and returns, per sample, ``None`` to keep it or a reason to drop it. A reason is
``"code: detail"``; reports count drops by code. Filters never raise on a bad record: whatever goes wrong with
one record becomes that record's reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from thinkvl.data.record import DEFAULT_MAX_IMAGE_PIXELS, Record, open_image

Reason = str | None


def reason_code(reason: str) -> str:
    """The part of a reason before the first colon: what reports count."""
    return reason.split(":", 1)[0].strip()


@dataclass
class Sample:
    """A record being filtered, with lazily decoded media shared by the filters of one chain."""

    record: Record
    root: Path
    text_field: str = "caption"
    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    _image: Image.Image | None = field(default=None, repr=False)
    _image_error: str | None = field(default=None, repr=False)

    @property
    def media_paths(self) -> list[str]:
        return [rel for _, rel in self.record.media()]

    def image_path(self) -> Path | None:
        paths = self.media_paths
        return self.root / paths[0] if paths else None

    def image(self) -> Image.Image:
        """The first image (or video frame), decoded as RGB; ValueError with the cause when it can't be."""
        if self._image is None and self._image_error is None:
            path = self.image_path()
            if path is None:
                self._image_error = "no_image: the record references no image"
            elif not path.is_file():
                self._image_error = f"missing_image: {short(str(path), 200)} does not exist"
            else:
                try:
                    self._image = open_image(path, max_pixels=self.max_pixels)
                except ValueError as err:
                    self._image_error = f"corrupt: {err}"
        if self._image_error is not None:
            raise ValueError(self._image_error)
        assert self._image is not None
        return self._image

    def text(self) -> str:
        """The text the text filters judge: meta['caption'] or the last user question."""
        if self.text_field == "caption":
            caption = self.record.meta.get("caption")
            if not isinstance(caption, str):
                raise ValueError("no_text: meta['caption'] is missing or not a string")
            return caption
        return self.record.question


class Filter(ABC):
    """A stateless filter: the same batch always gets the same verdicts, so it can run in any worker."""

    name: str = "filter"

    def setup(self) -> None:  # noqa: B027 (optional hook: most filters have nothing to load)
        """Load heavy state (models) once per process; called before the first `check`."""

    @abstractmethod
    def check(self, samples: list[Sample]) -> list[Reason]:
        """Per sample: None to keep it, or ``"code: detail"`` to drop it."""


def short(value: Any, limit: int = 200) -> str:
    """A bounded repr for reasons and samples (adversarial text can be huge)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
