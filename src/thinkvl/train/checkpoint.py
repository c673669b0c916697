"""Atomic checkpoints: a model directory plus trainer state, complete or absent — never half-written.

A checkpoint is written into a hidden temporary directory, marked complete last, then renamed into place;
`latest_checkpoint` only trusts directories carrying the marker. Trainer state is loaded with
``weights_only=True`` (tensors and plain containers only: nothing executable is unpickled).
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from thinkvl.model.bundle import Bundle, save_bundle

MARKER = "COMPLETE"
STATE_FILE = "trainer_state.pt"


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]), "python_pos": random.getstate()[2]}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(int(x) for x in state["python"]), state["python_pos"]))


def save_checkpoint(
    directory: str | Path, bundle: Bundle, state: dict[str, Any], keep_last: int, weights: dict | None = None
) -> Path:
    """Write ``directory`` atomically (model dir + ``trainer_state.pt``), then prune old siblings."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        save_bundle(bundle, tmp / "model", state_dict=weights)
        torch.save(state, tmp / STATE_FILE)
        (tmp / MARKER).write_text("ok\n")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    complete = sorted(p for p in directory.parent.iterdir() if (p / MARKER).is_file())
    for old in complete[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return directory


def remove_partial(parent: str | Path) -> list[Path]:
    """Delete the hidden temporary directories a save killed midway left under ``parent`` (each as large as a
    checkpoint); returns what was removed. Only this module writes there, and only into hidden names."""
    parent = Path(parent)
    leftovers = [p for p in parent.iterdir() if p.name.startswith(".") and p.is_dir()] if parent.is_dir() else []
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return leftovers


def latest_checkpoint(parent: str | Path) -> Path | None:
    """The newest complete checkpoint under ``parent`` (names sort by step), or None. Called at start-up, it also
    clears what an interrupted save left behind (`remove_partial`)."""
    parent = Path(parent)
    if not parent.is_dir():
        return None
    remove_partial(parent)
    complete = sorted(p for p in parent.iterdir() if not p.name.startswith(".") and (p / MARKER).is_file())
    return complete[-1] if complete else None


def load_state(checkpoint: str | Path) -> dict[str, Any]:
    return torch.load(Path(checkpoint) / STATE_FILE, weights_only=True)
