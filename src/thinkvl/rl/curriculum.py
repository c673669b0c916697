"""Curriculum sampling for RLCS (GLM-4.1V-Thinking, arXiv 2507.01006, §5 "RLCS").

Why: a prompt the policy always solves, or never solves, yields a GRPO group whose rewards are all equal and so
no gradient. The report grades every prompt's difficulty offline (pass@k of existing models → tiers very easy …
very hard), keeps the grade current online from the policy's own rollouts, and re-sets sampling weights every
iteration: prompts that are too easy, or too hard *for the current policy*, are drawn less; medium ones more.

Pieces:
- `tier_of` maps a pass rate to a tier through configurable lower bounds.
- `grade_records` builds the offline grades, merging a record's ``difficulty`` label as a prior (see there);
  `write_grades` / `read_grades` store them as JSON lines (``thinkvl grade`` → ``thinkvl rl`` and verl).
- `CurriculumSampler` is a `torch.utils.data.Sampler` over dataset indices: `update(record_ids, rewards)` after
  each rollout batch, `reset_weights()` once per iteration, `sample(n)` (or iterate it from a DataLoader).
  Its state is plain JSON for checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Sampler

TIERS: tuple[str, ...] = ("very_easy", "easy", "medium", "hard", "very_hard")
# Records with neither a measured pass rate nor a label. They are sampled like medium ones: until the policy has
# tried them, nothing says they are uninformative.
UNGRADED = "ungraded"
# Lower bound of the pass rate for each tier but the last; anything below "hard" is "very_hard". With pass@8:
# 8/8 very easy, 6–7/8 easy, 3–5/8 medium, 1–2/8 hard, 0/8 very hard.
DEFAULT_TIER_THRESHOLDS: dict[str, float] = {"very_easy": 0.9, "easy": 0.65, "medium": 0.35, "hard": 0.05}
# Relative sampling weight per tier: medium up, the extremes down (never to zero: see `floor`).
DEFAULT_TIER_WEIGHTS: dict[str, float] = {"very_easy": 0.1, "easy": 0.5, "medium": 1.0, "hard": 0.5, "very_hard": 0.1}
# Curriculum off (plain GRPO baseline): every record equally likely, tiers still tracked for logging.
UNIFORM_TIER_WEIGHTS: dict[str, float] = dict.fromkeys(TIERS, 1.0)

# str or int, so the curriculum state stays plain JSON.
RecordId = str | int


def check_thresholds(thresholds: Mapping[str, float]) -> dict[str, float]:
    """Validate tier lower bounds: one per tier except very_hard, in (0, 1], strictly decreasing."""
    expected = set(TIERS[:-1])
    if set(thresholds) != expected:
        raise ValueError(f"tier thresholds need exactly the keys {sorted(expected)}, got {sorted(thresholds)}")
    values = [thresholds[t] for t in TIERS[:-1]]
    for tier, v in zip(TIERS[:-1], values, strict=True):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= 1):
            raise ValueError(f"tier threshold {tier!r} must be a number in (0, 1], got {v!r}")
    if any(a <= b for a, b in pairwise(values)):
        raise ValueError(f"tier thresholds must decrease from very_easy to hard, got {dict(thresholds)}")
    return {t: float(thresholds[t]) for t in TIERS[:-1]}


def check_tier_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Validate per-tier sampling weights: one per tier, finite and >= 0."""
    if set(weights) != set(TIERS):
        raise ValueError(f"tier weights need exactly the keys {list(TIERS)}, got {sorted(weights)}")
    for tier in TIERS:
        v = weights[tier]
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0):
            raise ValueError(f"tier weight {tier!r} must be a finite number >= 0, got {v!r}")
    return {t: float(weights[t]) for t in TIERS}


def _check_rate(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value <= 1):
        raise ValueError(f"{what} must be a number in [0, 1], got {value!r}")
    return float(value)


