"""One training session for both trainers: build (the model wrapped for this process, AdamW, its schedule),
resume from a checkpoint, save one, and export the trained model.

The supervised stages (`thinkvl.train.trainer`) and RLCS (`thinkvl.rl`) train the same bundle under DDP or FSDP2
and checkpoint it the same way; this is the one place that moves optimizer state between a wrapped model and a
checkpoint. Under FSDP a checkpoint is sharded (DCP, `checkpoint.save_sharded_checkpoint`) unless
``sharded_checkpoints`` is off: then model and optimizer state are gathered whole to rank 0, and resuming scatters
the optimizer state back into the shards (``set_optimizer_state_dict``), which a plain ``load_state_dict`` can't.

A checkpoint's trainer state holds the session's ``scheduler``, ``rng`` and (full checkpoints) ``optimizer``, beside
whatever the trainer adds (its step, data position, curriculum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from thinkvl.model.bundle import Bundle, load_bundle, save_bundle
from thinkvl.train import distributed as D
from thinkvl.train.checkpoint import (
    is_sharded_checkpoint,
    load_sharded,
    load_state,
    rng_state,
    save_checkpoint,
    save_sharded_checkpoint,
    set_rng_state,
)


class SessionConfig(Protocol):
    """The fields a session reads: `StageConfig` and `RLConfig` both have them."""

    fsdp: bool
    sharded_checkpoints: bool
    mixed_precision: D.MixedPrecision
    activation_checkpointing: bool
    lr: float
    weight_decay: float
    keep_last: int


def load_for_training(model: str | Path, checkpoint: Path | None, **kw: Any) -> Bundle:
    """The bundle to train: ``checkpoint``'s model when resuming (its weights come later from the shards of a
    sharded checkpoint), else ``model``'s directory."""
    if checkpoint is None:
        return load_bundle(model, **kw)
    return load_bundle(checkpoint / "model", weights=not is_sharded_checkpoint(checkpoint), **kw)


@dataclass
class Session:
    bundle: Bundle
    model: Any  # what trains: the bundle's model, or DDP / FSDP2 around it (FSDP2 shards the bundle's in place)
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    info: D.DistInfo
    cfg: SessionConfig

    @property
    def sharded(self) -> bool:
        return D.is_sharded(self.model)

    def resume(self, checkpoint: Path) -> dict[str, Any]:
        """Put optimizer, schedule and RNG back as ``checkpoint`` saved them; returns its state for the trainer's
        own parts. Every rank calls it."""
        state = load_state(checkpoint)
        if "scheduler" not in state:
            raise ValueError(f"{checkpoint}: written by an older thinkvl without session state; start a new run")
        if is_sharded_checkpoint(checkpoint):
            load_sharded(checkpoint, self.model, self.optimizer)
        elif self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            options = StateDictOptions(full_state_dict=True)
            set_optimizer_state_dict(self.model, self.optimizer, state["optimizer"], options=options)
        else:
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        return state

    def save(self, directory: Path, state: dict[str, Any]) -> None:
        """A checkpoint of ``state`` plus the session's: sharded under FSDP (each rank writes its part), else
        gathered and written by rank 0. Every rank calls it."""
        D.barrier(self.info)
        state = {**state, "scheduler": self.scheduler.state_dict(), "rng": rng_state()}
        if self.sharded and self.cfg.sharded_checkpoints:
            save_sharded_checkpoint(
                directory, self.bundle, state, self.cfg.keep_last, self.model, self.optimizer, self.info
            )
            return
        weights = None
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            weights, state["optimizer"] = get_state_dict(self.model, self.optimizer, options=options)
        else:
            state["optimizer"] = self.optimizer.state_dict()
        if self.info.is_main:
            save_checkpoint(directory, self.bundle, state, self.cfg.keep_last, weights)
        D.barrier(self.info)

    def export(self, directory: Path) -> None:
        """The trained model as a plain transformers directory, written by rank 0; under FSDP the full weights
        are gathered first. Every rank calls it."""
        weights = None
        if self.sharded:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            weights = get_model_state_dict(self.model, options=options)
        if self.info.is_main:
            save_bundle(self.bundle, directory, state_dict=weights)


def start_session(
    bundle: Bundle,
    info: D.DistInfo,
    cfg: SessionConfig,
    schedule: Callable[[int], float],
    betas: tuple[float, float] = (0.9, 0.999),
) -> Session:
    """Wrap ``bundle.model`` for this process (DDP, FSDP2 or itself) and build AdamW over its trainable parameters
    with the learning-rate factor ``schedule(step)``. Freeze parameters before: the optimizer skips frozen ones."""
    if cfg.activation_checkpointing:
        D.enable_activation_checkpointing(bundle.model)
    # FSDP2 shards in place, so the optimizer is built after wrapping.
    model = D.wrap_model(bundle.model, info, fsdp=cfg.fsdp, mixed_precision=cfg.mixed_precision)
    params = [p for p in bundle.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    return Session(bundle, model, params, optimizer, scheduler, info, cfg)
