"""Which device a process runs its model on: the model layer's answer, shared by every command."""

from __future__ import annotations

import os

import torch


def resolve_device(requested: str | None = "auto", local_rank: int | None = None) -> torch.device:
    """'auto' (or None): LOCAL_RANK's GPU when CUDA is available, else the CPU; otherwise the named device.

    A named CUDA device without CUDA is an error, not a silent fall back to the CPU."""
    if local_rank is None:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if requested in (None, "", "auto"):
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {requested!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {requested!r} asked for, but CUDA is not available here")
        if device.index is None:  # plain 'cuda' under torchrun: this process's GPU
            device = torch.device(f"cuda:{local_rank}")
    return device
