"""Dynamic sampling expansion: group validity, selection, and the expansion-ratio controller."""

from __future__ import annotations

import json
import math
import random

import pytest

from thinkvl.rl.dynamic_sampling import ExpansionController, group_is_valid, select_groups


def test_group_validity_means_rewards_differ():
    assert group_is_valid([0, 1, 1, 1])
    assert group_is_valid([0.2, 0.4])
    assert not group_is_valid([1, 1, 1, 1])
    assert not group_is_valid([0.0] * 8)
    assert not group_is_valid([1.0])
    assert not group_is_valid([])
    with pytest.raises(ValueError, match="finite"):
        group_is_valid([0.0, float("nan")])


def test_select_keeps_the_most_balanced_valid_groups():
    groups = [
        [1, 1, 1, 1],  # invalid
        [1, 0, 0, 0],  # 0.25
        [1, 1, 0, 0],  # 0.5
        [0, 0, 0, 0],  # invalid
        [1, 1, 1, 0],  # 0.75
        [1, 0, 1, 0],  # 0.5
        [0, 0, 0, 1],  # 0.25
    ]
    sel = select_groups(groups, needed=3)
    valid = [i for i, g in enumerate(groups) if max(g) != min(g)]
    by_balance = sorted(valid, key=lambda i: (abs(sum(groups[i]) / len(groups[i]) - 0.5), i))
    assert sel.indices == sorted(by_balance[:3]) == [1, 2, 5]
    assert (sel.num_groups, sel.num_valid, sel.num_invalid, sel.shortfall) == (7, 5, 2, 0)
    assert sel.not_valid_rate == pytest.approx(2 / 7)


def test_select_with_too_few_valid_groups_returns_them_and_reports_the_shortfall():
    sel = select_groups([[1, 0], [1, 1], [0, 0]], needed=4)
    assert sel.indices == [0] and sel.shortfall == 3
    metrics = sel.metrics()
    assert metrics["dynamic_sampling/shortfall"] == 3 and metrics["dynamic_sampling/not_valid_rate"] == pytest.approx(
        2 / 3
    )


def test_select_never_fails_on_all_invalid_or_empty_input():
    assert select_groups([[1, 1, 1]] * 5, needed=2).indices == []
    empty = select_groups([], needed=2)
    assert empty.indices == [] and empty.not_valid_rate == 0 and empty.shortfall == 2
    assert select_groups([[0, 1]], needed=0).indices == []


def test_select_uses_given_pass_rates_for_balance():
    # Continuous rewards (e.g. OCR similarity) with the correctness rates passed separately.
    groups = [[0.9, 0.8], [0.1, 0.6], [0.3, 0.4]]
    sel = select_groups(groups, needed=1, pass_rates=[1.0, 0.5, 0.0])
    assert sel.indices == [1]
    with pytest.raises(ValueError, match="pass rates"):
        select_groups(groups, needed=1, pass_rates=[0.5])
    with pytest.raises(ValueError, match="group 2"):
        select_groups([[0, 1], [1, 0], [0, float("inf")]], needed=1)


def test_expansion_ratio_is_inverse_valid_rate_capped():
    c = ExpansionController(decay=0.9, cap=4.0)
    for invalid, total in [(0, 8), (2, 8), (4, 8), (6, 8)]:
        assert c.ratio(invalid, total) == pytest.approx(1 / (1 - invalid / total))
    assert c.ratio(7, 8) == 4.0  # 8 capped
    assert c.ratio(8, 8) == 4.0  # infinite capped, no division by zero


def test_ema_starts_at_first_observation_then_blends():
    c = ExpansionController(decay=0.8, cap=10.0)
    assert c.prompts_to_draw(10) == 10  # nothing observed yet
    observations = [(5, 10), (0, 10), (8, 10), (10, 10)]
    expected = None
    for invalid, total in observations:
        raw = min(1 / (1 - invalid / total), 10.0) if invalid < total else 10.0
        expected = raw if expected is None else 0.8 * expected + 0.2 * raw
        assert c.observe(invalid, total) == pytest.approx(expected)
    assert c.prompts_to_draw(16) == math.ceil(16 * expected)


def test_prompts_to_draw_is_ceil_without_float_noise():
    c = ExpansionController()
    c.observe(1, 5)  # ratio 1.25
    assert c.prompts_to_draw(16) == 20
    assert c.prompts_to_draw(17) == 22  # 21.25 → 22
    assert c.prompts_to_draw(0) == 0


def test_empty_iteration_leaves_the_ema_alone_and_bad_counts_raise():
    c = ExpansionController()
    c.observe(1, 2)
    assert c.observe(0, 0) == pytest.approx(2.0) and c.observations == 1
    with pytest.raises(ValueError):
        c.observe(3, 2)
    with pytest.raises(ValueError, match="decay"):
        ExpansionController(decay=1.0)
    with pytest.raises(ValueError, match="cap"):
        ExpansionController(cap=0.5)


def test_state_round_trip_and_lowered_cap():
    a = ExpansionController(decay=0.5, cap=8.0)
    a.observe(6, 8)
    a.observe(3, 8)
    b = ExpansionController(decay=0.5, cap=8.0)
    b.load_state_dict(json.loads(json.dumps(a.state_dict())))
    assert b.ratio_ema == a.ratio_ema and b.prompts_to_draw(32) == a.prompts_to_draw(32)
    low = ExpansionController(cap=1.5)
    low.load_state_dict(a.state_dict())
    assert low.ratio_ema == 1.5
    with pytest.raises(ValueError, match="ratio_ema"):
        b.load_state_dict({"ratio_ema": 0.5, "observations": 1})


def test_closed_loop_keeps_about_a_batch_of_valid_groups():
    """Half the groups come back invalid: the controller settles near 2× and the selection fills the batch."""
    rng = random.Random(0)
    c = ExpansionController(decay=0.7, cap=4.0)
    batch, filled = 32, []
    for _ in range(40):
        groups = [[1, 0] if rng.random() < 0.5 else [1, 1] for _ in range(c.prompts_to_draw(batch))]
        sel = select_groups(groups, needed=batch)
        c.observe(sel.num_invalid, sel.num_groups)
        filled.append(len(sel.indices))
    assert 1.6 < c.ratio_ema < 2.4
    # Without expansion only ~16 of 32 would be valid; with it the batch is mostly full.
    assert sum(filled[10:]) / len(filled[10:]) > 0.85 * batch
