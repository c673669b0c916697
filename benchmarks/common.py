"""What several benchmarks share. Benchmarks run as scripts (`python benchmarks/x.py`), so this imports as `common`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_threads_argument(ap: argparse.ArgumentParser) -> None:
    """``--threads`` (default 1): on a small machine shared with other jobs, more torch threads than free cores
    makes every parallel op wait for a descheduled thread — about 10x slower on the 2-core machines here."""
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1; see benchmarks/common.py)")


def add_model_and_data_arguments(ap: argparse.ArgumentParser, records: int, records_help: str) -> None:
    """``--model``, ``--data`` and ``--records``: what `model_and_records` takes."""
    ap.add_argument("--model", help="a model directory (default: a fresh tiny glm4v with perturbed weights)")
    ap.add_argument("--data", help="a records directory (default: built-in video, counting and chart records)")
    ap.add_argument("--records", type=int, default=records, help=records_help)


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


def model_and_records(model: str | None, data: str | None, records: int, tmp: Path) -> tuple[Path, Any]:
    """What a rollout benchmark rolls out: the given model directory and records directory, or a perturbed tiny
    model and ``records`` built-in video, counting and chart records (video prompts are the longest; the engine
    batches each modality apart), written under ``tmp``."""
    from thinkvl.data.loaders import load_records
    from thinkvl.data.synth.writer import write_dataset

    model_dir = Path(model) if model else perturbed_tiny_model(tmp / "model")
    if data:
        return model_dir, load_records(data)
    write_dataset(tmp / "data", domains=["video", "counting", "chart"], n=max(1, records // 3), seed=0, levels=[0])
    return model_dir, load_records(tmp / "data")


def alternating(names: list[str], rounds: int) -> list[tuple[int, str]]:
    """(round, side) in the order to run them: the sides swap places every round, so a machine that speeds up or
    slows down during the run weighs on both alike."""
    return [(rnd, name) for rnd in range(rounds) for name in (names if rnd % 2 == 0 else names[::-1])]


def timed_rollouts(engine: Any, records: list[Any], root: Any, params: Any, seed: int) -> tuple[list[Any], float]:
    """One engine's rollouts of ``records`` from a fixed sampling seed, and the seconds they took."""
    import time

    import torch

    torch.manual_seed(seed)
    start = time.perf_counter()
    rollouts = engine.generate(records, root, params)
    return rollouts, time.perf_counter() - start
