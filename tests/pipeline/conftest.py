"""Fixtures of the pipeline tests; the data builders live in pipeline_testdata.py (importable by the tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import pipeline_testdata (pytest runs in importlib mode)

from pipeline_testdata import DatasetBuilder, build_messy_dataset  # noqa: E402


@pytest.fixture
def messy(tmp_path: Path) -> DatasetBuilder:
    b = build_messy_dataset(tmp_path / "raw")
    b.finish()
    return b
