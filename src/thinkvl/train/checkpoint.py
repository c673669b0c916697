"""Atomic checkpoints: a model directory plus trainer state, complete or absent — never half-written.

A checkpoint is written into a hidden temporary directory, marked complete last, then renamed into place;
`latest_checkpoint` only trusts directories carrying the marker. Trainer state is loaded with
``weights_only=True`` (tensors and plain containers only: nothing executable is unpickled).

Under FSDP a checkpoint is sharded: every rank writes its own part of the model and optimizer state with
`torch.distributed.checkpoint` (DCP) into ``dcp/`` and nothing is gathered; ``model/`` then holds the config and
processor only. DCP reshards on load, so a run may resume on a different number of processes (or on one).
The run's final model is still exported whole, as a plain transformers directory.
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
from thinkvl.train import distributed as D

MARKER = "COMPLETE"
STATE_FILE = "trainer_state.pt"
SHARDS = "dcp"


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]), "python_pos": random.getstate()[2]}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(int(x) for x in state["python"]), state["python_pos"]))


def _publish(tmp: Path, directory: Path, keep_last: int) -> None:
    """Mark ``tmp`` complete, rename it to ``directory`` and prune all but the newest ``keep_last``."""
    (tmp / MARKER).write_text("ok\n")
    if directory.exists():
        shutil.rmtree(directory)
    os.replace(tmp, directory)
    complete = sorted(p for p in directory.parent.iterdir() if (p / MARKER).is_file())
    for old in complete[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


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
        _publish(tmp, directory, keep_last)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


def save_sharded_checkpoint(
    directory: str | Path,
    bundle: Bundle,
    state: dict[str, Any],
    keep_last: int,
    model: Any,
    optimizer: Any,
    info: D.DistInfo,
) -> Path:
    """Every rank writes its shard of model + optimizer state (a collective: all ranks call it); rank 0 adds
    the trainer state, the config and processor, and publishes the directory atomically once all are written.

    The ranks must share a filesystem (one host, or a shared mount across nodes)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict

    directory = Path(directory)
    tmp = directory.with_name(f".{directory.name}.partial")  # a name every rank agrees on
    if info.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    D.barrier(info)
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state}, checkpoint_id=tmp / SHARDS)
    if info.is_main:
        try:
            save_model_files(bundle, tmp / "model")
            torch.save(state, tmp / STATE_FILE)
            _publish(tmp, directory, keep_last)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    D.barrier(info)
    return directory


def save_model_files(bundle: Bundle, directory: Path) -> None:
    """A model directory without weights (config, generation config, processor): a sharded checkpoint's weights
    live in its DCP shards."""
    directory.mkdir(parents=True, exist_ok=True)
    bundle.model.config.save_pretrained(directory)
    if bundle.model.generation_config is not None:
        bundle.model.generation_config.save_pretrained(directory)
    bundle.processor.save_pretrained(directory)


def is_sharded_checkpoint(checkpoint: str | Path) -> bool:
    return (Path(checkpoint) / SHARDS).is_dir()


def load_sharded(checkpoint: str | Path, model: Any, optimizer: Any) -> None:
    """Load a sharded checkpoint into ``model`` (plain, DDP or FSDP2, on any number of processes) and its
    optimizer; DCP reads each rank's part from whichever shards hold it."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    model_state, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optimizer_state}
    dcp.load(state, checkpoint_id=Path(checkpoint) / SHARDS)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])


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
