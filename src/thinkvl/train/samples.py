"""Record → one tokenised training sample, with its own 3D positions and a loss mask.

Pre-training learns the caption given the image (loss on caption tokens), or an interleaved document's text
given the images before it (loss on every text token; images and their boundary tokens masked); SFT learns the
thinking-format response given the conversation (loss on the assistant's response only; prompt and visual
tokens masked).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from thinkvl.data.record import Record
from thinkvl.data.synth.base import box_string
from thinkvl.model import tokens as T
from thinkvl.model.chat import IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER, content_parts, format_response, render_prompt
from thinkvl.model.embed import visual_as_images
from thinkvl.model.processor import encode

Stage = Literal["pretrain", "sft"]
IGNORE = -100


@dataclass
class Sample:
    """One sequence. Visual tensors are None when the sample has no image / video."""

    id: str
    input_ids: torch.Tensor  # [L]
    labels: torch.Tensor  # [L], IGNORE where no loss
    mm_token_type_ids: torch.Tensor  # [L]: 0 text, 1 image, 2 video
    position_ids: torch.Tensor  # [3, L]: (t, h, w) positions from glm4v's get_rope_index
    # All visual input as images in token order (video steps included: see thinkvl.model.embed).
    pixel_values: torch.Tensor | None = None  # [patches, C·T·P·P]
    image_grid_thw: torch.Tensor | None = None  # [images + video steps, 3]

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def num_loss_tokens(self) -> int:
        return int((self.labels != IGNORE).sum())


def sft_target(record: Record, *, thinking: bool = True) -> str:
    """The response SFT teaches: ``<think>reasoning</think><answer>text <box>answer</box></answer>``."""
    meta = record.meta
    if thinking and "reasoning" not in meta:
        raise ValueError(f"record {record.id!r} has no meta.reasoning to train the thinking format on")
    box = meta.get("boxed", box_string(record.answer))
    body = format_response(meta.get("reasoning") if thinking else "", meta.get("answer_text", ""), box)
    return body if thinking else body[len(T.THINK_OPEN + T.THINK_CLOSE) :]


def _media_only_prompt(record: Record) -> str:
    """Pre-training prompt: the images/videos of the record's user turns, nothing else."""
    parts = []
    for message in record.messages:
        for part in content_parts(message["content"]):
            if part.get("type") == "image":
                parts.append(IMAGE_PLACEHOLDER)
            elif part.get("type") == "video":
                parts.append(VIDEO_PLACEHOLDER)
    return T.GMASK + T.SOP + "".join(parts)


def _document_text(record: Record) -> str:
    """An interleaved record as one text: its parts in reading order, visual parts as their placeholders."""
    parts = [part for message in record.messages for part in content_parts(message["content"])]
    placeholder = {"image": IMAGE_PLACEHOLDER, "video": VIDEO_PLACEHOLDER}
    return "".join(placeholder.get(p.get("type"), p.get("text", "")) for p in parts)


def visual_span(input_ids: torch.Tensor, tokenizer: Any) -> torch.Tensor:
    """[L] bool: the tokens from each <|begin_of_image|> / <|begin_of_video|> to its end token, inclusive (a
    video's per-frame images and timestamps sit inside its own span)."""
    ids = tokenizer.convert_tokens_to_ids([T.BEGIN_OF_IMAGE, T.BEGIN_OF_VIDEO, T.END_OF_IMAGE, T.END_OF_VIDEO])
    opens = torch.isin(input_ids, torch.tensor(ids[:2])).long().cumsum(0)
    closes = torch.isin(input_ids, torch.tensor(ids[2:])).long().cumsum(0)
    return (opens - closes + torch.isin(input_ids, torch.tensor(ids[2:])).long()) > 0


def build_sample(
    record: Record,
    root: str | Path,
    processor: Any,
    model: Any,
    stage: Stage,
    *,
    thinking: bool = True,
) -> Sample:
    """Tokenise a record for a supervised stage; ``model`` supplies glm4v's `get_rope_index` (no weights used)."""
    if record.domain == "interleaved":
        if stage != "pretrain":
            raise ValueError(f"record {record.id!r} is an interleaved document: it is for pre-training, not {stage}")
        return _sample(record, root, processor, model, T.GMASK + T.SOP + _document_text(record) + T.END_OF_TEXT, "")
    if stage == "pretrain":
        caption = record.meta.get("caption")
        if not caption:
            raise ValueError(f"record {record.id!r} has no meta.caption for pre-training")
        prompt, target = _media_only_prompt(record), caption + T.END_OF_TEXT
    elif stage == "sft":
        prompt = render_prompt(record.messages, thinking=thinking)
        target = sft_target(record, thinking=thinking) + T.END_OF_TEXT
    else:
        raise ValueError(f"unknown stage {stage!r}")
    return _sample(record, root, processor, model, prompt, target)