def tier_of(pass_rate: float, thresholds: Mapping[str, float] | None = None) -> str:
    """The tier of a pass rate: the first tier (easiest first) whose lower bound it reaches.

    >>> tier_of(1.0), tier_of(0.5), tier_of(0.125), tier_of(0.0)
    ('very_easy', 'medium', 'hard', 'very_hard')
    """
    p = _check_rate(pass_rate, "pass rate")
    bounds = DEFAULT_TIER_THRESHOLDS if thresholds is None else thresholds
    for tier in TIERS[:-1]:
        if p >= bounds[tier]:
            return tier
    return TIERS[-1]


def label_to_pass_rate(label: int, label_range: tuple[int, int] = (1, 5)) -> float:
    """A difficulty label read as a prior pass rate: the easiest label is 1.0, the hardest 0.0, linear between.

    >>> label_to_pass_rate(1), label_to_pass_rate(3), label_to_pass_rate(5)
    (1.0, 0.5, 0.0)
    """
    lo, hi = label_range
    if not lo < hi:
        raise ValueError(f"difficulty label range must be (easiest, hardest) with easiest < hardest, got {label_range}")
    if isinstance(label, bool) or not isinstance(label, int) or not lo <= label <= hi:
        raise ValueError(f"difficulty label must be an integer in [{lo}, {hi}], got {label!r}")
    return 1.0 - (label - lo) / (hi - lo)


@dataclass(frozen=True)
class GradeEntry:
    """One record's offline grade.

    ``pass_rate`` is what a model measured (None when only a label exists), ``label`` the record's own
    ``difficulty``, ``estimate`` the merged pass rate that seeds the online curriculum, ``tier`` its tier.
    """

    pass_rate: float | None
    label: int | None
    estimate: float
    tier: str

    def to_dict(self) -> dict[str, Any]:
        return {"pass_rate": self.pass_rate, "label": self.label, "estimate": self.estimate, "tier": self.tier}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradeEntry:
        if not isinstance(data, Mapping) or "estimate" not in data or "tier" not in data:
            raise ValueError(f"a grade entry needs at least 'estimate' and 'tier', got {data!r:.120}")
        if data["tier"] not in TIERS:
            raise ValueError(f"unknown tier {data['tier']!r}; known: {', '.join(TIERS)}")
        pass_rate = data.get("pass_rate")
        return cls(
            pass_rate=None if pass_rate is None else _check_rate(pass_rate, "grade pass_rate"),
            label=data.get("label"),
            estimate=_check_rate(data["estimate"], "grade estimate"),
            tier=data["tier"],
        )


