"""The record: one training or evaluation example, and its validation.

A record is one JSON object::

    {"id": "count-000017", "domain": "counting",
     "messages": [{"role": "user", "content": [{"type": "image", "image": "images/count-000017.png"},
                                               {"type": "text", "text": "How many circles are there?"}]}],
     "answer": 3, "difficulty": 1,
     "meta": {"caption": "…", "reasoning": "…"}}

An interleaved record (domain ``interleaved``: a web page or a document) is one user turn whose parts are
the document's text and images in reading order; it is for pre-training, and its ``answer`` is ``""``.

Images (and video frames) are paths relative to the dataset directory. A video part is
``{"type": "video", "video": ["frames/0.png", …], "fps": 2.0}``: the frames as sampled, and the rate they were
sampled at, so every frame's true time index is known. Validation errors name the record and the field.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

DOMAINS: tuple[str, ...] = (
    "math",
    "counting",
    "chart",
    "ocr",
    "grounding",
    "choice",
    "vqa",
    "video",
    "gui",
    "caption",
    # Pre-training only: a web page or document, text with its images at their places (no question, no answer).
    "interleaved",
)
CHOICE_LETTERS = "ABCDEFGHIJ"
# 64 MP: a 8K×8K image. Past it, decoding alone takes hundreds of MB: refuse before decoding.
DEFAULT_MAX_IMAGE_PIXELS = 64_000_000
# Set to 1 to let records use media outside their dataset directory (absolute paths, ``..``, symlinks out).
ALLOW_MEDIA_OUTSIDE_ROOT = "THINKVL_ALLOW_MEDIA_OUTSIDE_ROOT"


def content_parts(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Normalise message content to a list of ``{"type": "text"|"image"|"video", ...}`` parts."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise TypeError(f"message content must be a string or a list of parts, got {type(content).__name__}")
    return content


class RecordError(ValueError):
    """A record that can't be used, with the record id and the field at fault."""

    def __init__(self, record_id: str, field_name: str, reason: str):
        self.record_id, self.field_name, self.reason = record_id, field_name, reason
        super().__init__(f"record {record_id!r}, field {field_name!r}: {reason}")


@dataclass
class Record:
    id: str
    domain: str
    messages: list[dict[str, Any]]
    answer: Any
    difficulty: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["difficulty"] is None:
            del out["difficulty"]
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Record:
        """Build a record from parsed JSON, checking structure (not files: see `validate_media`)."""
        if not isinstance(data, dict):
            raise RecordError("?", "<record>", f"expected a JSON object, got {type(data).__name__}")
        rid = data.get("id")
        if not isinstance(rid, str) or not rid:
            raise RecordError(str(rid), "id", "missing or not a non-empty string")
        for name in ("domain", "messages", "answer"):
            if name not in data:
                raise RecordError(rid, name, "missing")
        unknown = set(data) - {"id", "domain", "messages", "answer", "difficulty", "meta"}
        if unknown:
            raise RecordError(rid, sorted(unknown)[0], "unknown field")
        record = cls(
            id=rid,
            domain=data["domain"],
            messages=data["messages"],
            answer=data["answer"],
            difficulty=data.get("difficulty"),
            meta=data.get("meta") or {},
        )
        record.validate()
        return record

    def validate(self) -> None:
        if self.domain not in DOMAINS:
            raise RecordError(self.id, "domain", f"unknown domain {self.domain!r}; known: {', '.join(DOMAINS)}")
        _check_messages(self)
        if self.difficulty is not None and (not isinstance(self.difficulty, int) or isinstance(self.difficulty, bool)):
            raise RecordError(self.id, "difficulty", f"must be an integer, got {self.difficulty!r}")
        if not isinstance(self.meta, dict):
            raise RecordError(self.id, "meta", "must be an object")
        problem = answer_problem(self.domain, self.answer, self.meta)
        if problem:
            raise RecordError(self.id, "answer", problem)

    def media(self) -> Iterator[tuple[str, str]]:
        """(field path, relative file path) of every image and video frame the record uses."""
        for i, message in enumerate(self.messages):
            for j, part in enumerate(content_parts(message["content"])):
                where = f"messages[{i}].content[{j}]"
                if part.get("type") == "image":
                    yield where, part["image"]
                elif part.get("type") == "video":
                    for k, frame in enumerate(part["video"]):
                        yield f"{where}.video[{k}]", frame

    @property
    def question(self) -> str:
        """The text of the last user turn (what is asked)."""
        for message in reversed(self.messages):
            if message["role"] == "user":
                parts = content_parts(message["content"])
                return "".join(p["text"] for p in parts if p.get("type") == "text")
        return ""