def _sample(record: Record, root: str | Path, processor: Any, model: Any, prompt: str, target: str) -> Sample:
    """Loss on ``target`` when there is one; else (an interleaved document) on every text token of ``prompt``."""
    enc = encode(processor, [prompt], [record.messages], root)
    prompt_ids = enc["input_ids"][0]
    # The prompt ends in a special token or newline and the target starts fresh, so tokenising them
    # apart gives the same ids as together, and the boundary is exact.
    target_ids = torch.tensor(processor.tokenizer.encode(target, add_special_tokens=False), dtype=torch.long)
    input_ids = torch.cat([prompt_ids, target_ids])
    if target:
        labels = torch.cat([torch.full_like(prompt_ids, IGNORE), target_ids])
    else:  # no loss on [gMASK]<sop> nor on any image or video span
        labels = prompt_ids.masked_fill(visual_span(prompt_ids, processor.tokenizer), IGNORE)
        labels[:2] = IGNORE
    mm_types = torch.cat([enc["mm_token_type_ids"][0], torch.zeros_like(target_ids)])
    image_grid, video_grid = enc.get("image_grid_thw"), enc.get("video_grid_thw")
    if image_grid is not None or video_grid is not None:
        position_ids, _ = model.model.get_rope_index(input_ids[None], mm_types[None], image_grid, video_grid)
        position_ids = position_ids[:, 0]
    else:
        position_ids = torch.arange(len(input_ids))[None].expand(3, -1).clone()
    pixel_values, grids = visual_as_images(enc)
    return Sample(
        id=record.id,
        input_ids=input_ids,
        labels=labels,
        mm_token_type_ids=mm_types,
        position_ids=position_ids,
        pixel_values=pixel_values,
        image_grid_thw=grids,
    )


# Why a record was skipped, from the messages `build_sample` and `thinkvl.data.record.open_image` raise: a short
# name per cause, for the metrics and the error raised when nothing is left.
_REASONS = (
    ("not found", "missing image"),
    ("corrupt or unreadable", "corrupt image"),
    ("over the limit", "image too large"),
    ("leaves the dataset", "path outside the dataset"),
    ("no meta.caption", "no caption"),
    ("no meta.reasoning", "no reasoning"),
    ("interleaved document", "interleaved (pre-training only)"),
)


def skip_reason(message: str) -> str:
    """The short name of why a record was skipped (``"other"`` when the message is not a known cause)."""
    return next((name for needle, name in _REASONS if needle in message), "other")


@dataclass
class Skipped:
    """Records a stage could not use: counted by reason in the metrics, the first few kept with their errors.

    Memory stays bounded on a corpus: only ``keep`` messages are held, the rest are counted."""

    errors: list[tuple[str, str]] = field(default_factory=list)  # the first `keep` (record id, message)
    reasons: Counter[str] = field(default_factory=Counter)
    keep: int = 20

    def add(self, record_id: str, err: Exception | str) -> None:
        message = str(err)
        self.reasons[skip_reason(message)] += 1
        if len(self.errors) < self.keep:
            self.errors.append((record_id, message))

    def update(self, other: Skipped) -> None:
        self.reasons.update(other.reasons)
        self.errors.extend(other.errors[: max(0, self.keep - len(self.errors))])

    def __len__(self) -> int:
        return sum(self.reasons.values())

    def counts(self) -> Counter[str]:
        return Counter(self.reasons)

    def metrics(self) -> dict[str, int]:
        """``data/skipped_records`` and one ``data/skipped/<reason>`` per cause."""
        return {"data/skipped_records": len(self)} | {f"data/skipped/{r}": n for r, n in sorted(self.counts().items())}

    def describe(self, first: int = 3) -> str:
        """One line: how many, by reason, and the first few records with their errors."""
        reasons = ", ".join(f"{r}: {n}" for r, n in self.counts().most_common())
        shown = "; ".join(f"{rid}: {msg}" for rid, msg in self.errors[:first])
        more = f" (and {len(self) - first} more)" if len(self) > first else ""
        return f"{len(self)} record(s) skipped ({reasons}): {shown}{more}"
