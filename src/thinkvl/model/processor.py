"""The multimodal processor: transformers' `Glm4vProcessor`, built offline, and record → model inputs.

Images keep their aspect ratio (up to 200:1) and are resized into the preset's pixel budget; a video's frames
are sampled at a target fps from their true rate, and transformers writes each temporal step's timestamp (in
seconds) after its tokens — provided it is given the video's metadata (without it, it assumes 24 fps).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from transformers import BatchFeature, Glm4vImageProcessor, Glm4vProcessor, Glm4vVideoProcessor
from transformers.video_utils import VideoMetadata

from thinkvl.data.record import DEFAULT_MAX_IMAGE_PIXELS, open_media
from thinkvl.model.chat import content_parts, render_prompt
from thinkvl.model.presets import ModelPreset, get_preset

MAX_ASPECT_RATIO = 200.0

# Renders exactly what `thinkvl.model.chat.render_prompt` renders (a test holds them equal), so
# `processor.apply_chat_template` and plain transformers users see the same prompt as thinkvl.
CHAT_TEMPLATE = (
    "[gMASK]<sop>{% for m in messages %}<|{{ m.role }}|>{{ '\\n' }}"
    "{% if m.content is string %}{{ m.content }}{% else %}{% for p in m.content %}"
    "{% if p.type == 'text' %}{{ p.text }}"
    "{% elif p.type == 'image' %}<|begin_of_image|><|image|><|end_of_image|>"
    "{% elif p.type == 'video' %}<|begin_of_video|><|video|><|end_of_video|>"
    "{% endif %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{{ '\\n' }}"
    "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}{% endif %}"
)


def build_processor(tokenizer: Any, preset: ModelPreset | str, video_fps: float = 2.0) -> Glm4vProcessor:
    """A `Glm4vProcessor` with image and video processors sized for a preset; no download involved."""
    p = get_preset(preset) if isinstance(preset, str) else preset
    common = {
        "patch_size": p.patch_size,
        "merge_size": p.spatial_merge,
        "temporal_patch_size": p.temporal_patch,
    }
    image_processor = Glm4vImageProcessor(size={"shortest_edge": p.min_pixels, "longest_edge": p.max_pixels}, **common)
    # The video budget counts all frames together (t × h × w), so allow 16 frames of a full image.
    video_processor = Glm4vVideoProcessor(
        size={"shortest_edge": p.min_pixels, "longest_edge": p.max_pixels * 16},
        fps=video_fps,
        **common,
    )
    return Glm4vProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )


def check_aspect_ratio(image: Image.Image, where: str = "image") -> None:
    w, h = image.size
    ratio = max(w, h) / max(1, min(w, h))
    if ratio > MAX_ASPECT_RATIO:
        raise ValueError(
            f"{where} is {w}x{h}, aspect ratio {ratio:.0f}:1 is over the supported {MAX_ASPECT_RATIO:.0f}:1"
        )


def load_media(
    messages: list[dict[str, Any]], root: str | Path, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
) -> tuple[list[Image.Image], list[np.ndarray], list[VideoMetadata]]:
    """Images, videos (T×H×W×C arrays) and video metadata of a conversation, in order of appearance."""
    root = Path(root)
    images, videos, metadata = [], [], []
    for message in messages:
        for part in content_parts(message["content"]):
            if part.get("type") == "image":
                img = open_media(root, part["image"], max_pixels=max_pixels)
                check_aspect_ratio(img, part["image"])
                images.append(img)
            elif part.get("type") == "video":
                fps = float(part.get("fps") or 0)
                if not fps > 0:  # frame times are index / fps
                    raise ValueError(f"a video needs fps > 0 (the rate its frames were sampled at), got {fps}")
                frames = [open_media(root, f, max_pixels=max_pixels) for f in part["video"]]
                if len({f.size for f in frames}) != 1:
                    raise ValueError(f"video frames differ in size: {sorted({f.size for f in frames})}")
                check_aspect_ratio(frames[0], part["video"][0])
                w, h = frames[0].size
                videos.append(np.stack([np.asarray(f) for f in frames]))
                metadata.append(
                    VideoMetadata(
                        total_num_frames=len(frames),
                        fps=fps,
                        width=w,
                        height=h,
                        duration=len(frames) / fps,
                        frames_indices=list(range(len(frames))),
                    )
                )
    return images, videos, metadata


def encode(
    processor: Glm4vProcessor,
    texts: list[str],
    conversations: list[list[dict[str, Any]]],
    root: str | Path,
    **kwargs: Any,
) -> BatchFeature:
    """Tokenise rendered texts with the images/videos of their conversations (one conversation per text)."""
    images, videos, metadata = [], [], []
    for messages in conversations:
        i, v, m = load_media(messages, root)
        images += i
        videos += v
        metadata += m
    extra: dict[str, Any] = {}
    if images:
        extra["images"] = images
    if videos:
        extra["videos"] = videos
        extra["video_metadata"] = metadata
    return processor(text=texts, return_tensors="pt", **extra, **kwargs)


def encode_prompt(
    processor: Glm4vProcessor,
    messages: list[dict[str, Any]],
    root: str | Path,
    *,
    thinking: bool = True,
) -> BatchFeature:
    """Model inputs for one conversation, ending with the assistant tag (ready for generation)."""
    return encode(processor, [render_prompt(messages, thinking=thinking)], [messages], root)
