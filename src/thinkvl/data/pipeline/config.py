"""Configuration of the filter chain: one dataclass per filter, one for the run; YAML maps onto them 1:1.

A config file looks like::

    input: data/raw            # a dataset dir holding records.jsonl and its images
    output: data/filtered
    workers: 2
    filters:                   # applied in this order; dedup, if present, must be last
      - image_quality: {min_side: 32, max_aspect_ratio: 200}
      - text_quality: {min_words: 3}
      - relevance: {model: checkpoints/clip, threshold: 0.25}
      - dedup: {image_max_hamming: 6, text_threshold: 0.8}

Field docs live once, in each field's ``metadata["help"]`` (`thinkvl.config.help_text`); the YAML is read by the
one config loader, `thinkvl.config.from_mapping`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from thinkvl.config import ConfigError, from_mapping, read_yaml_mapping
from thinkvl.config import option as _f

TextField = Literal["caption", "question"]
MediaMode = Literal["link", "copy"]


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {msg}")


@dataclass
class ImageQualityConfig:
    """Drops images that can't teach anything: corrupt, tiny, extreme aspect ratio, near-blank."""

    min_side: int = _f(32, "Smallest allowed width or height, in pixels.")
    max_aspect_ratio: float = _f(200.0, "Largest allowed long-side / short-side ratio (glm4v handles up to 200:1).")
    min_pixel_std: float = _f(3.0, "Near-blank cutoff: standard deviation of grey levels (0-255) on a thumbnail.")
    max_pixels: int = _f(64_000_000, "Refuse images over this many pixels before decoding (decompression bombs).")
    require_image: bool = _f(True, "Drop records that reference no image at all.")

    def __post_init__(self) -> None:
        w = "image_quality"
        _check(self.min_side >= 1, f"{w}.min_side", "must be >= 1")
        _check(self.max_aspect_ratio >= 1, f"{w}.max_aspect_ratio", "must be >= 1")
        _check(self.min_pixel_std >= 0, f"{w}.min_pixel_std", "must be >= 0")
        _check(self.max_pixels > 0, f"{w}.max_pixels", "must be > 0")


DEFAULT_AD_PHRASES = [
    "click here",
    "buy now",
    "shop now",
    "order now",
    "free shipping",
    "limited time",
    "best price",
    "discount code",
    "add to cart",
    "sign up",
    "subscribe",
    "all rights reserved",
    "cookie policy",
    "privacy policy",
    "terms of use",
    "terms and conditions",
    "stock photo",
    "royalty free",
    "download now",
    "call now",
    "for sale",
    "on sale",
    "% off",
]


@dataclass
class TextQualityConfig:
    """Drops ads, boilerplate and low-information captions, and text outside the wanted languages."""

    min_words: int = _f(3, "Fewest words a caption may have.")
    max_words: int = _f(1000, "Most words a caption may have.")
    max_symbol_ratio: float = _f(0.25, "Largest share of characters that are neither letters, digits nor spaces.")
    max_url_ratio: float = _f(0.2, "Largest share of words that are URLs, e-mail addresses or bare domains.")
    max_repetition: float = _f(0.3, "Largest share of word 3-grams that repeat an earlier 3-gram in the caption.")
    min_unique_word_ratio: float = _f(0.3, "Smallest (distinct words / words); catches 'sale sale sale ...'.")
    ad_phrases: list[str] = _f(DEFAULT_AD_PHRASES, "Ad / boilerplate phrases, matched case-insensitively on words.")
    max_ad_phrases: int = _f(0, "Most ad phrases a caption may contain.")
    language: Literal["any", "en", "zh"] = _f(
        "en",
        "Wanted language, judged by script and (for en) stop words: a heuristic, not a language-ID model.",
    )
    min_language_ratio: float = _f(0.6, "Smallest share of letters in the wanted script (latin for en, CJK for zh).")
    min_stopword_ratio: float = _f(0.05, "en only: smallest share of words that are common English stop words.")

    def __post_init__(self) -> None:
        w = "text_quality"
        _check(self.min_words >= 0, f"{w}.min_words", "must be >= 0")
        _check(self.max_words >= self.min_words, f"{w}.max_words", "must be >= min_words")
        for name in ("max_symbol_ratio", "max_url_ratio", "max_repetition", "min_unique_word_ratio"):
            _check(0 <= getattr(self, name) <= 1, f"{w}.{name}", "must be in [0, 1]")
        for name in ("min_language_ratio", "min_stopword_ratio"):
            _check(0 <= getattr(self, name) <= 1, f"{w}.{name}", "must be in [0, 1]")
        _check(self.language in ("any", "en", "zh"), f"{w}.language", "must be one of any, en, zh")
        _check(all(isinstance(p, str) and p.strip() for p in self.ad_phrases), f"{w}.ad_phrases", "non-empty strings")
        _check(self.max_ad_phrases >= 0, f"{w}.max_ad_phrases", "must be >= 0")