def _check_messages(record: Record) -> None:
    if not isinstance(record.messages, list) or not record.messages:
        raise RecordError(record.id, "messages", "must be a non-empty list of chat turns")
    for i, message in enumerate(record.messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant", "observation"):
            raise RecordError(record.id, where, "each turn needs a role: system, user, assistant or observation")
        if "content" not in message:
            raise RecordError(record.id, f"{where}.content", "missing")
        try:
            parts = content_parts(message["content"])
        except TypeError as err:
            raise RecordError(record.id, f"{where}.content", str(err)) from None
        for j, part in enumerate(parts):
            kind = part.get("type") if isinstance(part, dict) else None
            key = f"{where}.content[{j}]"
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image" and isinstance(part.get("image"), str):
                continue
            if kind == "video":
                frames, fps = part.get("video"), part.get("fps")
                if not isinstance(frames, list) or not frames or not all(isinstance(f, str) for f in frames):
                    raise RecordError(record.id, key, "a video needs 'video': a non-empty list of frame paths")
                if not isinstance(fps, numbers.Real) or not fps > 0:
                    raise RecordError(record.id, key, "a video needs 'fps' > 0 (the rate its frames were sampled at)")
                continue
            raise RecordError(record.id, key, f"malformed content part {part!r:.80}")


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _is_box(x: Any) -> bool:
    return (
        isinstance(x, list)
        and len(x) == 4
        and all(_is_number(v) and 0 <= v <= 1000 for v in x)
        and x[0] <= x[2]
        and x[1] <= x[3]
    )


_COUNT_TEXT = re.compile(r"\s*\d{1,15}(?:\.0*)?\s*")
_LETTER_TEXT = re.compile(r"\s*\(?\s*([A-Ja-j])\s*\)?\s*\.?\s*")


def count_value(answer: Any) -> int | None:
    """A count as an int: ``7``, ``7.0`` or the string ``"7"`` (datasets store counts as text); else None."""
    if isinstance(answer, str):
        return int(float(answer)) if _COUNT_TEXT.fullmatch(answer) else None
    if _is_number(answer) and float(answer).is_integer() and answer >= 0:
        return int(answer)
    return None


def choice_letter(answer: Any) -> str | None:
    """A multiple-choice answer as a capital letter: ``"B"``, ``"b"``, ``"(B)"``, ``"B."``; else None."""
    m = _LETTER_TEXT.fullmatch(answer) if isinstance(answer, str) else None
    return m.group(1).upper() if m else None


def answer_problem(domain: str, answer: Any, meta: dict[str, Any]) -> str | None:
    """Why an answer is malformed for its domain, or None when it is fine."""
    if domain == "interleaved":  # the document teaches by its own text: there is nothing to answer
        return None if isinstance(answer, str) else "an interleaved document's answer is a string (usually empty)"
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return "empty answer"
    if domain == "counting":
        if count_value(answer) is None:
            return f'a count must be a non-negative integer (a number or digits such as "7"), got {answer!r}'
    elif domain == "grounding":
        boxes = answer if answer and isinstance(answer[0], list) else [answer]
        if not all(_is_box(b) for b in boxes):
            return f"a box is [x1, y1, x2, y2] in 0–1000 with x1<=x2, y1<=y2; got {answer!r}"
    elif domain == "choice":
        choices = meta.get("choices")
        if choices is None:  # options only in the question text (public datasets): the answer must be a letter
            if choice_letter(answer) is None:
                return f"a multiple-choice answer is one letter A–{CHOICE_LETTERS[-1]}, got {answer!r}"
            return None
        if not isinstance(choices, list) or len(choices) < 2 or len(choices) > len(CHOICE_LETTERS):
            return f"meta.choices must be a list of 2–{len(CHOICE_LETTERS)} options, got {choices!r:.80}"
        letter = choice_letter(answer)
        if letter is None or letter not in CHOICE_LETTERS[: len(choices)]:
            return f"a multiple-choice answer is one letter A–{CHOICE_LETTERS[len(choices) - 1]}, got {answer!r}"
    elif domain == "gui":
        if not (isinstance(answer, dict) and isinstance(answer.get("action"), str)):
            return "a GUI answer is an object with an 'action' (and its arguments)"
    elif not isinstance(answer, (str, int, float, list)) or isinstance(answer, bool):
        return f"unsupported answer type {type(answer).__name__}"
    elif isinstance(answer, float) and not math.isfinite(answer):
        return "answer is not finite"
    return None


class MediaPathError(ValueError):
    """A record's image or frame path that leaves its dataset directory."""


def media_path(root: str | Path, rel: str) -> Path:
    """The file a record's media path names, resolved with symlinks, refused outside ``root``.

    Every route that reads a record's media (local and served eval, training, chat, the data pipeline) goes through
    here, because a record is data: without the check, ``../../etc/hostname``, an absolute path or a symlink out
    would be read, and sent to a remote server by endpoint eval. ``THINKVL_ALLOW_MEDIA_OUTSIDE_ROOT=1`` opts out.
    """
    base = Path(root).resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base) and os.environ.get(ALLOW_MEDIA_OUTSIDE_ROOT) != "1":
        raise MediaPathError(
            f"path {rel!r} leaves the dataset directory {base} (set {ALLOW_MEDIA_OUTSIDE_ROOT}=1 to allow it)"
        )
    return path


def open_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Image.Image:
    """Open and fully decode an RGB image, refusing decompression bombs before decoding them."""
    path = Path(path)
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > max_pixels:
                raise ValueError(f"image {path.name} is {w}x{h} = {w * h:,} pixels, over the limit of {max_pixels:,}")
            img.load()
            return img.convert("RGB")
    except FileNotFoundError:
        raise ValueError(f"image file not found: {path}") from None
    except Image.DecompressionBombError as err:
        raise ValueError(f"image {path.name} is over the limit of {max_pixels:,} pixels: {err}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ValueError(f"corrupt or unreadable image {path.name}: {err}") from None


def open_media(root: str | Path, rel: str, *, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Image.Image:
    """A record's image or video frame, decoded: `media_path` then `open_image`."""
    return open_image(media_path(root, rel), max_pixels=max_pixels)


def validate_media(
    record: Record, root: str | Path, *, open_files: bool = True, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> None:
    """Check that every image and frame of a record stays inside ``root`` and (``open_files``) exists, decodes,
    and is within the pixel limit."""
    for where, rel in record.media():
        try:
            if open_files:
                open_media(root, rel, max_pixels=max_pixels)
            else:
                media_path(root, rel)
        except ValueError as err:
            raise RecordError(record.id, where, str(err)) from None
