"""The model layer: glm4v presets, tokenizer, processor, chat format, and model directories.

Names load on first use (PEP 562): `thinkvl.model.chat` and `tokens` are imported by the reward system and its
worker processes, which must not pay for importing torch and transformers.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Bundle": "bundle",
    "create_bundle": "bundle",
    "load_bundle": "bundle",
    "save_bundle": "bundle",
    "format_response": "chat",
    "parse_response": "chat",
    "render_prompt": "chat",
    "SamplingParams": "generate",
    "TransformersEngine": "generate",
    "make_generate": "generate",
    "PRESETS": "presets",
    "build_config": "presets",
    "get_preset": "presets",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"thinkvl.model.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'thinkvl.model' has no attribute {name!r}")
