"""Policy loss and advantages against plain-loop reference computations."""

from __future__ import annotations

import math
import statistics

import pytest
import torch

from thinkvl.rl.loss import group_advantages, masked_average, policy_loss


def reference_advantages(rewards: list[list[float]], eps: float) -> list[list[float]]:
    out = []
    for group in rewards:
        mean, std = statistics.fmean(group), statistics.pstdev(group)
        out.append([0.0 if max(group) == min(group) else (r - mean) / (std + eps) for r in group])
    return out


def reference_loss(lp, old, adv, mask, eps_low, eps_high, averaging, tis=None):
    """Straight from the PPO/clip-higher formulas, one token at a time."""
    sums, counts = [], []
    for b in range(len(lp)):
        total, count = 0.0, 0
        for t in range(len(lp[b])):
            if not mask[b][t]:
                continue
            ratio = math.exp(lp[b][t] - old[b][t])
            clipped = min(max(ratio, 1 - eps_low), 1 + eps_high)
            token = -min(ratio * adv[b], clipped * adv[b])
            if tis is not None:
                token *= tis[b][t]
            total += token
            count += 1
        sums.append(total)
        counts.append(count)
    if averaging == "token":
        return sum(sums) / sum(counts)
    per_seq = [s / c for s, c in zip(sums, counts, strict=True) if c > 0]
    return sum(per_seq) / len(per_seq)