def read_grades(path: str | Path) -> dict[RecordId, GradeEntry]:
    """A `thinkvl grade` file: JSON lines of ``{"id": …, **GradeEntry.to_dict()}``. A bad line is a one-line
    `ValueError` naming the file and the line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"grades: can't read {path}: {err}") from None
    grades: dict[RecordId, GradeEntry] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("id"), (str, int)):
                raise ValueError("not a JSON object with an 'id'")
            grades[row["id"]] = GradeEntry.from_dict({k: v for k, v in row.items() if k != "id"})
        except (ValueError, TypeError, RecursionError) as err:
            raise ValueError(f"grades: {path} line {number}: {str(err).splitlines()[0]}") from None
    return grades


def write_grades(path: str | Path, grades: Mapping[RecordId, GradeEntry]) -> None:
    """Write grades as `read_grades` reads them (atomically: a reader never sees half a file)."""
    from thinkvl.data.loaders import atomic_write_text

    atomic_write_text(path, "".join(json.dumps({"id": rid, **g.to_dict()}) + "\n" for rid, g in grades.items()))


def grade_records(
    pass_rates: Mapping[RecordId, float],
    labels: Mapping[RecordId, int | None] | None = None,
    *,
    thresholds: Mapping[str, float] | None = None,
    label_range: tuple[int, int] = (1, 5),
    label_weight: float = 0.25,
) -> dict[RecordId, GradeEntry]:
    """Offline grades from measured pass rates (pass@k) and optional ``difficulty`` labels.

    How a label is merged: it is read as a prior pass rate (`label_to_pass_rate`) and the estimate is
    ``(1 - label_weight) * measured + label_weight * prior``: the measurement, made on a model close to the
    policy, dominates; the label nudges borderline records. With a label only, the estimate is the prior; with
    a measurement only, the measurement. Records with neither get no entry (the sampler calls them ungraded).
    """
    bounds = check_thresholds(thresholds if thresholds is not None else DEFAULT_TIER_THRESHOLDS)
    if not 0 <= label_weight <= 1:
        raise ValueError(f"label_weight must be in [0, 1], got {label_weight!r}")
    labels = labels or {}
    grades: dict[RecordId, GradeEntry] = {}
    for rid in list(pass_rates) + [r for r in labels if r not in pass_rates]:
        measured = pass_rates.get(rid)
        label = labels.get(rid)
        if measured is None and label is None:
            continue
        if measured is not None:
            measured = _check_rate(measured, f"pass rate of record {rid!r}")
        try:
            prior = None if label is None else label_to_pass_rate(label, label_range)
        except ValueError as err:
            raise ValueError(f"record {rid!r}: {err}") from None
        if measured is None:
            estimate = prior
        elif prior is None:
            estimate = measured
        else:
            estimate = (1 - label_weight) * measured + label_weight * prior
        grades[rid] = GradeEntry(pass_rate=measured, label=label, estimate=estimate, tier=tier_of(estimate, bounds))
    return grades


def _derived_seed(*parts: int) -> int:
    """A 63-bit seed from (seed, stream, counter): reproducible draws without storing generator state."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class CurriculumSampler(Sampler[int]):
    """Draws dataset indices with tier-dependent weights; learns each record's pass rate from rollouts.

    ``record_ids[i]`` is the id of dataset item ``i``. ``grades`` maps ids to a `GradeEntry` or a plain pass-rate
    estimate (ids not in the dataset are ignored, but at least one must match). The per-record sampling weight is
    ``max(tier_weights[tier], floor)`` (ungraded records get the medium weight), frozen until `reset_weights`.

    Used from a DataLoader, each epoch (`__iter__`) re-sets the weights and draws ``num_samples`` distinct
    indices, so a trainer that calls `update` between batches gets a fresh curriculum every epoch.
    """

    def __init__(
        self,
        record_ids: Sequence[RecordId],
        grades: Mapping[RecordId, GradeEntry | float] | None = None,
        *,
        thresholds: Mapping[str, float] | None = None,
        tier_weights: Mapping[str, float] | None = None,
        floor: float = 0.05,
        ema_decay: float = 0.5,
        num_samples: int | None = None,
        seed: int = 0,
    ):
        super().__init__()
        self.ids = list(record_ids)
        if not self.ids:
            raise ValueError("CurriculumSampler needs at least one record")
        for rid in self.ids:
            if isinstance(rid, bool) or not isinstance(rid, (str, int)):
                raise ValueError(f"record ids must be str or int (they go into JSON checkpoints), got {rid!r}")
        self.index = {rid: i for i, rid in enumerate(self.ids)}
        if len(self.index) != len(self.ids):
            dup = next(rid for i, rid in enumerate(self.ids) if self.index[rid] != i)
            raise ValueError(f"record ids must be unique; {dup!r} appears more than once")
        self.thresholds = check_thresholds(thresholds if thresholds is not None else DEFAULT_TIER_THRESHOLDS)
        self.tier_weights = check_tier_weights(tier_weights if tier_weights is not None else DEFAULT_TIER_WEIGHTS)
        if not (isinstance(floor, (int, float)) and 0 < floor <= 1):
            raise ValueError(f"floor must be in (0, 1] so no record is starved, got {floor!r}")
        if not 0 <= ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay!r}")
        self.floor, self.ema_decay, self.seed = float(floor), float(ema_decay), int(seed)
        self.num_samples = len(self.ids) if num_samples is None else num_samples
        if not 1 <= self.num_samples <= len(self.ids):
            raise ValueError(f"num_samples must be in [1, {len(self.ids)}] (draws are without replacement)")
        # [N] pass-rate estimate per record, NaN = ungraded; [N] rollouts seen online.
        self._estimates = torch.full((len(self.ids),), math.nan, dtype=torch.float64)
        self._seen = torch.zeros(len(self.ids), dtype=torch.long)
        self.epoch, self.draws = 0, 0
        if grades:
            matched = 0
            for rid, grade in grades.items():
                i = self.index.get(rid)
                if i is not None:
                    value = grade.estimate if isinstance(grade, GradeEntry) else grade
                    self._estimates[i] = _check_rate(value, f"grade of record {rid!r}")
                    matched += 1
            if matched == 0:
                raise ValueError("grades share no record id with the dataset (wrong grades file?)")
        self._weights = self.reset_weights()

    # --- online curriculum -------------------------------------------------------------------------------------

    def update(self, record_ids: Sequence[RecordId], rewards: Sequence[float]) -> None:
        """Fold one batch of rollouts into the pass-rate estimates: one EMA step per record with its batch mean.

        ``record_ids`` and ``rewards`` are per rollout (a record appears once per response in its group);
        rewards are correctness in [0, 1]. A record seen for the first time takes its batch mean as is.
        """
        if len(record_ids) != len(rewards):
            raise ValueError(f"update got {len(record_ids)} record ids but {len(rewards)} rewards")
        per_record: dict[int, list[float]] = defaultdict(list)
        for rid, reward in zip(record_ids, rewards, strict=True):
            i = self.index.get(rid)
            if i is None:
                raise ValueError(f"update: unknown record id {rid!r}")
            per_record[i].append(_check_rate(reward, f"reward of record {rid!r}"))
        for i, values in per_record.items():
            batch_rate = sum(values) / len(values)
            old = self._estimates[i].item()
            new = batch_rate if math.isnan(old) else self.ema_decay * old + (1 - self.ema_decay) * batch_rate
            self._estimates[i] = min(max(new, 0.0), 1.0)
            self._seen[i] += len(values)

    def tier_indices(self) -> torch.Tensor:
        """[N] current tier per record as an index into TIERS, or len(TIERS) for ungraded."""
        est = self._estimates
        out = torch.full(est.shape, len(TIERS), dtype=torch.long)
        # Assign from the hardest tier up so each record ends in the easiest tier whose bound it reaches.
        out[est >= 0] = len(TIERS) - 1
        for k in range(len(TIERS) - 2, -1, -1):
            out[est >= self.thresholds[TIERS[k]]] = k
        return out

    def reset_weights(self) -> torch.Tensor:
        """Re-set the per-record sampling weights from the current tiers (call once per iteration)."""
        table = torch.tensor([self.tier_weights[t] for t in TIERS] + [self.tier_weights["medium"]], dtype=torch.float64)
        self._weights = table[self.tier_indices()].clamp_min(self.floor)
        return self._weights.clone()

    def weights(self) -> torch.Tensor:
        """[N] the sampling weights in force (as of the last `reset_weights`), aligned with dataset indices."""
        return self._weights.clone()

    def pass_rate(self, record_id: RecordId) -> float | None:
        """The current pass-rate estimate of a record, None when ungraded."""
        value = self._estimates[self._index_of(record_id)].item()
        return None if math.isnan(value) else value

    def tier(self, record_id: RecordId) -> str:
        k = int(self.tier_indices()[self._index_of(record_id)])
        return TIERS[k] if k < len(TIERS) else UNGRADED

    def tier_histogram(self) -> dict[str, int]:
        """Records per current tier (plus ungraded)."""
        counts = torch.bincount(self.tier_indices(), minlength=len(TIERS) + 1).tolist()
        return dict(zip((*TIERS, UNGRADED), counts, strict=True))

    def metrics(self) -> dict[str, float]:
        """Per-iteration log line: tier counts, each tier's share of the sampling mass, the mean pass rate."""
        tiers = self.tier_indices()
        total = float(self._weights.sum())
        out: dict[str, float] = {}
        for k, name in enumerate((*TIERS, UNGRADED)):
            members = tiers == k
            out[f"curriculum/tier/{name}"] = float(members.sum())
            out[f"curriculum/mass/{name}"] = float(self._weights[members].sum()) / total
        graded = ~torch.isnan(self._estimates)
        out["curriculum/mean_pass_rate"] = float(self._estimates[graded].mean()) if graded.any() else math.nan
        out["curriculum/seen_fraction"] = float((self._seen > 0).double().mean())
        return out

    def _index_of(self, record_id: RecordId) -> int:
        try:
            return self.index[record_id]
        except KeyError:
            raise ValueError(f"unknown record id {record_id!r}") from None

    # --- drawing -----------------------------------------------------------------------------------------------

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[int]:
        """Draw min(n, N) distinct indices with the current weights (no index twice within one draw).

        Without a generator, draws come from a stream derived from (seed, number of draws so far), so a resumed
        run continues the same sequence.
        """
        if n < 0:
            raise ValueError(f"cannot draw {n} samples")
        n = min(n, len(self.ids))
        if generator is None:
            generator = torch.Generator().manual_seed(_derived_seed(self.seed, 0, self.draws))
            self.draws += 1
        if n == 0:
            return []
        return torch.multinomial(self._weights, n, replacement=False, generator=generator).tolist()

    def set_epoch(self, epoch: int) -> None:
        """Like DistributedSampler.set_epoch: choose which epoch's draw the next `__iter__` makes."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        self.reset_weights()
        generator = torch.Generator().manual_seed(_derived_seed(self.seed, 1, self.epoch))
        self.epoch += 1
        return iter(self.sample(self.num_samples, generator))

    def __len__(self) -> int:
        return self.num_samples

    # --- checkpoints -------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Plain-JSON state: graded records' estimates and rollout counts, and the draw counters."""
        graded = (~torch.isnan(self._estimates)).nonzero().flatten().tolist()
        return {
            "version": 1,
            "num_records": len(self.ids),
            "ids": [self.ids[i] for i in graded],
            "estimates": [self._estimates[i].item() for i in graded],
            "seen": [int(self._seen[i]) for i in graded],
            "epoch": self.epoch,
            "draws": self.draws,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore `state_dict` output; refuses a state whose records are not this dataset's."""
        if not isinstance(state, Mapping) or state.get("version") != 1:
            raise ValueError("not a CurriculumSampler state (missing or unknown 'version')")
        if state["num_records"] != len(self.ids):
            raise ValueError(
                f"curriculum state is for {state['num_records']} records; this dataset has {len(self.ids)}"
            )
        if not len(state["ids"]) == len(state["estimates"]) == len(state["seen"]):
            raise ValueError("curriculum state: 'ids', 'estimates' and 'seen' differ in length")
        unknown = [rid for rid in state["ids"] if rid not in self.index]
        if unknown:
            raise ValueError(f"curriculum state has {len(unknown)} ids not in this dataset, e.g. {unknown[0]!r}")
        estimates = torch.full((len(self.ids),), math.nan, dtype=torch.float64)
        seen = torch.zeros(len(self.ids), dtype=torch.long)
        for rid, est, count in zip(state["ids"], state["estimates"], state["seen"], strict=True):
            estimates[self.index[rid]] = _check_rate(est, f"curriculum state estimate of {rid!r}")
            seen[self.index[rid]] = int(count)
        self._estimates, self._seen = estimates, seen
        self.epoch, self.draws = int(state["epoch"]), int(state["draws"])
        self.reset_weights()