@dataclass
class RelevanceConfig:
    """Keeps an image-text pair only when CLIP finds image and caption relevant to each other."""

    model: str = _f("", "Local directory of a transformers CLIP checkpoint (model, tokenizer, image processor).")
    threshold: float = _f(0.25, "Smallest cosine similarity of the image and text embeddings to keep a pair.")
    device: str = _f("cpu", "torch device for CLIP: cpu, cuda, cuda:1, ...")
    write_score: bool = _f(True, "Store the similarity in meta['clip_score'] of kept records.")

    def __post_init__(self) -> None:
        _check(bool(self.model), "relevance.model", "a local CLIP checkpoint directory is required")
        _check(-1 <= self.threshold <= 1, "relevance.threshold", "a cosine similarity, in [-1, 1]")


@dataclass
class DedupConfig:
    """Drops duplicates across the whole dataset, keeping the first occurrence (in input order)."""

    ids: bool = _f(True, "Drop records whose id was already kept.")
    images: bool = _f(True, "Drop exact (same file bytes) and near-duplicate (perceptual hash) images.")
    image_hash: Literal["phash", "dhash"] = _f("phash", "Perceptual hash: phash (DCT, robust) or dhash (gradients).")
    image_max_hamming: int = _f(
        8,
        "Near-duplicate when the 64-bit hashes differ in at most this many bits. Measured on 96 px scenes (phash): "
        "re-encoding and resizing change <= 4 bits, a 1 px shift or 3% re-crop <= 8 in ~90% of cases, distinct "
        "images differ in >= 14. Lookups slow down as it grows (bit ranges of 64/(k+1) bits).",
    )
    texts: bool = _f(True, "Drop exact (normalised) and near-duplicate (MinHash) captions.")
    text_threshold: float = _f(0.8, "Near-duplicate when the estimated Jaccard similarity of shingles is >= this.")
    shingle: Literal["char", "word"] = _f("char", "Shingles of the normalised text: character or word n-grams.")
    ngram: int = _f(5, "Shingle length (characters or words).")
    num_perm: int = _f(128, "MinHash permutations (signature length).")
    bands: int = _f(16, "LSH bands; num_perm / bands rows each. Candidate cutoff is about (1/bands)^(bands/num_perm).")
    seed: int = _f(0, "Seed of the MinHash permutations.")

    def __post_init__(self) -> None:
        w = "dedup"
        _check(self.image_hash in ("phash", "dhash"), f"{w}.image_hash", "must be phash or dhash")
        _check(0 <= self.image_max_hamming <= 16, f"{w}.image_max_hamming", "must be in [0, 16]")
        _check(0 < self.text_threshold <= 1, f"{w}.text_threshold", "must be in (0, 1]")
        _check(self.shingle in ("char", "word"), f"{w}.shingle", "must be char or word")
        _check(self.ngram >= 1, f"{w}.ngram", "must be >= 1")
        _check(self.num_perm >= 1 and self.bands >= 1, f"{w}.num_perm", "num_perm and bands must be >= 1")
        _check(self.num_perm % self.bands == 0, f"{w}.bands", f"must divide num_perm ({self.num_perm})")


FILTER_CONFIGS: dict[str, type] = {
    "image_quality": ImageQualityConfig,
    "text_quality": TextQualityConfig,
    "relevance": RelevanceConfig,
    "dedup": DedupConfig,
}
FilterConfig = ImageQualityConfig | TextQualityConfig | RelevanceConfig | DedupConfig


