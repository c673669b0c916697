"""Long videos as pre-training samples that fit a pack: the report's long-context stage trains on long videos, and a
video sampled at its full frame rate can exceed any pack. Here because fitting needs the model's processor to count
the tokens exactly (the data layer does not import the model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thinkvl.data.record import Record
from thinkvl.model import tokens as T
from thinkvl.model.chat import VIDEO_PLACEHOLDER
from thinkvl.model.processor import encode


def long_video_record(
    rid: str,
    frames: list[str],
    fps: float,
    caption: str,
    root: str | Path,
    processor: Any,
    pack_len: int,
) -> Record:
    """A pre-training record of the video (frames sampled at ``fps``) with every k-th frame, k the smallest that
    fits the sample (video tokens + caption) in ``pack_len`` tokens; ``meta.frame_stride`` records k."""
    caption_tokens = len(processor.tokenizer.encode(caption + T.END_OF_TEXT, add_special_tokens=False))

    def build(stride: int) -> tuple[Record, int]:
        part = {"type": "video", "video": frames[::stride], "fps": fps / stride}
        record = Record(rid, "video", [{"role": "user", "content": [part]}], caption, meta={"caption": caption})
        record.meta["frame_stride"] = stride
        enc = encode(processor, [T.GMASK + T.SOP + VIDEO_PLACEHOLDER], [record.messages], root)
        return record, int(enc["input_ids"].shape[1]) + caption_tokens

    stride = 1
    record, length = build(stride)
    while length > pack_len:  # up: tokens grow about in proportion to frames, so jump near the answer
        if len(frames[::stride]) <= 2:
            raise ValueError(f"video {rid}: even 2 frames and the caption take {length} tokens > pack_len {pack_len}")
        stride = max(stride + 1, int(stride * length / pack_len))
        record, length = build(stride)
    while stride > 1:  # down, one at a time, while a smaller stride still fits (the jump may overshoot)
        smaller, n = build(stride - 1)
        if n > pack_len:
            break
        stride, record, length = stride - 1, smaller, n
    record.meta["tokens"] = length
    return record
