"""Recaptioning: rewrite each pair's caption with a VLM that drops noise and keeps the facts.

Plain transformers, so any local image-text-to-text checkpoint works (ours or another): `AutoProcessor` +
`AutoModelForImageTextToText`, prompts from ``processor.apply_chat_template``, left-padded batched
``generate``. The original caption is kept in ``meta['original_caption']``.

Resumable: ids already in the output are skipped; each batch is appended and flushed (fsync) before the next
starts, so a crash loses at most the batch in progress; a half-written last line is cut off on restart.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from thinkvl.data.loaders import RECORDS_FILE, raw_rows, resolve_source, to_record
from thinkvl.data.pipeline.base import short
from thinkvl.data.pipeline.config import ConfigError, MediaMode, _check, _f
from thinkvl.data.pipeline.stream import DatasetWriter
from thinkvl.data.record import MediaPathError, Record, RecordError, open_media

DEFAULT_PROMPT = (
    "Write one or two sentences that describe this image factually. An original caption, which may be noisy "
    "or wrong, was: {caption}"
)


@dataclass
class RecaptionConfig:
    """One run of `thinkvl data recaption`."""

    model: str = _f("", "Local directory of a transformers VLM (AutoProcessor + AutoModelForImageTextToText).")
    data: str = _f("", "Dataset directory to read (records.jsonl + images).")
    out: str = _f("", "Dataset directory to write; re-running with the same out resumes.")
    prompt: str = _f(DEFAULT_PROMPT, "User prompt; '{caption}' is replaced by the record's current caption.")
    batch_size: int = _f(8, "Records per generate call (and per flush).")
    max_new_tokens: int = _f(96, "Longest caption (or thought + caption) generated.")
    do_sample: bool = _f(False, "Sample instead of greedy decoding.")
    temperature: float = _f(1.0, "Sampling temperature (with do_sample).")
    enable_thinking: bool = _f(False, "Let a thinking model think first; only the answer becomes the caption.")
    device: str = _f("cpu", "torch device: cpu, cuda, cuda:1, ...")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = _f("auto", "Weights dtype.")
    limit: int = _f(0, "Stop after this many new records (0: all).")
    media: MediaMode = _f("link", "How images reach the output: hard link (falls back to copy) or copy.")

    def __post_init__(self) -> None:
        for name in ("model", "data", "out"):
            _check(bool(getattr(self, name)), name, "is required")
        _check(Path(self.data).resolve() != Path(self.out).resolve(), "out", "must differ from data (no in-place)")
        _check(self.batch_size >= 1, "batch_size", "must be >= 1")
        _check(self.max_new_tokens >= 1, "max_new_tokens", "must be >= 1")
        _check(self.temperature > 0, "temperature", "must be > 0")
        _check(self.limit >= 0, "limit", "must be >= 0")
        _check(self.dtype in ("auto", "float32", "bfloat16", "float16"), "dtype", "auto, float32, bfloat16, float16")


SKIPPED = "recaption_skipped.jsonl"  # {"id", "reason"} of records left out (unreadable image)


def _complete_lines(path: Path) -> list[bytes]:
    """Lines of a jsonl file; a partial last line (a crash mid-write) is truncated away first."""
    if not path.is_file():
        return []
    with path.open("rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            f.truncate(end)
    return data[:end].splitlines()


def done_ids(out_dir: Path) -> set[str]:
    """Ids a previous run already handled: written to records.jsonl or listed as skipped."""
    ids = set()
    for line in _complete_lines(out_dir / RECORDS_FILE) + _complete_lines(out_dir / SKIPPED):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("id"), str):
            ids.add(obj["id"])
    return ids


def clean_caption(text: str, special_tokens: list[str]) -> str:
    """The caption inside a generation: after any thought, without answer tags or special tokens.

    >>> clean_caption("<think>red?</think><answer>A red square.</answer><|endoftext|>", ["<|endoftext|>"])
    'A red square.'
    """
    if "</think>" in text:
        text = text.rsplit("</think>", 1)[1]
    elif "<think>" in text:  # a thought that never ended holds no caption
        return ""
    for tag in ("<answer>", "</answer>", "<|begin_of_box|>", "<|end_of_box|>", *special_tokens):
        text = text.replace(tag, " ")
    return " ".join(text.split())


def build_prompt(processor: Any, prompt: str, caption: str, enable_thinking: bool = False) -> str:
    """The chat-formatted prompt for one image and its caption (``{caption}`` replaced literally, not formatted)."""
    message = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": prompt.replace("{caption}", caption)}],
        }
    ]
    return processor.apply_chat_template(
        message, tokenize=False, add_generation_prompt=True, enable_thinking=enable_thinking
    )


class Recaptioner:
    """A loaded VLM that turns (image, caption) batches into new captions."""

    def __init__(self, cfg: RecaptionConfig):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model_dir = Path(cfg.model)
        if not (model_dir / "config.json").is_file():
            raise ConfigError(f"model: no config.json in {model_dir}")
        self.cfg = cfg
        self.torch = torch
        self.processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        dtype = cfg.dtype if cfg.dtype == "auto" else getattr(torch, cfg.dtype)
        self.model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype, local_files_only=True)
        self.model.to(cfg.device).eval()
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # generation continues from the right end of each row
        self.special = [t for t in self.tokenizer.all_special_tokens if t not in ("<think>", "</think>")]

    def prompt_text(self, caption: str) -> str:
        return build_prompt(self.processor, self.cfg.prompt, caption, self.cfg.enable_thinking)

    def captions(self, images: list[Any], captions: list[str]) -> list[str]:
        texts = [self.prompt_text(c) for c in captions]
        inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt").to(self.cfg.device)
        gen: dict[str, Any] = {"max_new_tokens": self.cfg.max_new_tokens, "do_sample": self.cfg.do_sample}
        if self.cfg.do_sample:
            gen["temperature"] = self.cfg.temperature
        with self.torch.inference_mode():
            out = self.model.generate(**inputs, **gen)
        new = out[:, inputs["input_ids"].shape[1] :]
        decoded = self.tokenizer.batch_decode(new, skip_special_tokens=False)
        return [clean_caption(d, self.special) for d in decoded]


@dataclass
class RecaptionStats:
    written: int = 0  # records appended to the output this run
    recaptioned: int = 0  # of which got a new caption
    failed: int = 0  # of which kept their caption, with meta['recaption_error'] saying why
    skipped_done: int = 0  # already handled by an earlier run
    skipped_bad: int = 0  # lines that are not records, or records whose image can't be read (see SKIPPED)
    seconds: float = 0.0


def _recaptioned(record: Record, new: str, model_name: str) -> dict[str, Any]:
    old = record.meta.get("caption")
    meta = dict(record.meta)
    meta.setdefault("original_caption", old)
    meta["caption"] = new
    meta["recaption_model"] = model_name
    out = record.to_dict()
    out["meta"] = meta
    if record.domain == "caption" and record.answer == old:
        out["answer"] = new
    return out


def _failed(record: Record, why: str) -> dict[str, Any]:
    out = record.to_dict()
    out["meta"] = {**record.meta, "recaption_error": short(why, 300)}
    return out


def recaption(cfg: RecaptionConfig, *, progress: bool = False, captioner: Recaptioner | None = None) -> RecaptionStats:
    """Recaption ``cfg.data`` into ``cfg.out``, resuming whatever a previous run left there."""
    from tqdm import tqdm

    src = Path(cfg.data) / RECORDS_FILE
    if not src.is_file():
        raise ConfigError(f"data: no {RECORDS_FILE} in {cfg.data}")
    out_dir = Path(cfg.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = done_ids(out_dir)
    captioner = captioner or Recaptioner(cfg)
    model_name = Path(cfg.model).name
    stats = RecaptionStats()
    start = time.perf_counter()
    root = Path(cfg.data)
    bar = tqdm(desc="recaption", unit="rec", disable=not progress)
    with DatasetWriter(out_dir, root, cfg.media, append=True) as writer, (out_dir / SKIPPED).open("a") as skipped:
        batch: list[tuple[Record, Any]] = []

        def flush() -> None:
            _run_batch(captioner, batch, writer, skipped, stats, model_name)
            skipped.flush()
            writer.flush()  # the batch is on disk (fsync) before the next one starts
            bar.update(len(batch))
            batch.clear()

        taken = 0
        for where, raw in raw_rows(resolve_source(src)):
            if cfg.limit and taken >= cfg.limit:
                break
            try:
                record = to_record(where, raw)
            except RecordError:
                stats.skipped_bad += 1
                continue
            if record.id in done:
                stats.skipped_done += 1
                continue
            done.add(record.id)
            taken += 1
            batch.append((record, _load_image(record, root)))
            if len(batch) == cfg.batch_size:
                flush()
        if batch:
            flush()
    bar.close()
    stats.seconds = time.perf_counter() - start
    return stats


def _load_image(record: Record, root: Path) -> Any:
    """The first image, or the reason there is none (a string)."""
    media = [rel for _, rel in record.media()]
    if not media:
        return "no_image: the record references no image"
    try:
        return open_media(root, media[0])
    except MediaPathError as err:
        return f"bad_media_path: {err}"
    except ValueError as err:
        return f"corrupt: {err}"


def _run_batch(captioner: Recaptioner, batch: list[tuple[Record, Any]], writer: DatasetWriter, skipped, stats, model):
    """Caption one batch and append every record of it: recaptioned, failed (kept as is), or skipped."""
    ready = [(r, img) for r, img in batch if not isinstance(img, str)]
    news: list[str] = []
    if ready:
        captions = [r.meta.get("caption") if isinstance(r.meta.get("caption"), str) else "" for r, _ in ready]
        try:
            news = captioner.captions([img for _, img in ready], captions)
        except Exception as err:  # one batch the model can't take must not stop the run
            news = [f"\0{type(err).__name__}: {err}"] * len(ready)
    by_id = {r.id: n for (r, _), n in zip(ready, news, strict=True)}
    for record, img in batch:
        if isinstance(img, str):  # no usable image: leave the record out of the image-text dataset
            skipped.write(json.dumps({"id": record.id, "reason": short(img, 300)}) + "\n")
            stats.skipped_bad += 1
            continue
        new = by_id[record.id]
        if new.startswith("\0"):
            out = _failed(record, f"generate failed: {new[1:]}")
        elif not new:
            out = _failed(record, "empty generation")
        else:
            out = _recaptioned(record, new, model)
        try:
            writer.write(out, [rel for _, rel in record.media()])
        except OSError as err:
            skipped.write(json.dumps({"id": record.id, "reason": short(f"media_io: {err}", 300)}) + "\n")
            stats.skipped_bad += 1
            continue
        stats.written += 1
        stats.failed += "recaption_error" in out["meta"]
        stats.recaptioned += "recaption_error" not in out["meta"]
