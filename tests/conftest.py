"""Shared fixtures: one tiny model bundle per session (building it takes about a second)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from thinkvl.model import Bundle, create_bundle

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def tiny_bundle() -> Bundle:
    bundle = create_bundle("tiny", seed=0)
    bundle.model.eval()
    return bundle


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """A directory with a few small images and an 8-frame video."""
    Image.new("RGB", (112, 84), "red").save(tmp_path / "red.png")
    for i in range(8):
        Image.new("RGB", (56, 56), (30 * i, 200, 0)).save(tmp_path / f"frame{i}.png")
    return tmp_path