@dataclass
class FilterPipelineConfig:
    """One run of `thinkvl data filter`: where the data is, how to run, which filters in which order."""

    input: str = _f("", "Dataset directory to read: records.jsonl plus the image files it references.")
    output: str = _f("", "Dataset directory to write: kept records, their images, report.json, dropped/*.jsonl.")
    filters: list[FilterConfig] = _f([], "Filters in order, each a one-key mapping {kind: {fields}}.")
    text_field: TextField = _f("caption", "Text judged by text filters: meta['caption'] or the last user question.")
    workers: int = _f(1, "Worker processes (1 = run in this process).")
    chunk_size: int = _f(256, "Records per chunk handed to a worker (and per output flush).")
    batch_size: int = _f(32, "Records that go through the chain together: images decoded at once, CLIP batch.")
    media: MediaMode = _f("link", "How kept images reach the output: hard link (falls back to copy) or copy.")
    dropped_samples: int = _f(100, "Dropped records kept per filter for inspection (uniform reservoir sample).")
    max_line_bytes: int = _f(1_000_000, "Longer input lines are dropped unread, so one bad line can't exhaust memory.")
    torch_threads: int = _f(1, "torch threads per worker process (CLIP); workers * threads should fit the cores.")
    overwrite: bool = _f(False, "Allow writing into an output directory that already holds records.jsonl.")

    def __post_init__(self) -> None:
        _check(bool(self.input), "input", "a dataset directory is required")
        _check(bool(self.output), "output", "an output directory is required")
        _check(
            Path(self.input).resolve() != Path(self.output).resolve(), "output", "must differ from input (no in-place)"
        )
        _check(self.text_field in ("caption", "question"), "text_field", "must be caption or question")
        _check(self.workers >= 1, "workers", "must be >= 1")
        _check(self.chunk_size >= 1, "chunk_size", "must be >= 1")
        _check(self.batch_size >= 1, "batch_size", "must be >= 1")
        _check(self.media in ("link", "copy"), "media", "must be link or copy")
        _check(self.dropped_samples >= 0, "dropped_samples", "must be >= 0")
        _check(self.max_line_bytes >= 64, "max_line_bytes", "must be >= 64")
        _check(self.torch_threads >= 1, "torch_threads", "must be >= 1")
        _check(bool(self.filters), "filters", "at least one filter is required")
        kinds = [filter_kind(f) for f in self.filters]
        _check(len(set(kinds)) == len(kinds), "filters", f"each filter kind at most once, got {kinds}")
        # Dedup keeps the first of each duplicate group among what the other filters keep, so it must see their
        # verdicts: it is the only stateful filter and runs last (in the main process).
        _check("dedup" not in kinds or kinds[-1] == "dedup", "filters", "dedup must be the last filter")


def filter_kind(cfg: Any) -> str:
    for kind, cls in FILTER_CONFIGS.items():
        if isinstance(cfg, cls):
            return kind
    raise ConfigError(f"not a filter config: {cfg!r}")


def parse_filter(item: Any, index: int) -> FilterConfig:
    where = f"filters[{index}]"
    _check(isinstance(item, dict) and len(item) == 1, where, "each filter is a one-key mapping {kind: {fields}}")
    ((kind, body),) = item.items()
    _check(kind in FILTER_CONFIGS, where, f"unknown filter {kind!r}; known: {', '.join(FILTER_CONFIGS)}")
    return from_mapping(FILTER_CONFIGS[kind], body or {}, prefix=f"{where}.{kind}.")


def pipeline_from_mapping(data: Any) -> FilterPipelineConfig:
    _check(isinstance(data, dict), "config", "expected a mapping at the top level")
    filters = data.get("filters")
    _check(isinstance(filters, list), "filters", "a list of filters is required")
    parsed = [parse_filter(item, i) for i, item in enumerate(filters)]
    return from_mapping(FilterPipelineConfig, {**data, "filters": parsed})


def load_pipeline_config(path: str | Path, **overrides: Any) -> FilterPipelineConfig:
    """Read a YAML config; its relative input/output/model paths are relative to the YAML file.

    ``overrides`` (from the command line; None means not given) replace top-level keys after that.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    data = read_yaml_mapping(path)
    base = path.resolve().parent
    for key in ("input", "output"):
        if isinstance(data.get(key), str) and data[key]:
            data[key] = os.path.normpath(base / data[key])
    for item in data.get("filters") or []:
        body = item.get("relevance") if isinstance(item, dict) else None
        if isinstance(body, dict) and isinstance(body.get("model"), str) and body["model"]:
            body["model"] = os.path.normpath(base / body["model"])
    data.update({k: v for k, v in overrides.items() if v is not None})  # command-line values: relative to cwd
    return pipeline_from_mapping(data)


def to_mapping(cfg: FilterPipelineConfig) -> dict[str, Any]:
    """The YAML form of a config (inverse of `pipeline_from_mapping`)."""
    out = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "filters"}
    out["filters"] = [{filter_kind(f): dataclasses.asdict(f)} for f in cfg.filters]
    return out
