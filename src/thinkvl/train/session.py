"""One training session for the supervised stages and RLCS: the wrapped model, AdamW and its schedule, resumed,
saved and exported, so optimizer state moves between a wrapped model and a checkpoint in one place. Under FSDP a
checkpoint is sharded (DCP) unless ``sharded_checkpoints`` is off; then it is gathered whole to rank 0 and resuming
scatters the optimizer state back into the shards (``set_optimizer_state_dict``; a plain ``load_state_dict`` can't).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from thinkvl.model.bundle import Bundle, load_bundle, save_bundle
from thinkvl.train import checkpoint as C
from thinkvl.train import distributed as D


def load_for_training(model: str | Path, checkpoint: Path | None, **kw: Any) -> Bundle:
    """``checkpoint``'s model when resuming (a sharded one's weights are loaded by `Session.resume`), else
    ``model``'s."""
    if checkpoint is None:
        return load_bundle(model, **kw)
    return load_bundle(checkpoint / "model", weights=not C.is_sharded_checkpoint(checkpoint), **kw)


@dataclass
class Session:
    bundle: Bundle
    model: Any  # what trains: the bundle's model, or DDP / FSDP2 around it (FSDP2 shards the bundle's in place)
    params: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    info: D.DistInfo
    cfg: Any  # a StageConfig or RLConfig: fsdp, sharded_checkpoints, keep_last

    def resume(self, checkpoint: Path) -> dict[str, Any]:
        """Optimizer, schedule and RNG as ``checkpoint`` saved them; returns its state for the trainer's own parts
        (every rank calls it)."""
        state = C.load_state(checkpoint)
        if "scheduler" not in state:
            raise ValueError(f"{checkpoint}: written by an older thinkvl without session state; start a new run")
        if C.is_sharded_checkpoint(checkpoint):
            C.load_sharded(checkpoint, self.model, self.optimizer)
        elif D.is_sharded(self.model):
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            full = StateDictOptions(full_state_dict=True)
            set_optimizer_state_dict(self.model, self.optimizer, state["optimizer"], options=full)
        else:
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        C.set_rng_state(state["rng"])
        return state

    def save(self, directory: Path, state: dict[str, Any]) -> None:
        """``state`` and the session's: sharded under FSDP, else gathered to rank 0 (every rank calls it)."""
        D.barrier(self.info)
        state = {**state, "scheduler": self.scheduler.state_dict(), "rng": C.rng_state()}
        keep, weights = self.cfg.keep_last, None
        if D.is_sharded(self.model) and self.cfg.sharded_checkpoints:
            C.save_sharded_checkpoint(directory, self.bundle, state, keep, self.model, self.optimizer, self.info)
            return
        if D.is_sharded(self.model):
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

            full = StateDictOptions(full_state_dict=True, cpu_offload=True)
            weights, state["optimizer"] = get_state_dict(self.model, self.optimizer, options=full)
        else:
            state["optimizer"] = self.optimizer.state_dict()
        if self.info.is_main:
            C.save_checkpoint(directory, self.bundle, state, keep, weights)
        D.barrier(self.info)

    def export(self, directory: Path) -> None:
        """The model as a plain transformers directory, its full weights gathered (every rank calls it)."""
        weights = None
        if D.is_sharded(self.model):
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            full = StateDictOptions(full_state_dict=True, cpu_offload=True)
            weights = get_model_state_dict(self.model, options=full)
        if self.info.is_main:
            save_bundle(self.bundle, directory, state_dict=weights)


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float) -> Callable[[int], float]:
    """The learning-rate factor of both trainers: linear warm-up over ``warmup_steps``, then a cosine from 1 to
    ``min_ratio`` at ``total_steps`` (constant after it; ``min_ratio`` 1.0 keeps the rate constant)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def start_session(
    bundle: Bundle, info: D.DistInfo, cfg: Any, schedule: Callable[[int], float], betas: tuple = (0.9, 0.999)
) -> Session:
    """Wrap ``bundle.model`` for this process (``cfg``: fsdp, mixed_precision, activation_checkpointing) and
    build AdamW (lr, weight_decay) over its trainable parameters with the learning-rate factor ``schedule(step)``."""
    if cfg.activation_checkpointing:
        D.enable_activation_checkpointing(bundle.model)
    # FSDP2 shards in place, so the optimizer is built after wrapping.
    model = D.wrap_model(bundle.model, info, fsdp=cfg.fsdp, mixed_precision=cfg.mixed_precision)
    params = [p for p in bundle.model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=betas)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    return Session(bundle, model, params, optimizer, scheduler, info, cfg)
