"""Interleaved image-text documents (web pages, books) from the OBELICS / MINT layout, filtered as the report does.

Input: parquet files with, per document, two parallel lists ``texts`` and ``images``; at each position one of
them is set and the other null, so together they give the page in reading order. An image is bytes, an
``{"bytes", "path"}`` struct (Hugging Face's Image feature) or a path relative to the parquet file; a URL is
dropped (fetch images first: nothing is downloaded here).

Filters, cheapest first; each drop is counted by filter and reason:
- ``text_quality`` (per document): the caption filter's rules on the whole text (`text_quality.text_problem`);
- ``image_quality`` (per image): tiny, banner-shaped (ads), few colours (logos, icons, blanks) and QR-code-like
  (mostly pure black and pure white, with much of each) images are removed from their document;
- ``relevance`` (per image): the CLIP scorer of the caption filter, image against the text around it;
- ``dedup``: exact and near-duplicate images across documents (the image is removed), then exact and near
  duplicate document texts (the document is dropped), with the caption filter's index;
- ``min_images``: a document left with fewer than ``min_images`` images is no longer interleaved: dropped.

Output: a dataset directory (records.jsonl of ``interleaved`` records, images/, report.json).
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from thinkvl.config import check_values
from thinkvl.config import option as _f
from thinkvl.data.loaders import atomic_write_text, write_jsonl
from thinkvl.data.pipeline.base import reason_code
from thinkvl.data.pipeline.config import DedupConfig, RelevanceConfig, TextQualityConfig
from thinkvl.data.pipeline.dedup import DedupIndex, DedupKeys
from thinkvl.data.pipeline.hashing import bytes_key, phash, text_key
from thinkvl.data.pipeline.text_quality import ad_pattern, text_problem
from thinkvl.data.record import DEFAULT_MAX_IMAGE_PIXELS, Record

REPORT = "report.json"


def _section(factory: Any, help: str) -> Any:  # noqa: A002
    """A nested config section with its default built per instance (dataclass defaults can't be shared)."""
    return field(default_factory=factory, metadata={"help": help})


@dataclass
class WebImageConfig:
    """Which images of a web page are kept: not tiny, not ad-shaped, not a logo, icon or QR code."""

    min_side: int = _f(64, "Smallest width or height in pixels (OBELICS keeps 150+; icons and spacers are smaller).")
    max_aspect_ratio: float = _f(3.0, "Longer / shorter side above this is a banner (728x90 ads are 8:1).")
    min_colours: int = _f(
        4, "Fewest distinct colours (8 levels a channel, 64x64 thumbnail): logos, icons, blanks; charts have more."
    )
    max_black_white: float = _f(0.9, "QR-code-like: above this share of pure black + pure white pixels …")
    min_black_and_white: float = _f(0.25, "… with at least this share of each (black text on white has less black).")
    max_pixels: int = _f(DEFAULT_MAX_IMAGE_PIXELS, "Refuse images over this many pixels before decoding.")

    def __post_init__(self) -> None:
        check_values(self)
        if self.min_side < 1 or self.max_aspect_ratio < 1 or self.min_colours < 0:
            raise ValueError("min_side must be >= 1, max_aspect_ratio >= 1, min_colours >= 0")


@dataclass
class InterleavedConfig:
    """One run of the interleaved builder: input parquet, output dataset, and the filters (a null section: off)."""

    input: str = _f("", "A parquet file or a directory of them, in the OBELICS / MINT layout.")
    output: str = _f("", "Dataset directory to write: records.jsonl, images/, report.json.")
    texts_column: str = _f("texts", "Column with the list of texts (null where an image is).")
    images_column: str = _f("images", "Column with the list of images (null where a text is).")
    id_column: str = _f("", "Column with a document id; empty: <file stem>-<row>.")
    images: WebImageConfig = _section(WebImageConfig, "Per-image quality: size, banner shape, colours, QR codes.")
    text_quality: TextQualityConfig | None = _section(
        lambda: TextQualityConfig(min_words=10, max_words=100_000),
        "Per-document text quality (the caption filter's rules on the whole text); null: off.",
    )
    relevance: RelevanceConfig | None = _f(None, "Per-image CLIP relevance to the text around it; null: off.")
    context_chars: int = _f(300, "Characters of text before and after an image that CLIP compares it with.")
    dedup: DedupConfig | None = _section(DedupConfig, "Duplicate images and documents across the corpus; null: off.")
    min_images: int = _f(1, "Fewest kept images a document needs to be kept.")
    max_documents: int = _f(0, "Stop after reading this many documents (0: all).")

    def __post_init__(self) -> None:
        check_values(self)
        if not self.input or not self.output:
            raise ValueError("input and output are required")
        if self.min_images < 0 or self.max_documents < 0 or self.context_chars < 0:
            raise ValueError("min_images, max_documents and context_chars must be >= 0")


@dataclass
class InterleavedReport:
    """What the builder read, kept and dropped: ``dropped[filter]["images" | "documents"][reason code] = n``."""

    documents_in: int = 0
    documents_out: int = 0
    images_in: int = 0
    images_out: int = 0
    dropped: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)  # "filter/code" → the first full reason
    seconds: float = 0.0

    def drop(self, filt: str, kind: str, reason: str, n: int = 1) -> None:
        code = reason_code(reason)
        self.dropped.setdefault(filt, {"images": Counter(), "documents": Counter()})[kind][code] += n
        self.examples.setdefault(f"{filt}/{code}", reason)

    def to_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in ("documents_in", "documents_out", "images_in", "images_out")}
        out["dropped"] = {f: {k: dict(c) for k, c in kinds.items()} for f, kinds in self.dropped.items()}
        return out | {"examples": self.examples, "seconds": round(self.seconds, 3)}

    def table(self) -> str:
        lines = [
            f"documents {self.documents_in} → {self.documents_out}, images {self.images_in} → {self.images_out}",
            f"{'filter':<14} {'reason':<16} {'images':>7} {'documents':>9}",
        ]
        for filt, kinds in self.dropped.items():
            for code in sorted(set(kinds["images"]) | set(kinds["documents"])):
                lines.append(f"{filt:<14} {code:<16} {kinds['images'][code]:>7} {kinds['documents'][code]:>9}")
        return "\n".join(lines)


