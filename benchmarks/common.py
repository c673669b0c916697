"""What several benchmarks share. Benchmarks run as scripts (`python benchmarks/x.py`), so this imports as `common`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_threads_argument(ap: argparse.ArgumentParser) -> None:
    """``--threads`` (default 1): on a small machine shared with other jobs, more torch threads than free cores
    makes every parallel op wait for a descheduled thread — about 10x slower on the 2-core machines here."""
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see benchmarks/common.py)")


def perturbed_tiny_model(directory: Path, **create: Any) -> Path:
    """A fresh tiny glm4v with trained-like weights (non-zero biases, less uniform outputs, answers that vary in
    length), saved in ``directory``: for engine benchmarks that run without a trained model."""
    import torch

    from thinkvl.model import create_bundle, save_bundle

    bundle = create_bundle("tiny", seed=0, **create)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in bundle.model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return save_bundle(bundle, directory)
