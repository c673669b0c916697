"""Shared fixtures: one tiny model bundle per session (building it takes about a second), the benchmark files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from thinkvl.model import Bundle, create_bundle

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BENCHDATA = SHARED / "benchdata"


@pytest.fixture(scope="session")
def benchdata() -> Path:
    """Real benchmark outputs with their official scores (MathVista, MMMU, OCRBench, ChartQA files), kept in
    shared/benchdata beside the repository rather than in it: they are the benchmarks' own files, not ours to
    redistribute. A clone without them skips these tests with this reason; CI, which has shared/, must run them."""
    if not BENCHDATA.is_dir():
        message = f"benchmark files not found at {BENCHDATA} (shared/benchdata beside the repository)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the benchmark-agreement tests")
        pytest.skip(message)
    return BENCHDATA


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