def web_image_problem(img: Image.Image, cfg: WebImageConfig) -> str | None:
    """Why an image of a web page teaches nothing about its text, or None. Measured on a 64x64 nearest-neighbour
    thumbnail, so a QR code's modules stay pure black and white."""
    w, h = img.size
    if min(w, h) < cfg.min_side:
        return f"too_small: {w}x{h}, min side {cfg.min_side}"
    if max(w, h) / min(w, h) > cfg.max_aspect_ratio:
        return f"ad_banner: {w}x{h} is {max(w, h) / min(w, h):.1f}:1 > {cfg.max_aspect_ratio:g}:1"
    px = np.asarray(img.convert("RGB").resize((64, 64), Image.Resampling.NEAREST)).reshape(-1, 3)
    grey = px.mean(axis=1)
    black, white = float((grey < 48).mean()), float((grey > 208).mean())
    if black + white > cfg.max_black_white and min(black, white) >= cfg.min_black_and_white:
        return f"qr_like: {black:.0%} black + {white:.0%} white pixels"
    colours = len(np.unique(px // 32, axis=0))
    if colours < cfg.min_colours:
        return f"few_colours: {colours} colours < {cfg.min_colours} (logo, icon or blank)"
    return None


def parquet_files(path: str | Path) -> list[Path]:
    path = Path(path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise FileNotFoundError(f"no parquet file at {path}")
    return files


def read_documents(cfg: InterleavedConfig) -> Iterator[tuple[str, Path, list[str | None], list[Any]]]:
    """(document id, its parquet's directory, texts, images) for every document, streaming by row batches."""
    import pyarrow.parquet as pq

    columns = [cfg.texts_column, cfg.images_column] + ([cfg.id_column] if cfg.id_column else [])
    n = 0
    for file in parquet_files(cfg.input):
        pf = pq.ParquetFile(file)
        missing = [c for c in columns if c not in pf.schema_arrow.names]
        if missing:
            raise ValueError(f"{file.name}: no column(s) {missing}; has {pf.schema_arrow.names}")
        row = 0
        for batch in pf.iter_batches(batch_size=64, columns=columns):
            for doc in batch.to_pylist():
                texts, images = doc[cfg.texts_column] or [], doc[cfg.images_column] or []
                if len(texts) != len(images):
                    raise ValueError(f"{file.name} row {row}: {len(texts)} texts but {len(images)} images")
                yield str(doc[cfg.id_column]) if cfg.id_column else f"{file.stem}-{row:06d}", file.parent, texts, images
                row, n = row + 1, n + 1
                if cfg.max_documents and n >= cfg.max_documents:
                    return


def image_bytes(value: Any, base: Path) -> bytes:
    """The encoded bytes of one image cell; ValueError with a ``code: detail`` reason when there are none."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        if value.startswith(("http://", "https://")):
            raise ValueError(f"remote_image: {value[:120]} (fetch images first; nothing is downloaded here)")
        path = base / value
        if not path.is_file():
            raise ValueError(f"missing_image: {path}")
        return path.read_bytes()
    raise ValueError(f"corrupt: an image cell of type {type(value).__name__}")


def decode(data: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """The image as RGB and its file format (the output keeps the original bytes under that extension)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise ValueError(f"too_large: {img.width}x{img.height} pixels")
            img.load()
            return img.convert("RGB"), (img.format or "png").lower()
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ValueError(f"corrupt: {err}") from None


@dataclass
class _Image:
    index: int  # position in the document
    data: bytes
    img: Image.Image
    ext: str


class InterleavedBuilder:
    """Reads, filters and writes; keeps only the dedup indexes across documents."""

    def __init__(self, cfg: InterleavedConfig):
        self.cfg = cfg
        self.report = InterleavedReport()
        self.out = Path(cfg.output)
        self._ads = ad_pattern(cfg.text_quality.ad_phrases) if cfg.text_quality else None
        self.scorer: Any = None
        if cfg.relevance is not None:
            from thinkvl.data.pipeline.relevance import ClipScorer  # imports torch and transformers: only when used

            self.scorer = ClipScorer(cfg.relevance.model, cfg.relevance.device)
        d = cfg.dedup
        self.image_index = DedupIndex(dataclasses.replace(d, texts=False)) if d and d.images else None
        self.text_index = DedupIndex(dataclasses.replace(d, images=False)) if d and d.texts else None

    def run(self) -> InterleavedReport:
        start = time.perf_counter()
        (self.out / "images").mkdir(parents=True, exist_ok=True)
        records = [r for doc in read_documents(self.cfg) if (r := self.document(*doc)) is not None]
        write_jsonl(records, self.out / "records.jsonl")
        self.report.seconds = time.perf_counter() - start
        atomic_write_text(self.out / REPORT, json.dumps(self.report.to_json(), indent=2) + "\n")
        return self.report

    def document(self, doc_id: str, base: Path, texts: list[str | None], cells: list[Any]) -> Record | None:
        """One document's record, or None when it is dropped (the report says by which filter)."""
        rep = self.report
        rep.documents_in += 1
        cells_at = [i for i, c in enumerate(cells) if c is not None]
        rep.images_in += len(cells_at)
        text = "\n\n".join(t for t in texts if t)
        if self.cfg.text_quality is not None and (problem := text_problem(text, self.cfg.text_quality, self._ads)):
            return self._drop_document("text_quality", problem, len(cells_at))
        images = []
        for i in cells_at:
            try:
                data = image_bytes(cells[i], base)
                img, ext = decode(data, self.cfg.images.max_pixels)
            except ValueError as err:
                rep.drop("read", "images", str(err))
                continue
            if problem := web_image_problem(img, self.cfg.images):
                rep.drop("image_quality", "images", problem)
                continue
            images.append(_Image(i, data, img, ext))
        images = self._relevant(images, texts)
        if len(images) < self.cfg.min_images:
            return self._drop_document("min_images", f"no_images: {len(images)} kept < {self.cfg.min_images}")
        if self.text_index is not None:
            keys = DedupKeys(bytes_key(doc_id.encode()), text_key=text_key(text))
            keys.minhash = self.text_index.minhasher.signature(text)
            if problem := self.text_index.admit(doc_id, keys):
                return self._drop_document("dedup", problem, len(images))
        images = [im for im in images if self._new_image(f"{doc_id}/{im.index}", im)]
        # Dropped here, a document's text and new images stay remembered: their later copies still count as copies.
        if len(images) < self.cfg.min_images:
            return self._drop_document("min_images", f"no_images: {len(images)} left after dedup")
        rep.documents_out += 1
        rep.images_out += len(images)
        return self._record(doc_id, texts, images)

    def _drop_document(self, filt: str, reason: str, images: int = 0) -> None:
        """Count a dropped document, and the images it still held, under the filter that dropped it."""
        self.report.drop(filt, "documents", reason)
        if images:
            self.report.drop(filt, "images", reason, images)
        return None

    def _relevant(self, images: list[_Image], texts: list[str | None]) -> list[_Image]:
        if self.scorer is None or not images:
            return images
        assert self.cfg.relevance is not None
        around = [self._context(texts, im.index) for im in images]
        scores = self.scorer.scores([im.img for im in images], around)
        kept = []
        for im, score in zip(images, scores, strict=True):
            if score < self.cfg.relevance.threshold:
                self.report.drop(
                    "relevance", "images", f"low_clip_score: {score:.3f} < {self.cfg.relevance.threshold:g}"
                )
            else:
                kept.append(im)
        return kept

    def _context(self, texts: list[str | None], at: int) -> str:
        """The text nearest an image: the end of the text before it and the start of the text after it."""
        before = next((t for t in reversed(texts[:at]) if t), "")
        after = next((t for t in texts[at + 1 :] if t), "")
        n = self.cfg.context_chars
        return (before[-n:] + " " + after[:n]).strip() or " "

    def _new_image(self, image_id: str, im: _Image) -> bool:
        if self.image_index is None:
            return True
        keys = DedupKeys(bytes_key(image_id.encode()), file_key=bytes_key(im.data), image_hash=phash(im.img))
        problem = self.image_index.admit(image_id, keys)
        if problem:
            self.report.drop("dedup", "images", problem)
        return problem is None

    def _record(self, doc_id: str, texts: list[str | None], images: list[_Image]) -> Record:
        by_index = {im.index: im for im in images}
        parts: list[dict[str, Any]] = []
        for i, t in enumerate(texts):
            if t:
                parts.append({"type": "text", "text": t.strip() + "\n\n"})
            elif i in by_index:
                rel = f"images/{_safe(doc_id)}-{i}.{by_index[i].ext}"
                (self.out / rel).write_bytes(by_index[i].data)
                parts.append({"type": "image", "image": rel})
        if parts and parts[-1]["type"] == "text":
            parts[-1]["text"] = parts[-1]["text"].rstrip()
        return Record(doc_id, "interleaved", [{"role": "user", "content": parts}], "", meta={"source": "interleaved"})


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]


def build_interleaved(cfg: InterleavedConfig) -> InterleavedReport:
    """Filter an OBELICS / MINT-style corpus into interleaved records; the report is also written to report.json."""
    return InterleavedBuilder(cfg).run()
