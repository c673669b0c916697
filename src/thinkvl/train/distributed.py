"""Devices, process groups, model wrapping and mixed precision for training under `torchrun` / `accelerate`.

Both launchers export RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR. A process trains on LOCAL_RANK's GPU when
CUDA is there (or on the device a config names) and on the CPU otherwise; the backend follows the device:
NCCL for CUDA tensors, gloo for CPU ones. A single process needs no launcher and no process group.

Wrapping: several processes train data parallel with DDP, or with FSDP2 (`fully_shard`, one unit per ViT block
and per decoder layer) when a model doesn't fit one device. Mixed precision keeps fp32 parameters and optimizer
state (the master weights) and computes in bf16: through FSDP2's `MixedPrecisionPolicy` when sharded, through
`torch.autocast` otherwise.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.distributed as dist

from thinkvl.model.device import resolve_device

__all__ = ["resolve_device"]  # re-exported: the model layer owns device choice

MixedPrecision = Literal["no", "bf16"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def backend_for(device: torch.device) -> str:
    """NCCL only carries CUDA tensors; everything else goes through gloo."""
    return "nccl" if device.type == "cuda" else "gloo"


def init_distributed(device: str | None = "auto") -> DistInfo:
    """Pick this process's device, and join the process group when launched with several processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    where = resolve_device(device, local)
    if where.type == "cuda":
        torch.cuda.set_device(where)
    if world == 1:
        return DistInfo(device=where)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend_for(where))
    return DistInfo(rank=dist.get_rank(), world=dist.get_world_size(), local_rank=local, device=where)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Move every tensor of a batch (non-blocking from pinned memory); other values pass through."""
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def all_reduce_sum(value: float, info: DistInfo) -> float:
    if info.world == 1:
        return value
    t = torch.tensor([float(value)], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return float(t.item())


def barrier(info: DistInfo) -> None:
    if info.world > 1:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    """Leave the process group together: a rank that tears down gloo while its peer still finishes its last
    collective or save can abort at exit ("terminate called without an active exception", seen once in a test)."""
    if info.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


# -- wrapping --------------------------------------------------------------------------------------------------
def shard_units(model: Any) -> list[Any]:
    """The FSDP units of a glm4v model, innermost first: every ViT block, the rest of the ViT (patch embedding,
    merger), every decoder layer; the root keeps the embeddings and LM head. The ViT is a unit of its own because
    the policy computes image features outside the root's forward."""
    visual = model.model.visual
    return [*visual.blocks, visual, *model.model.language_model.layers]


def enable_activation_checkpointing(model: Any) -> None:
    """Recompute each block's activations in the backward pass (transformers' per-layer checkpointing; the
    non-reentrant variant, which composes with FSDP2 and frozen parameters)."""
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x; older ones call it gradient_…
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False


def materialize(model: Any, device: torch.device) -> None:
    """Allocate the parameters of a model built on the meta device (uninitialised: a checkpoint's weights are
    loaded next), keeping its buffers, which no checkpoint holds; a no-op for a model that has its weights.

    After FSDP2's `fully_shard` only this rank's shards exist, so no rank ever holds the full model."""
    if not any(p.device.type == "meta" for p in model.parameters()):
        return
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    model.to_empty(device=device)
    with torch.no_grad():
        for name, b in model.named_buffers():
            b.copy_(buffers[name])


def wrap_model(model: Any, info: DistInfo, *, fsdp: bool, mixed_precision: MixedPrecision = "no") -> Any:
    """The module to train: the model itself (one process), DDP, or FSDP2 with the mixed-precision policy.

    The model must already be on ``info.device``, or on the meta device (`materialize`: allocated after sharding).
    FSDP2 shards in place: the returned object is ``model``."""
    if info.world == 1:
        materialize(model, info.device)
        return model
    if fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        policy = MixedPrecisionPolicy()
        if mixed_precision == "bf16":
            # Parameters are all-gathered and computed in bf16; gradients are reduced and kept in fp32.
            policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        for unit in shard_units(model):
            fully_shard(unit, mp_policy=policy)
        sharded = fully_shard(model, mp_policy=policy)
        # Image features are part of the model's output, so a rank with images runs the root's pre-backward
        # (when their gradient arrives) and a rank without never does. By default it would prefetch the last
        # decoder layer again, a collective on one rank only; the ViT, prefetched already, makes it a no-op.
        sharded.set_modules_to_backward_prefetch([model.model.visual])
        materialize(sharded, info.device)
        return sharded
    materialize(model, info.device)
    from torch.nn.parallel import DistributedDataParallel

    ids = [info.device.index] if info.device.type == "cuda" else None
    # find_unused_parameters: a text-only micro-batch leaves the ViT without gradients.
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def is_sharded(model: Any) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def autocast(model: Any, device: torch.device, mixed_precision: MixedPrecision) -> Any:
    """bf16 autocast where FSDP2's policy doesn't already cast (one process, or DDP); a no-op for fp32."""
    if mixed_precision != "bf16" or is_sharded(model):
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@contextmanager
def unsharded(model: Any) -> Iterator[None]:
    """Hold an FSDP2 model's full parameters for passes without gradient (rollouts, "old" log-probs), so that
    ranks may run different numbers of forward passes (each samples its own prompts, to its own lengths) with no
    collectives in between, and modules may be called outside the root's forward (the chunked LM head)."""
    if not is_sharded(model):
        yield
        return
    from torch.distributed.fsdp import FSDPModule

    # generate() runs the ViT outside the root's forward; the root must be initialised first, or the first ViT
    # block to run would take the root's place (FSDP2 has no public call for this).
    model._get_fsdp_state()._lazy_init()
    units = [m for m in model.modules() if isinstance(m, FSDPModule)]
    for m in units:
        m.set_reshard_after_forward(False, recurse=False)
        m.unshard()
    try:
        yield
    finally:
        for m in units:
            m.reshard()
            # FSDP2's defaults: the root keeps its parameters for the backward that follows; the others reshard.
            m.set_reshard_after_forward(m is not model, recurse=False)


def rank_chunks(indices: list[int], info: DistInfo, micro: int) -> list[list[int]]:
    """This rank's share of ``indices`` (every world-th) cut into micro-batches, as many on every rank.

    DDP and FSDP run collectives in every forward/backward, so every rank must run as many passes as the others;
    a rank with less work gets trailing empty chunks, for which the caller runs a zero-weight pass."""
    mine = indices[info.rank :: info.world]
    count = max(1, math.ceil(math.ceil(len(indices) / info.world) / micro))
    chunks = [mine[i : i + micro] for i in range(0, len(mine), micro)]
    return chunks + [[] for _ in range(count - len(chunks))]
