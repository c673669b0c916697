"""Architecture presets on transformers' glm4v: from a CPU-sized tiny model to the published 9B.

Every preset is the same architecture (ViT with 2D-RoPE and interpolated absolute positions, 3D-conv patches
with temporal stride 2, patch-merger MLP projector, GLM decoder with 3D-RoPE); only sizes differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from transformers import Glm4vConfig


@dataclass(frozen=True)
class ModelPreset:
    """Sizes of one glm4v model. Token ids are filled in from the tokenizer by `build_config`."""

    name: str
    vit_depth: int
    vit_hidden: int
    vit_heads: int
    vit_intermediate: int  # also the projector (patch merger) MLP width, as in glm4v
    vit_image_size: int  # side of the learned position table, in pixels (table = (size / patch)^2 entries)
    llm_layers: int
    llm_hidden: int
    llm_heads: int
    llm_kv_heads: int
    llm_intermediate: int
    vocab_size: int | None  # None: the tokenizer's size
    max_positions: int
    mrope_section: tuple[int, int, int]  # rotary frequencies given to (t, h, w); sums to head_dim * 0.5 / 2
    patch_size: int = 14
    spatial_merge: int = 2
    temporal_patch: int = 2
    # Processor pixel budget per image (min, max), in pixels; the ViT sees (pixels / 14^2) patches.
    min_pixels: int = 28 * 28
    max_pixels: int = 224 * 224
    extra: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, ModelPreset] = {
    "tiny": ModelPreset(
        name="tiny",
        vit_depth=4,
        vit_hidden=128,
        vit_heads=4,
        vit_intermediate=256,
        vit_image_size=224,
        llm_layers=4,
        llm_hidden=256,
        llm_heads=4,
        llm_kv_heads=2,
        llm_intermediate=768,
        vocab_size=None,
        max_positions=8192,
        mrope_section=(4, 6, 6),
    ),
    "small": ModelPreset(
        name="small",
        vit_depth=8,
        vit_hidden=384,
        vit_heads=6,
        vit_intermediate=1024,
        vit_image_size=336,
        llm_layers=12,
        llm_hidden=640,
        llm_heads=10,
        llm_kv_heads=2,
        llm_intermediate=2048,
        vocab_size=None,
        max_positions=32768,
        mrope_section=(4, 6, 6),
        max_pixels=448 * 448,
    ),
    # The published GLM-4.1V-9B (Base and Thinking) configuration.
    "glm-4.1v-9b": ModelPreset(
        name="glm-4.1v-9b",
        vit_depth=24,
        vit_hidden=1536,
        vit_heads=12,
        vit_intermediate=13696,
        vit_image_size=336,
        llm_layers=40,
        llm_hidden=4096,
        llm_heads=32,
        llm_kv_heads=2,
        llm_intermediate=13696,
        vocab_size=151552,
        max_positions=65536,
        mrope_section=(8, 12, 12),
        min_pixels=112 * 112,
        max_pixels=28 * 28 * 15000,
    ),
}


def get_preset(name: str) -> ModelPreset:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def build_config(preset: ModelPreset | str, token_ids: dict[str, int], vocab_size: int) -> Glm4vConfig:
    """A `Glm4vConfig` for a preset, with the special-token ids of the tokenizer it will run with.

    ``token_ids`` maps token strings to ids (from `thinkvl.model.tokenizer.special_token_ids`).
    """
    from thinkvl.model import tokens as T

    p = get_preset(preset) if isinstance(preset, str) else preset
    vocab = p.vocab_size or vocab_size
    if vocab < vocab_size:
        raise ValueError(f"preset vocab {vocab} is smaller than the tokenizer's {vocab_size}")
    text = {
        "vocab_size": vocab,
        "hidden_size": p.llm_hidden,
        "intermediate_size": p.llm_intermediate,
        "num_hidden_layers": p.llm_layers,
        "num_attention_heads": p.llm_heads,
        "num_key_value_heads": p.llm_kv_heads,
        "max_position_embeddings": p.max_positions,
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "partial_rotary_factor": 0.5,
            "mrope_section": list(p.mrope_section),
        },
        "pad_token_id": token_ids[T.PAD] if T.PAD in token_ids else token_ids[T.END_OF_TEXT],
        # glm4v's decoder always has q/k/v biases (transformers hard-codes them); vLLM reads this key and, when it
        # is absent, builds the layers without biases and silently drops the trained ones.
        "attention_bias": True,
    }
    vision = {
        "depth": p.vit_depth,
        "hidden_size": p.vit_hidden,
        "num_heads": p.vit_heads,
        "intermediate_size": p.vit_intermediate,
        "out_hidden_size": p.llm_hidden,
        "image_size": p.vit_image_size,
        "patch_size": p.patch_size,
        "spatial_merge_size": p.spatial_merge,
        "temporal_patch_size": p.temporal_patch,
    }
    config = Glm4vConfig(
        text_config=text,
        vision_config=vision,
        image_token_id=token_ids[T.IMAGE],
        video_token_id=token_ids[T.VIDEO],
        image_start_token_id=token_ids[T.BEGIN_OF_IMAGE],
        image_end_token_id=token_ids[T.END_OF_IMAGE],
        video_start_token_id=token_ids[T.BEGIN_OF_VIDEO],
        video_end_token_id=token_ids[T.END_OF_VIDEO],
    )
    config.eos_token_id = [token_ids[t] for t in T.STOP_TOKENS]
    config.pad_token_id = text["pad_token_id"]
    return config
