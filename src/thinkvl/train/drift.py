"""How far training has moved the weights: the relative L2 distance from where a run started.

Why: an RL run can log a reward curve, a KL and a clip fraction and still leave the policy where it was (the
first RLCS demo moved its weights 0.15% in 32 updates: every held-out delta it reported was noise). Logging the
distance from the starting weights makes a run that does not train visible at once.

The reference copy lives on the CPU (for a sharded model, each rank keeps its own shard), so it costs host memory
the size of one rank's parameters and one device-to-host copy per measurement.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
import torch.distributed as dist


def _local(p: torch.Tensor) -> torch.Tensor:
    """The part of a parameter this rank holds (an FSDP2 DTensor's shard, or the tensor itself)."""
    return p.to_local() if hasattr(p, "to_local") else p


class WeightDrift:
    """``relative_change()`` = ‖θ − θ₀‖ / ‖θ₀‖ over the given parameters, summed over ranks.

    >>> w = torch.nn.Parameter(torch.ones(4))
    >>> drift = WeightDrift([w])
    >>> with torch.no_grad():
    ...     _ = w.add_(torch.tensor([1.0, 1.0, 1.0, 1.0]))
    >>> drift.relative_change()
    1.0
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], start: Iterable[torch.Tensor] | None = None):
        self.params = [p for p in params if p.requires_grad]
        start = [_local(p) for p in self.params] if start is None else list(start)
        if len(start) != len(self.params) or any(s.shape != _local(p).shape for s, p in zip(start, self.params)):
            raise ValueError("WeightDrift: the start weights must match the trained parameters one for one, in shape")
        self.start = [s.detach().to("cpu", torch.float32, copy=True) for s in start]

    @classmethod
    def from_state_dict(cls, model: torch.nn.Module, start: Mapping[str, torch.Tensor]) -> WeightDrift:
        """Distance from ``start`` (a state dict of the same architecture), e.g. the model a resumed run began from."""
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        missing = [n for n, _ in named if n not in start]
        if missing:
            raise ValueError(f"WeightDrift: the start weights lack {len(missing)} parameters, e.g. {missing[0]}")
        return cls([p for _, p in named], [start[n] for n, _ in named])

    @torch.no_grad()
    def relative_change(self) -> float:
        moved = torch.zeros((), dtype=torch.float64)
        size = torch.zeros((), dtype=torch.float64)
        for p, p0 in zip(self.params, self.start):
            now = _local(p).detach().to("cpu", torch.float32)
            moved += (now - p0).double().pow(2).sum()
            size += p0.double().pow(2).sum()
        if dist.is_available() and dist.is_initialized():
            both = torch.stack([moved, size])
            device = self.params[0].device if self.params and dist.get_backend() == "nccl" else "cpu"
            both = both.to(device)
            dist.all_reduce(both)
            moved, size = both.cpu()
        return float(moved.sqrt() / size.sqrt().clamp_min(1e-30))
