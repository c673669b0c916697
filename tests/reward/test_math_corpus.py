"""The math verifier on a corpus of (gold, prediction, expected) pairs, grouped by answer form.

`math_pairs.jsonl` was written for this project: for each form (assignments, labelled values, worked chains,
solution sets, tuples, intervals and inequalities, ratios, percent words, number formats, text, units, large
numbers…) it holds equivalent answers and near misses that must stay wrong (a different set, a swapped tuple,
an open instead of a closed end, 1/2004! vs 1/2006!). A false positive rewards a wrong answer in RL, so there
must be none. Measured on this code: 329 pairs (157 equal, 172 near misses), 329 agree, 0 false positives.
The pairs were written together with the code, so full agreement shows these forms are covered, not accuracy on
unseen answers; `benchmarks/reward.py` runs math-verify on the same pairs for comparison.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from thinkvl.reward.mathexpr import math_equal

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "math_pairs.jsonl").read_text().splitlines()]


def test_corpus_is_large_and_balanced() -> None:
    equal = sum(p["equal"] for p in PAIRS)
    assert len(PAIRS) >= 300
    assert len(PAIRS) - equal >= equal  # at least as many near misses as matches
    forms = Counter(p["form"] for p in PAIRS)
    assert len(forms) >= 15 and all(any(p["form"] == f and not p["equal"] for p in PAIRS) for f in forms)


def test_no_false_positives_and_full_agreement() -> None:
    false_pos, false_neg = [], []
    for p in PAIRS:
        ok, why = math_equal(p["gold"], p["pred"])
        if ok and not p["equal"]:
            false_pos.append((p["form"], p["gold"], p["pred"], why))
        elif p["equal"] and not ok:
            false_neg.append((p["form"], p["gold"], p["pred"], why))
    agreement = 1 - (len(false_pos) + len(false_neg)) / len(PAIRS)
    print(f"math corpus: {len(PAIRS)} pairs, agreement {agreement:.1%}, {len(false_pos)} FP, {len(false_neg)} FN")
    assert not false_pos, false_pos
    assert not false_neg, false_neg  # measured: 329/329; a regression shows up here by name
