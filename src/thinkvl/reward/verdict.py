"""What the reward system returns: a verifier's `Check` and the full `Verdict` for one response.

A verdict carries everything needed to audit a reward after the fact (what was read from the box, whether the
format passed, every penalty by name, a short reason), so a hacked verifier shows up in logs, not only in curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


class RewardError(ValueError):
    """A request the reward system refuses: unknown domain, unverifiable domain, malformed ground truth."""


@dataclass(frozen=True)
class Check:
    """One verifier's judgement of an extracted answer: a score in [0, 1], correctness, and why."""

    score: float
    correct: bool
    reason: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"a verifier score must be in [0, 1], got {self.score}")


@dataclass
class Verdict:
    """The reward for one response, with how it was reached."""

    reward: float
    correct: bool
    extracted: str | None
    format_ok: bool
    penalties: dict[str, float] = field(default_factory=dict)
    domain: str = ""
    reason: str = ""
    score: float = 0.0  # the verifier's raw score in [0, 1], before range mapping and penalties
    judge: float | None = None  # the LLM judge's score when one was consulted

    def to_dict(self) -> dict[str, Any]:
        # Field by field rather than dataclasses.asdict (a recursive deep copy, 10x slower): workers send one per task.
        return {name: getattr(self, name) for name in _VERDICT_FIELDS} | {"penalties": dict(self.penalties)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(**data)


_VERDICT_FIELDS = tuple(f.name for f in fields(Verdict))
