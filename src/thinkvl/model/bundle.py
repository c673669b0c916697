"""A model and its processor, created from a preset or loaded from / saved to a transformers directory.

A saved bundle is an ordinary transformers model directory (config.json, model.safetensors, tokenizer and
processor files, chat template), so `AutoModelForImageTextToText.from_pretrained(DIR)` opens it without
thinkvl, and a real GLM-4.1V checkpoint directory loads through `load_bundle` the same way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoModelForImageTextToText,
    AutoProcessor,
    GenerationConfig,
    PreTrainedModel,
)

from thinkvl.model import tokens as T
from thinkvl.model.device import resolve_device
from thinkvl.model.presets import build_config, get_preset
from thinkvl.model.processor import build_processor
from thinkvl.model.tokenizer import build_tokenizer, special_token_ids


@dataclass
class Bundle:
    model: PreTrainedModel
    processor: Any  # a transformers processor (Glm4vProcessor for glm4v models)

    @property
    def tokenizer(self) -> Any:
        return self.processor.tokenizer

    def token_id(self, token: str) -> int:
        return special_token_ids(self.tokenizer)[token]

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def stop_token_ids(tokenizer: Any) -> list[int]:
    ids = special_token_ids(tokenizer)
    return [ids[t] for t in T.STOP_TOKENS if t in ids]


def _generation_config(tokenizer: Any) -> GenerationConfig:
    ids = special_token_ids(tokenizer)
    return GenerationConfig(
        eos_token_id=stop_token_ids(tokenizer),
        pad_token_id=ids.get(T.PAD, ids[T.END_OF_TEXT]),
        do_sample=True,
        temperature=1.0,
        top_p=1.0,
    )


def create_bundle(
    preset: str = "tiny",
    *,
    corpus: Iterable[str] = (),
    vocab_size: int = 2048,
    seed: int = 0,
    attn_implementation: str = "sdpa",
) -> Bundle:
    """A freshly initialised model of a preset, with a tokenizer trained on ``corpus`` and its processor."""
    p = get_preset(preset)
    tokenizer = build_tokenizer(corpus, vocab_size=vocab_size)
    config = build_config(p, special_token_ids(tokenizer), len(tokenizer))
    torch.manual_seed(seed)
    model = AutoModelForImageTextToText.from_config(config, attn_implementation=attn_implementation)
    model.generation_config = _generation_config(tokenizer)
    return Bundle(model=model, processor=build_processor(tokenizer, p))


def save_bundle(bundle: Bundle, directory: str | Path, state_dict: dict[str, Any] | None = None) -> Path:
    """Write the bundle as a transformers model directory, atomically: a crash never leaves a partial one.

    ``state_dict`` replaces the model's own (e.g. the full weights gathered from FSDP shards)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        bundle.model.save_pretrained(tmp, state_dict=state_dict)
        bundle.processor.save_pretrained(tmp)
        old = None
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
        os.replace(tmp, directory)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def load_bundle(
    directory: str | Path,
    *,
    dtype: torch.dtype | str = "auto",
    device: str | torch.device | None = None,
    attn_implementation: str = "sdpa",
    weights: bool = True,
) -> Bundle:
    """Load a model directory saved by `save_bundle`, or any local transformers VLM checkpoint.

    ``device`` None: LOCAL_RANK's GPU when CUDA is available, else the CPU. ``weights=False`` builds the model
    from the directory's config alone, its parameters on the meta device (a sharded checkpoint, whose weights are
    loaded after wrapping, each rank its shard)."""
    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise FileNotFoundError(f"{directory} is not a model directory (no config.json)")
    where = device if isinstance(device, torch.device) else resolve_device(device)
    processor = AutoProcessor.from_pretrained(directory)
    try:
        if weights:
            model = AutoModelForImageTextToText.from_pretrained(
                directory, dtype=dtype, attn_implementation=attn_implementation
            )
        else:
            from accelerate import init_empty_weights

            config = AutoConfig.from_pretrained(directory)
            # Parameters on the meta device, buffers (rotary frequencies) real: nothing the size of the model
            # is allocated; `thinkvl.train.distributed.materialize` allocates this rank's part later.
            with init_empty_weights():
                model = AutoModelForImageTextToText.from_config(config, attn_implementation=attn_implementation)
            if (directory / "generation_config.json").is_file():
                model.generation_config = GenerationConfig.from_pretrained(directory)
            if isinstance(dtype, torch.dtype):
                model.to(dtype)
    except SafetensorError as err:  # a copy cut short or overwritten: say so instead of a Rust traceback
        raise ValueError(f"{directory}: the weights are corrupt or truncated ({err})") from None
    ensure_attention_bias(model.config)
    return Bundle(model=model.to(where) if weights else model, processor=processor)


def ensure_attention_bias(config: Any) -> bool:
    """Mark a glm4v config's decoder as having q/k/v biases (it always has); True if the key was missing.

    Directories saved before thinkvl wrote the key lack it, and vLLM then drops the biases; loading one adds it, so
    the next `save_bundle` writes it."""
    text = getattr(config, "text_config", None)
    if getattr(config, "model_type", None) != "glm4v" or text is None or getattr(text, "attention_bias", None):
        return False
    text.attention_bias = True
    return True
