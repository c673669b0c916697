"""The model layer: glm4v presets, tokenizer, processor, chat format, and model directories."""

from thinkvl.model.bundle import Bundle, create_bundle, load_bundle, save_bundle
from thinkvl.model.chat import format_response, parse_response, render_prompt
from thinkvl.model.presets import PRESETS, build_config, get_preset

__all__ = [
    "PRESETS",
    "Bundle",
    "build_config",
    "create_bundle",
    "format_response",
    "get_preset",
    "load_bundle",
    "parse_response",
    "render_prompt",
    "save_bundle",
]
