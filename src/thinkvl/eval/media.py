"""Turn a benchmark's images, videos and PDF pages into files under one root, as records reference them.

Benchmarks ship pixels in many forms: PIL images (``datasets``), ``{"bytes", "path"}`` structs (raw parquet),
base64 text (MMBench TSV), file paths next to an annotation file, MP4 videos, PDF documents. A record's media are
paths relative to one directory, so a `MediaStore` writes whatever is embedded into its ``root`` (once: files
already there are reused) and checks that referenced files exist, failing with a `MissingMediaError` that names
the item and says where the benchmark's media come from. Videos are sampled to frames with PyAV and PDFs rendered
with pypdfium2; both are imported only when needed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from thinkvl.data.record import MediaPathError, media_path

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"), (b"RIFF", ".webp"))


class MissingMediaError(FileNotFoundError):
    """An item's image, video or document isn't there (or can't be decoded); says where to get it."""


def safe_name(key: Any) -> str:
    """A file-name-safe form of an item key (ids may hold slashes, spaces or parentheses)."""
    name = _SAFE.sub("_", str(key)).strip("._")
    return name[:150] or "item"


def _suffix(data: bytes) -> str:
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    return ".img"


class MediaStore:
    """Media of one benchmark under ``root``; ``source`` is the benchmark's data directory (for file references)."""

    def __init__(self, root: str | Path, source: str | Path | None, *, benchmark: str = "", hint: str = ""):
        self.root = Path(root)
        self.source = Path(source) if source is not None else None
        self.benchmark, self.hint = benchmark, hint
        self.root.mkdir(parents=True, exist_ok=True)

    def missing(self, what: str, item: str) -> MissingMediaError:
        where = f" ({self.hint})" if self.hint else ""
        return MissingMediaError(f"{self.benchmark or 'benchmark'} item {item}: {what}{where}")

    # ------------------------------------------------------------------ images
    def image(self, value: Any, key: str, *, item: str = "") -> str:
        """Store one image given in any of the forms datasets use; return its path relative to ``root``."""
        item = item or key
        if value is None:
            raise self.missing("has no image", item)
        if isinstance(value, Image.Image):
            return self._save_pil(value, key)
        if isinstance(value, dict):
            data, path = value.get("bytes"), value.get("path")
            if data:
                return self._save_bytes(bytes(data), key)
            if path:
                return self.reference(str(path), item=item)
            raise self.missing("image struct has neither bytes nor path", item)
        if isinstance(value, (bytes, bytearray)):
            return self._save_bytes(bytes(value), key)
        if isinstance(value, (str, Path)):
            return self.reference(str(value), item=item)
        raise self.missing(f"unsupported image value of type {type(value).__name__}", item)

    def base64_image(self, text: str, key: str, *, item: str = "") -> str:
        """Store a base64-encoded image (MMBench TSV style)."""
        try:
            data = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError) as err:
            raise self.missing(f"image is not valid base64 ({err})", item or key) from None
        if not data:
            raise self.missing("image is empty", item or key)
        return self._save_bytes(data, key)

    def reference(self, rel: str, *, item: str = "") -> str:
        """A file under ``source`` that a record should use; copied into ``root`` when the two differ."""
        path = self.source_file(rel, item=item)
        if self.source is not None and self.root.resolve() == (source := self.source.resolve()):
            return path.relative_to(source).as_posix() if path.is_relative_to(source) else str(path)
        target = self.root / "files" / Path(rel).name
        target = target.with_name(f"{safe_name(Path(rel).parent)}__{target.name}") if Path(rel).parent.name else target
        if not target.exists() or target.stat().st_size != path.stat().st_size:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return target.relative_to(self.root).as_posix()

    def source_file(self, rel: str, *, item: str = "") -> Path:
        """The absolute path of a file under ``source``; refuses paths that leave it and files that are absent."""
        if self.source is None:
            raise self.missing(f"refers to file {rel!r} but the benchmark has no data directory", item or rel)
        try:
            path = media_path(self.source, rel)
        except MediaPathError as err:
            raise self.missing(str(err), item or rel) from None
        if not path.is_file():
            raise self.missing(f"file not found: {path}", item or rel)
        return path

    def _save_pil(self, img: Image.Image, key: str) -> str:
        rel = f"images/{safe_name(key)}.png"
        target = self.root / rel
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            img.convert("RGB").save(target, format="PNG", compress_level=1)
        return rel

    def _save_bytes(self, data: bytes, key: str) -> str:
        rel = f"images/{safe_name(key)}{_suffix(data)}"
        target = self.root / rel
        if not target.exists() or target.stat().st_size != len(data):
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
        return rel

    # ------------------------------------------------------------------ videos
    def video_frames(
        self, rel: str, key: str, num_frames: int, *, item: str = ""
    ) -> tuple[list[str], float, list[float]]:
        """Sample ``num_frames`` frames uniformly from a video under ``source``.

        Returns (frame paths relative to ``root``, the sampling rate in frames per second, each frame's time in
        seconds). The sampling rate is what the record's video part carries, so the model's time index tokens are
        true times. Frames are cached under ``root/frames/<key>/``.
        """
        if num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {num_frames}")
        out_dir = self.root / "frames" / safe_name(key)
        index = out_dir / "frames.json"
        if index.is_file():
            cached = json.loads(index.read_text(encoding="utf-8"))
            if len(cached["frames"]) == num_frames:
                return cached["frames"], cached["fps"], cached["times"]
        path = self.source_file(rel, item=item or key)
        frames, times = _decode_uniform(path, num_frames, self.missing, item or key)
        out_dir.mkdir(parents=True, exist_ok=True)
        rels = []
        for i, frame in enumerate(frames):
            target = out_dir / f"{i:04d}.jpg"
            frame.save(target, format="JPEG", quality=90)
            rels.append(target.relative_to(self.root).as_posix())
        span = times[-1] - times[0] if len(times) > 1 else 0.0
        fps = (len(times) - 1) / span if span > 0 else 1.0
        index.write_text(json.dumps({"frames": rels, "fps": fps, "times": times}), encoding="utf-8")
        return rels, fps, times

    # ------------------------------------------------------------------ documents
    def pdf_pages(self, rel: str, key: str, *, max_pages: int, dpi: int, item: str = "") -> list[str]:
        """Pages of a PDF under ``source`` as images (at most ``max_pages``, spread evenly over the document).

        Pre-rendered pages at ``source/pages/<pdf stem>/<n>.png`` (1-based) are used when present.
        """
        pre = self.source / "pages" / Path(rel).stem if self.source is not None else None
        if pre is not None and pre.is_dir():
            pages = sorted(pre.glob("*.png"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem)
            if not pages:
                raise self.missing(f"pre-rendered page directory {pre} is empty", item or key)
            return [self.reference(p.relative_to(self.source).as_posix(), item=item) for p in _spread(pages, max_pages)]
        path = self.source_file(rel, item=item or key)
        try:
            import pypdfium2 as pdfium
        except ImportError:
            raise self.missing("rendering PDF pages needs pypdfium2 (`pip install pypdfium2`)", item or key) from None
        out_dir = self.root / "pages" / safe_name(key)
        try:
            doc = pdfium.PdfDocument(str(path))
        except Exception as err:  # pypdfium2 raises its own PdfiumError for unreadable files
            raise self.missing(f"can't open PDF {path.name}: {err}", item or key) from None
        try:
            chosen = _spread(list(range(len(doc))), max_pages)
            rels = []
            for n in chosen:
                target = out_dir / f"{n + 1:04d}.png"
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    doc[n].render(scale=dpi / 72).to_pil().convert("RGB").save(target, format="PNG")
                rels.append(target.relative_to(self.root).as_posix())
        finally:
            doc.close()
        return rels


def _spread(items: Sequence[Any], k: int) -> list[Any]:
    """At most ``k`` items spread evenly over the sequence (all of them when there are few)."""
    n = len(items)
    if n <= k:
        return list(items)
    return [items[round(i * (n - 1) / (k - 1))] if k > 1 else items[0] for i in range(k)]


def _decode_uniform(path: Path, k: int, missing: Any, item: str) -> tuple[list[Image.Image], list[float]]:
    """Decode ``k`` frames at evenly spaced times with PyAV: each the first frame at or after its target time.

    Seeks to the keyframe before each target, so an hour-long video costs k short decodes, not a full pass.
    """
    try:
        import av
    except ImportError:
        raise missing("decoding videos needs PyAV (`pip install av`)", item) from None
    frames: list[Image.Image] = []
    times: list[float] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            duration = _duration(container, stream)
            for target in (duration * (i + 0.5) / k for i in range(k)):
                if stream.time_base is not None:
                    container.seek(int(target / stream.time_base), stream=stream, backward=True)
                last = None
                for frame in container.decode(stream):
                    last = frame
                    if frame.time is None or frame.time >= target - 1e-6:
                        break
                if last is None:  # past the end: repeat the last frame found
                    if not frames:
                        break
                    frames.append(frames[-1])
                    times.append(times[-1])
                    continue
                frames.append(last.to_image())
                times.append(float(last.time) if last.time is not None else target)
    except (av.error.FFmpegError, IndexError) as err:
        raise missing(f"can't decode video {path.name}: {err}", item) from None
    if not frames:
        raise missing(f"video {path.name} has no frames", item)
    return frames, times


def _duration(container: Any, stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    if stream.frames and stream.average_rate:
        return float(stream.frames / stream.average_rate)
    return 1.0


def image_size(root: Path, rel: str) -> tuple[int, int]:
    """Width and height of a stored image, without decoding its pixels."""
    with Image.open(media_path(root, rel)) as img:
        return img.size
