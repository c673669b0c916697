"""Typed options of the verl plug-ins (``data.rlcs``, ``trainer.v1.sampler.sampler_kwargs``) with `RLConfig`'s
curriculum and expansion fields, defaults and checks; read by the one config loader. No verl import."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from thinkvl.config import check_values, from_mapping
from thinkvl.config import option as _f
from thinkvl.rl.config import CurriculumOptions, ExpansionOptions

Options = TypeVar("Options")
SHARED = "name under which the dataset and the replay buffer share one curriculum (one process-wide registry)"


@dataclass
class DatasetOptions(CurriculumOptions):
    """``data.rlcs``: the curriculum `RLCSDataset` draws prompts from."""

    curriculum_name: str = _f("rlcs", SHARED)
    grades: str | None = _f(None, "`thinkvl grade`'s output file: the starting tiers (null: every record medium)")
    seed: int = _f(0, "seed of the curriculum's weighted draws")

    def __post_init__(self) -> None:
        check_values(self)
        self.check_curriculum_options()
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass
class SamplerOptions(ExpansionOptions):
    """``trainer.v1.sampler.sampler_kwargs``: how `RLCSReplayBuffer` over-draws, waits and keeps state."""

    curriculum_name: str = _f("rlcs", SHARED)
    state_dir: str | None = _f(None, "where curriculum and expansion state are saved each step (null: nowhere)")
    gen_batch_size: int = _f(1, "verl's data.gen_batch_size: prompts are over-drawn in whole fetches of this many")
    max_refill_rounds: int = _f(2, "extra draws when fewer groups than the batch have a reward spread")
    correct_field: str = _f("acc", "reward_extra_info key holding a rollout's correctness (else its reward)")
    timeout_s: float = _f(0.0, "most seconds to wait for a step's groups (0: as long as verl's own buffer does)")
    poll_interval: float | None = _f(None, "seconds between polls of TransferQueue (null: verl's default)")

    def __post_init__(self) -> None:
        check_values(self)
        self.check_expansion_options()
        if self.gen_batch_size < 1 or self.max_refill_rounds < 0 or self.timeout_s < 0:
            raise ValueError("gen_batch_size must be >= 1, max_refill_rounds and timeout_s >= 0")
        if self.poll_interval is not None and self.poll_interval <= 0:
            raise ValueError(f"poll_interval must be > 0 seconds, got {self.poll_interval}")


def read_options(cls: type[Options], node: Any, where: str) -> Options:
    """``cls`` from a verl config node: an OmegaConf mapping, a dict, or None (all defaults)."""
    if hasattr(node, "_metadata"):  # an OmegaConf container: plain values, interpolations resolved
        from omegaconf import OmegaConf

        node = OmegaConf.to_container(node, resolve=True)
    return from_mapping(cls, dict(node or {}), where=where)
