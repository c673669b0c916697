"""Helpers for the tests against real vLLM: engine settings for 2 CPU cores, perturbed weights, engine start/stop."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import torch

# Set before vLLM is imported.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")

from thinkvl.model import Bundle  # noqa: E402
from thinkvl.model.vllm_engine import CPU_SETTINGS, VLLMEngine  # noqa: E402

# Small enough for the engine's start-up and KV cache on a CPU; long enough for the prompts here.
ENGINE_SETTINGS = {**CPU_SETTINGS, "max_model_len": 1024, "max_num_seqs": 16, "seed": 0}


def perturb(model: torch.nn.Module, scale: float = 0.05, seed: int = 1) -> None:
    """Move every parameter (biases included) by seeded noise, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)


def make_engine(bundle: Bundle, directory: Path) -> VLLMEngine:
    return VLLMEngine(bundle, directory, **ENGINE_SETTINGS)


def shutdown(engine: VLLMEngine) -> None:
    """Stop the engine's process now, so that two engines never hold the 2 cores' memory at once."""
    if engine.llm is not None:
        engine.llm.llm_engine.engine_core.shutdown()
        engine.llm = None
        gc.collect()
