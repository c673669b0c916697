"""Paired comparisons of two models on the same items, and the error bars of an accuracy.

Why paired: two models scored on the same held-out items share every item's difficulty. Comparing their means as
if they were independent samples throws that away and needs several times more items for the same power; comparing
item by item (which items one model got right and the other wrong) does not. `mcnemar` is the exact test for
right/wrong outcomes (greedy accuracy); `paired_bootstrap` covers per-item scores in [0, 1] (the share of k
sampled answers that are right).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


def binomial_se(p: float, n: int) -> float:
    """The standard error of an accuracy ``p`` measured on ``n`` independent items.

    >>> round(binomial_se(0.5, 100), 3)
    0.05
    """
    if n < 1:
        raise ValueError(f"need n >= 1 items, got {n}")
    if not 0 <= p <= 1:
        raise ValueError(f"accuracy must be in [0, 1], got {p}")
    return math.sqrt(p * (1 - p) / n)


@dataclass(frozen=True)
class Paired:
    """Model B against model A on the same items: the mean difference B − A, its standard error and 95% interval,
    the items only A / only B got right (for right/wrong outcomes), and a two-sided p-value."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    se: float
    ci_low: float
    ci_high: float
    only_a: int | None
    only_b: int | None
    p_value: float
    test: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        swaps = f", {self.only_a} right→wrong / {self.only_b} wrong→right" if self.only_a is not None else ""
        return (
            f"{self.mean_a:.1%} → {self.mean_b:.1%} ({self.diff:+.1%} ± {self.se:.1%}, 95% CI "
            f"[{self.ci_low:+.1%}, {self.ci_high:+.1%}], {self.test} p = {self.p_value:.2g}{swaps}, n = {self.n})"
        )


def _check(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same items: {len(a)} against {len(b)}")
    if not a:
        raise ValueError("no items to compare")


def _binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips (McNemar's exact test)."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> Paired:
    """Exact McNemar test of right/wrong outcomes of two models on the same items.

    >>> r = mcnemar([True] * 50 + [False] * 50, [True] * 45 + [False] * 5 + [True] * 25 + [False] * 25)
    >>> r.only_a, r.only_b, round(r.diff, 2), r.p_value < 0.001
    (5, 25, 0.2, True)
    """
    _check(a, b)
    n = len(a)
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    diff = (only_b - only_a) / n
    # The variance of a paired difference of proportions: (b + c)/n² − (b − c)²/n³.
    se = math.sqrt(max(0.0, (only_a + only_b) / n**2 - (only_b - only_a) ** 2 / n**3))
    return Paired(
        n=n,
        mean_a=sum(map(bool, a)) / n,
        mean_b=sum(map(bool, b)) / n,
        diff=diff,
        se=se,
        ci_low=diff - 1.96 * se,
        ci_high=diff + 1.96 * se,
        only_a=only_a,
        only_b=only_b,
        p_value=_binom_two_sided(only_a, only_a + only_b),
        test="McNemar exact",
    )


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, samples: int = 2000, seed: int = 0) -> Paired:
    """Paired bootstrap of per-item scores (e.g. the share of sampled answers that are right): the 95% interval of
    the mean difference B − A from resampling items, and the two-sided p-value of "no difference" (twice the
    share of resamples on the far side of 0).

    >>> r = paired_bootstrap([0.0, 0.25, 0.5, 0.5] * 25, [0.5, 0.5, 0.75, 1.0] * 25)
    >>> round(r.diff, 4), r.ci_low > 0, r.p_value < 0.01
    (0.375, True, True)
    """
    _check(a, b)
    n = len(a)
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    mean = float(d.mean())
    rng = np.random.default_rng(seed)
    means = np.sort(d[rng.integers(0, n, size=(samples, n))].mean(axis=1))
    lo, hi = float(means[int(0.025 * samples)]), float(means[min(samples - 1, int(0.975 * samples))])
    var = float(d.var(ddof=1)) if n > 1 else 0.0
    far = int((means <= 0).sum()) if mean > 0 else int((means >= 0).sum())
    return Paired(
        n=n,
        mean_a=sum(map(float, a)) / n,
        mean_b=sum(map(float, b)) / n,
        diff=mean,
        se=math.sqrt(var / n),
        ci_low=lo,
        ci_high=hi,
        only_a=None,
        only_b=None,
        p_value=min(1.0, 2 * max(far, 1) / samples) if mean != 0 else 1.0,
        test="paired bootstrap",
    )