def random_batch(seed: int, b: int = 4, t: int = 6):
    g = torch.Generator().manual_seed(seed)
    lp = -torch.rand(b, t, generator=g, dtype=torch.float64) * 3
    old = lp + (torch.rand(b, t, generator=g, dtype=torch.float64) - 0.5) * 0.8
    adv = torch.randn(b, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = torch.arange(t)[None, :] < lengths[:, None]
    return lp, old, adv, mask


def test_group_advantages_match_reference_and_zero_equal_groups():
    rewards = [[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5], [0.2, 0.9, 0.4, 0.0], [1.0, 1.0, 1.0, 1.0]]
    got = group_advantages(torch.tensor(rewards, dtype=torch.float64), eps=1e-6)
    expected = torch.tensor(reference_advantages(rewards, 1e-6), dtype=torch.float64)
    torch.testing.assert_close(got, expected)
    assert torch.all(got[1] == 0) and torch.all(got[3] == 0)
    # Each non-degenerate group is centred and has (almost) unit population spread.
    for row in (0, 2):
        assert abs(got[row].mean().item()) < 1e-9
        assert abs(got[row].std(correction=0).item() - 1) < 1e-4


def test_group_advantages_reject_bad_shapes_and_values():
    with pytest.raises(ValueError, match="n_groups, G"):
        group_advantages(torch.ones(8))
    with pytest.raises(ValueError, match="NaN"):
        group_advantages(torch.tensor([[0.0, float("nan")]]))


@pytest.mark.parametrize("averaging", ["sample", "token"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_policy_loss_matches_reference(averaging, seed):
    lp, old, adv, mask = random_batch(seed)
    loss, metrics = policy_loss(lp, old, adv, mask, 0.2, 0.28, averaging)
    expected = reference_loss(lp.tolist(), old.tolist(), adv.tolist(), mask.tolist(), 0.2, 0.28, averaging)
    assert loss.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    # Clip fractions and approx KL, recounted token by token.
    low = high = kl = n = 0
    for b in range(lp.shape[0]):
        for t in range(lp.shape[1]):
            if mask[b, t]:
                r = math.exp(lp[b, t].item() - old[b, t].item())
                low += r < 0.8 and adv[b].item() < 0
                high += r > 1.28 and adv[b].item() > 0
                kl += (r - 1) - math.log(r)
                n += 1
    assert metrics["actor/clip_frac_low"] == pytest.approx(low / n)
    assert metrics["actor/clip_frac_high"] == pytest.approx(high / n)
    assert metrics["actor/approx_kl"] == pytest.approx(kl / n)
    assert metrics["actor/tokens"] == n


def test_gradient_direction_follows_advantage():
    lp = torch.full((2, 3), -1.0, requires_grad=True)
    loss, _ = policy_loss(lp, lp.detach().clone(), torch.tensor([1.0, -1.0]), torch.ones(2, 3, dtype=torch.bool))
    loss.backward()
    # Gradient descent raises log-probs of the positive-advantage response and lowers the negative one's.
    assert torch.all(lp.grad[0] < 0)
    assert torch.all(lp.grad[1] > 0)


def _grad_at_ratio(ratio: float, advantage: float, eps_low: float, eps_high: float):
    old = torch.tensor([[-2.0]])
    lp = (old + math.log(ratio)).requires_grad_(True)
    loss, metrics = policy_loss(lp, old, torch.tensor([advantage]), torch.ones(1, 1), eps_low, eps_high)
    loss.backward()
    return lp.grad.item(), metrics


def test_clip_higher_keeps_gradient_where_symmetric_clip_removes_it():
    grad, metrics = _grad_at_ratio(1.25, 1.0, eps_low=0.2, eps_high=0.28)
    assert grad < 0 and metrics["actor/clip_frac_high"] == 0
    grad, metrics = _grad_at_ratio(1.25, 1.0, eps_low=0.2, eps_high=0.2)
    assert grad == 0 and metrics["actor/clip_frac_high"] == 1
    # The lower bound still clips negative-advantage tokens pushed below 1 − ε_low, and only those.
    grad, metrics = _grad_at_ratio(0.75, -1.0, eps_low=0.2, eps_high=0.28)
    assert grad == 0 and metrics["actor/clip_frac_low"] == 1
    grad, metrics = _grad_at_ratio(0.85, -1.0, eps_low=0.2, eps_high=0.28)
    assert grad > 0 and metrics["actor/clip_frac_low"] == 0
    # A ratio above the bound with a negative advantage is not clipped: PPO keeps pushing it down.
    grad, _ = _grad_at_ratio(1.5, -1.0, eps_low=0.2, eps_high=0.28)
    assert grad > 0


def test_per_sample_and_per_token_weigh_unequal_lengths_differently():
    # A 1-token response with advantage +1 and a 3-token response with advantage −1, at ratio 1 (token loss −A).
    lp = torch.zeros(2, 3, dtype=torch.float64)
    mask = torch.tensor([[1, 0, 0], [1, 1, 1]], dtype=torch.bool)
    adv = torch.tensor([1.0, -1.0], dtype=torch.float64)
    by_sample, _ = policy_loss(lp, lp, adv, mask, averaging="sample")
    by_token, _ = policy_loss(lp, lp, adv, mask, averaging="token")
    assert by_sample.item() == pytest.approx(((-1.0) / 1 + (3.0) / 3) / 2)
    assert by_token.item() == pytest.approx((-1.0 + 3.0) / 4)
    assert by_sample.item() != pytest.approx(by_token.item())
    # With equal lengths the two coincide.
    full = torch.ones(2, 3, dtype=torch.bool)
    a, _ = policy_loss(lp, lp, adv, full, averaging="sample")
    b, _ = policy_loss(lp, lp, adv, full, averaging="token")
    assert a.item() == pytest.approx(b.item())


def test_masked_positions_are_ignored_even_when_garbage():
    lp, old, adv, mask = random_batch(3)
    lp_dirty, old_dirty = lp.clone(), old.clone()
    lp_dirty[~mask] = float("nan")
    old_dirty[~mask] = -float("inf")
    lp_dirty.requires_grad_(True)
    clean, _ = policy_loss(lp, old, adv, mask)
    dirty, metrics = policy_loss(lp_dirty, old_dirty, adv, mask)
    assert dirty.item() == pytest.approx(clean.item())
    assert all(math.isfinite(v) for v in metrics.values())
    dirty.backward()
    assert torch.isfinite(lp_dirty.grad).all()
    assert torch.all(lp_dirty.grad[~mask] == 0)
    assert torch.any(lp_dirty.grad[mask] != 0)


def test_fully_masked_batch_gives_zero_loss_with_a_graph():
    lp = torch.randn(2, 4, requires_grad=True)
    loss, _ = policy_loss(lp, lp.detach(), torch.ones(2), torch.zeros(2, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0 and torch.all(lp.grad == 0)


def test_truncated_importance_weight_and_mismatch_kl():
    lp, old, adv, mask = random_batch(4)
    g = torch.Generator().manual_seed(9)
    rollout = old + torch.randn(old.shape, generator=g, dtype=torch.float64) * 0.7
    cap = 1.5
    loss, metrics = policy_loss(lp, old, adv, mask, rollout_logprobs=rollout, tis_cap=cap)
    tis = [
        [min(math.exp(o - r), cap) for o, r in zip(orow, rrow, strict=True)]
        for orow, rrow in zip(old.tolist(), rollout.tolist(), strict=True)
    ]
    expected = reference_loss(lp.tolist(), old.tolist(), adv.tolist(), mask.tolist(), 0.2, 0.28, "sample", tis)
    assert loss.item() == pytest.approx(expected, rel=1e-9)
    mismatch = [
        math.exp(old[b, t] - rollout[b, t]) - 1 - (old[b, t] - rollout[b, t]).item()
        for b in range(old.shape[0])
        for t in range(old.shape[1])
        if mask[b, t]
    ]
    assert metrics["actor/mismatch_kl"] == pytest.approx(sum(mismatch) / len(mismatch))
    assert 0 < metrics["actor/tis_truncated_frac"] < 1
    # Without a cap the mismatch is logged but the loss is uncorrected.
    plain, _ = policy_loss(lp, old, adv, mask)
    logged_only, metrics_only = policy_loss(lp, old, adv, mask, rollout_logprobs=rollout)
    assert logged_only.item() == pytest.approx(plain.item())
    assert metrics_only["actor/mismatch_kl"] == pytest.approx(metrics["actor/mismatch_kl"])


def test_kl_penalty_pulls_toward_reference_and_is_off_by_default():
    lp = torch.full((1, 2), -2.0, requires_grad=True)
    ref = torch.full((1, 2), -1.0)
    mask = torch.ones(1, 2, dtype=torch.bool)
    zero_adv = torch.zeros(1)
    off, metrics = policy_loss(lp, lp.detach(), zero_adv, mask, ref_logprobs=ref)
    assert off.item() == 0 and metrics["actor/kl_ref"] > 0
    loss, _ = policy_loss(lp, lp.detach(), zero_adv, mask, ref_logprobs=ref, kl_coef=0.5)
    k3 = math.exp(1.0) - 1.0 - 1  # exp(ref − lp) − (ref − lp) − 1
    assert loss.item() == pytest.approx(0.5 * k3)
    loss.backward()
    assert torch.all(lp.grad < 0)  # descent raises lp toward the reference's higher log-prob
    with pytest.raises(ValueError, match="ref_logprobs"):
        policy_loss(lp, lp.detach(), zero_adv, mask, kl_coef=0.1)


def test_entropy_bonus_lowers_loss_by_coef_times_mean_entropy():
    lp, old, adv, mask = random_batch(5)
    entropy = torch.rand(lp.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    base, _ = policy_loss(lp, old, adv, mask, entropy=entropy)
    bonus, metrics = policy_loss(lp, old, adv, mask, entropy=entropy, entropy_coef=0.1)
    assert bonus.item() == pytest.approx(base.item() - 0.1 * masked_average(entropy, mask, "sample").item())
    assert metrics["actor/entropy"] == pytest.approx(masked_average(entropy, mask, "token").item())
    with pytest.raises(ValueError, match="entropy"):
        policy_loss(lp, old, adv, mask, entropy_coef=0.1)


@pytest.mark.parametrize("averaging", ["sample", "token"])
def test_normalizer_lets_micro_batches_add_up_to_the_full_batch(averaging):
    lp, old, adv, mask = random_batch(6, b=6)
    full, _ = policy_loss(lp, old, adv, mask, averaging=averaging)
    count = mask.sum().item() if averaging == "token" else mask.any(-1).sum().item()
    parts = [
        policy_loss(lp[s], old[s], adv[s], mask[s], averaging=averaging, normalizer=count)[0]
        for s in (slice(0, 2), slice(2, 6))
    ]
    assert sum(p.item() for p in parts) == pytest.approx(full.item())


def test_per_token_advantages_and_bad_inputs():
    lp, old, adv, mask = random_batch(7)
    a, _ = policy_loss(lp, old, adv, mask)
    b, _ = policy_loss(lp, old, adv[:, None].expand_as(lp), mask)
    assert a.item() == pytest.approx(b.item())
    with pytest.raises(ValueError, match="old_logprobs"):
        policy_loss(lp, old[:, :-1], adv, mask)
    with pytest.raises(ValueError, match="advantages"):
        policy_loss(lp, old, adv[:-1], mask)
    with pytest.raises(ValueError, match="averaging"):
        policy_loss(lp, old, adv, mask, averaging="batch")
    with pytest.raises(ValueError, match="eps_low"):
        policy_loss(lp, old, adv, mask, eps_low=1.0)
    with pytest.raises(ValueError, match="tis_cap"):
        policy_loss(lp, old, adv, mask, rollout_logprobs=old, tis_cap=0.0)


def test_bfloat16_logprobs_are_computed_in_float32():
    lp32, old, adv, mask = random_batch(8)
    lp = lp32.to(torch.bfloat16).requires_grad_(True)
    loss, _ = policy_loss(lp, old.float(), adv.float(), mask)
    assert loss.dtype == torch.float32
    expected = reference_loss(
        lp.float().tolist(), old.float().tolist(), adv.tolist(), mask.tolist(), 0.2, 0.28, "sample"
    )
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert lp.grad.dtype == torch.bfloat16 and torch.isfinite(lp.grad).all()
