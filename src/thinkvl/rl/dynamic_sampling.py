"""Dynamic sampling expansion (GLM-4.1V-Thinking, arXiv 2507.01006, §5; after DAPO, arXiv 2503.14476).

Why: a group whose G rewards are all equal (all right or all wrong) has zero group-normalised advantage, so it
costs a rollout and teaches nothing. Such groups are dropped, and the next iteration over-draws prompts by
``expansion_ratio = 1 / (1 − not_valid_rate)``, smoothed by an EMA and capped, so that about ``batch`` valid
groups remain. Unlike DAPO's "regenerate until full" loop, one over-draw per iteration bounds the cost: when
too few groups are valid the trainer logs the shortfall and trains on what there is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _check_rewards(rewards: Sequence[float], where: str) -> list[float]:
    values = []
    for r in rewards:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r):
            raise ValueError(f"{where}: rewards must be finite numbers, got {r!r}")
        values.append(float(r))
    return values


def group_is_valid(rewards: Sequence[float], atol: float = 1e-6) -> bool:
    """A group gives a gradient only when its rewards are not all equal (so it needs at least two).

    >>> group_is_valid([1, 0, 1]), group_is_valid([1, 1, 1]), group_is_valid([0.3])
    (True, False, False)
    """
    values = _check_rewards(rewards, "group_is_valid")
    return len(values) >= 2 and max(values) - min(values) > atol


@dataclass(frozen=True)
class GroupSelection:
    """Which groups to train on, and the counts to log."""

    indices: list[int]  # into the input groups, in input order
    num_groups: int
    num_valid: int
    needed: int

    @property
    def num_invalid(self) -> int:
        return self.num_groups - self.num_valid

    @property
    def not_valid_rate(self) -> float:
        return self.num_invalid / self.num_groups if self.num_groups else 0.0

    @property
    def shortfall(self) -> int:
        """How many valid groups were missing to reach ``needed`` (0 when enough came back)."""
        return max(self.needed - len(self.indices), 0)

    def metrics(self) -> dict[str, float]:
        return {
            "dynamic_sampling/groups": float(self.num_groups),
            "dynamic_sampling/valid_groups": float(self.num_valid),
            "dynamic_sampling/not_valid_rate": self.not_valid_rate,
            "dynamic_sampling/selected_groups": float(len(self.indices)),
            "dynamic_sampling/shortfall": float(self.shortfall),
        }


def select_groups(
    groups: Sequence[Sequence[float]],
    needed: int,
    *,
    pass_rates: Sequence[float] | None = None,
    atol: float = 1e-6,
) -> GroupSelection:
    """Drop groups with all-equal rewards; of the rest keep at most ``needed``, the most balanced first.

    ``groups`` holds each group's rewards. Balance is how near the group's pass rate is to 0.5 (``pass_rates``
    per group, default the mean reward), where the advantage signal is strongest; ties keep input order.
    Never fails for lack of valid groups: the selection is then short (see `GroupSelection.shortfall`).
    """
    if needed < 0:
        raise ValueError(f"needed must be >= 0, got {needed}")
    if pass_rates is not None and len(pass_rates) != len(groups):
        raise ValueError(f"got {len(pass_rates)} pass rates for {len(groups)} groups")
    valid: list[tuple[float, int]] = []
    for i, group in enumerate(groups):
        rewards = _check_rewards(group, f"group {i}")
        if len(rewards) >= 2 and max(rewards) - min(rewards) > atol:
            rate = sum(rewards) / len(rewards) if pass_rates is None else float(pass_rates[i])
            valid.append((abs(rate - 0.5), i))
    keep = sorted(i for _, i in sorted(valid)[:needed])
    return GroupSelection(indices=keep, num_groups=len(groups), num_valid=len(valid), needed=needed)


class ExpansionController:
    """Tracks ``expansion_ratio = 1 / (1 − not_valid_rate)`` as a capped EMA and sizes the next prompt draw.

    The first observation is taken as is (no bias toward 1.0 at the start, when an untrained policy makes most
    groups invalid); later ones are blended as ``ema = decay·ema + (1 − decay)·ratio``. Each ratio is capped
    before blending, so an iteration with no valid group at all moves the EMA to at most ``cap``.
    """

    def __init__(self, decay: float = 0.9, cap: float = 4.0):
        if not 0 <= decay < 1:
            raise ValueError(f"expansion EMA decay must be in [0, 1), got {decay!r}")
        if not (math.isfinite(cap) and cap >= 1):
            raise ValueError(f"expansion cap must be a finite number >= 1, got {cap!r}")
        self.decay, self.cap = float(decay), float(cap)
        self.ratio_ema = 1.0
        self.observations = 0

    def ratio(self, num_invalid: int, num_groups: int) -> float:
        """This iteration's capped expansion ratio (no state change)."""
        if not 0 <= num_invalid <= num_groups:
            raise ValueError(f"need 0 <= num_invalid <= num_groups, got {num_invalid} of {num_groups}")
        if num_groups == 0:
            return 1.0
        valid_rate = 1 - num_invalid / num_groups
        return self.cap if valid_rate <= 1 / self.cap else 1 / valid_rate

    def observe(self, num_invalid: int, num_groups: int) -> float:
        """Fold one iteration's not-valid count into the EMA; returns the new ``ratio_ema``.

        An iteration that produced no groups carries no information and leaves the EMA as it is.
        """
        ratio = self.ratio(num_invalid, num_groups)
        if num_groups == 0:
            return self.ratio_ema
        if self.observations == 0:
            self.ratio_ema = ratio
        else:
            self.ratio_ema = self.decay * self.ratio_ema + (1 - self.decay) * ratio
        self.observations += 1
        return self.ratio_ema

    def prompts_to_draw(self, batch: int) -> int:
        """``ceil(batch × ratio_ema)``: how many prompts to roll out to end with about ``batch`` valid groups."""
        if batch < 0:
            raise ValueError(f"batch must be >= 0, got {batch}")
        # The epsilon keeps float noise (e.g. 16 × 1.2500000000000002) from adding a whole prompt.
        return math.ceil(batch * self.ratio_ema - 1e-9)

    def metrics(self) -> dict[str, float]:
        return {"dynamic_sampling/expansion_ratio": self.ratio_ema}

    def state_dict(self) -> dict[str, Any]:
        return {"ratio_ema": self.ratio_ema, "observations": self.observations}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict` output; a cap lowered since the checkpoint applies at once."""
        ratio, count = state.get("ratio_ema"), state.get("observations")
        ok_ratio = isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio >= 1 and ratio < math.inf
        if not ok_ratio or isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"bad expansion state {dict(state)!r:.120}: need ratio_ema >= 1 and observations >= 0")
        self.ratio_ema, self.observations = min(float(ratio), self.cap), count
