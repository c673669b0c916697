"""Curriculum grading, online updates, weights, drawing, DataLoader use and checkpoint state."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from thinkvl.rl.config import RLConfig
from thinkvl.rl.curriculum import (
    TIERS,
    UNIFORM_TIER_WEIGHTS,
    CurriculumSampler,
    GradeEntry,
    grade_records,
    label_to_pass_rate,
    read_grades,
    tier_of,
    write_grades,
)

BOUNDS = {"very_easy": 0.8, "easy": 0.6, "medium": 0.4, "hard": 0.2}
WEIGHTS = {"very_easy": 0.0, "easy": 0.3, "medium": 1.0, "hard": 0.6, "very_hard": 0.2}


def test_tier_of_uses_lower_bounds_inclusively():
    assert tier_of(0.8, BOUNDS) == "very_easy"
    assert tier_of(0.79, BOUNDS) == "easy"
    assert tier_of(0.6, BOUNDS) == "easy"
    assert tier_of(0.5, BOUNDS) == "medium"
    assert tier_of(0.2, BOUNDS) == "hard"
    assert tier_of(0.19, BOUNDS) == "very_hard"
    assert tier_of(0.0) == "very_hard" and tier_of(1.0) == "very_easy"


@pytest.mark.parametrize("bad", [float("nan"), -0.1, 1.5, "0.5", True])
def test_tier_of_rejects_non_rates(bad):
    with pytest.raises(ValueError, match="pass rate"):
        tier_of(bad)


def test_bad_thresholds_and_weights_are_named():
    with pytest.raises(ValueError, match="decrease"):
        CurriculumSampler(["a"], thresholds={"very_easy": 0.5, "easy": 0.6, "medium": 0.4, "hard": 0.2})
    with pytest.raises(ValueError, match="keys"):
        CurriculumSampler(["a"], thresholds={"easy": 0.6})
    with pytest.raises(ValueError, match="'hard'"):
        CurriculumSampler(["a"], tier_weights={**WEIGHTS, "hard": -1.0})


def test_grade_records_merges_labels_as_a_prior():
    grades = grade_records(
        {"m": 0.5, "both": 1.0, "m_nolabel": 0.0},
        {"both": 5, "label_only": 2, "m_nolabel": None, "nothing": None},
        thresholds=BOUNDS,
        label_range=(1, 5),
        label_weight=0.25,
    )
    assert set(grades) == {"m", "both", "m_nolabel", "label_only"}
    assert grades["m"] == GradeEntry(pass_rate=0.5, label=None, estimate=0.5, tier="medium")
    # Measured 1.0, label 5 = hardest (prior 0.0): 0.75·1.0 + 0.25·0.0.
    assert grades["both"].estimate == pytest.approx(0.75) and grades["both"].tier == "easy"
    prior = label_to_pass_rate(2, (1, 5))
    assert prior == pytest.approx(0.75)
    assert grades["label_only"].pass_rate is None and grades["label_only"].estimate == pytest.approx(prior)
    assert grades["m_nolabel"].tier == "very_hard"
    assert GradeEntry.from_dict(json.loads(json.dumps(grades["both"].to_dict()))) == grades["both"]


def test_grade_records_rejects_bad_input_naming_the_record():
    with pytest.raises(ValueError, match="'r7'"):
        grade_records({}, {"r7": 9}, label_range=(1, 5))
    with pytest.raises(ValueError, match="'r8'"):
        grade_records({"r8": 2.0})
    with pytest.raises(ValueError, match="label_weight"):
        grade_records({"a": 0.5}, label_weight=1.5)


def test_initial_weights_follow_tiers_with_a_floor():
    grades = {"e": 1.0, "m": 0.5, "h": 0.3, "vh": 0.0}
    s = CurriculumSampler(["e", "m", "h", "vh", "new"], grades, thresholds=BOUNDS, tier_weights=WEIGHTS, floor=0.05)
    # very_easy's tier weight is 0 → the floor; ungraded is weighted like medium.
    assert s.weights().tolist() == pytest.approx([0.05, 1.0, 0.6, 0.2, 1.0])
    assert s.tier_histogram() == {"very_easy": 1, "easy": 0, "medium": 1, "hard": 1, "very_hard": 1, "ungraded": 1}
    metrics = s.metrics()
    assert metrics["curriculum/mass/medium"] == pytest.approx(1.0 / 2.85)
    assert metrics["curriculum/mean_pass_rate"] == pytest.approx(0.45)


def test_update_is_an_ema_of_batch_pass_rates_and_moves_tiers():
    s = CurriculumSampler(["a", "b"], {"a": 0.0}, thresholds=BOUNDS, tier_weights=WEIGHTS, ema_decay=0.5)
    assert s.tier("a") == "very_hard" and s.tier("b") == "ungraded"
    s.update(["a", "b", "a", "a", "b", "a"], [1, 1, 1, 0, 0, 1])
    assert s.pass_rate("a") == pytest.approx(0.5 * 0.0 + 0.5 * 0.75)
    assert s.pass_rate("b") == pytest.approx(0.5)  # first sight: the batch mean as is
    assert s.tier("a") == "hard" and s.tier("b") == "medium"
    s.update(["a"] * 4, [1.0] * 4)
    assert s.pass_rate("a") == pytest.approx(0.5 * 0.375 + 0.5 * 1.0)
    assert s.tier("a") == "easy"


def test_weights_change_only_at_reset():
    s = CurriculumSampler(["a", "b"], {"a": 0.5, "b": 0.5}, thresholds=BOUNDS, tier_weights=WEIGHTS, ema_decay=0.0)
    before = s.weights()
    s.update(["a"] * 8, [1.0] * 8)  # now very easy
    assert torch.equal(s.weights(), before)
    after = s.reset_weights()
    assert after[0].item() == pytest.approx(0.05) and after[1].item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("ids", "rewards", "match"),
    [(["a"], [1.5], "reward"), (["zz"], [1.0], "unknown record"), (["a", "a"], [1.0], "2 record ids")],
)
def test_update_rejects_bad_rollouts(ids, rewards, match):
    s = CurriculumSampler(["a"])
    with pytest.raises(ValueError, match=match):
        s.update(ids, rewards)


def test_sample_draws_distinct_indices_and_caps_at_dataset_size():
    s = CurriculumSampler([f"r{i}" for i in range(10)])
    draw = s.sample(7, torch.Generator().manual_seed(0))
    assert len(draw) == 7 and len(set(draw)) == 7
    assert draw == s.sample(7, torch.Generator().manual_seed(0))
    assert sorted(s.sample(50)) == list(range(10))
    assert s.sample(0) == []


def test_medium_records_are_drawn_far_more_often_than_very_easy_ones():
    ids = [f"r{i}" for i in range(100)]
    grades = {rid: (1.0 if i < 50 else 0.5) for i, rid in enumerate(ids)}  # half very easy, half medium
    s = CurriculumSampler(ids, grades, thresholds=BOUNDS, tier_weights=WEIGHTS, floor=0.05)
    medium_drawn = sum(i >= 50 for _ in range(20) for i in s.sample(20))
    # Weight 1 vs 0.05: under uniform sampling about half of the 400 draws would be medium.
    assert medium_drawn > 0.9 * 400


def test_floor_keeps_every_record_reachable():
    s = CurriculumSampler(["easy", "mid"], {"easy": 1.0, "mid": 0.5}, thresholds=BOUNDS, tier_weights=WEIGHTS)
    counts = Counter(s.sample(1)[0] for _ in range(400))
    assert counts[0] > 0  # weight 0 for very easy, yet drawn thanks to the floor
    assert counts[1] > counts[0]


def test_works_as_a_dataloader_sampler_and_reacts_to_updates_between_epochs():
    ids = [f"r{i}" for i in range(12)]
    dataset = TensorDataset(torch.arange(12))
    sampler = CurriculumSampler(ids, num_samples=8, thresholds=BOUNDS, tier_weights=WEIGHTS, seed=3)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler)
    epoch = [int(x) for (batch,) in loader for x in batch]
    assert len(epoch) == 8 == len(set(epoch)) == len(sampler)
    # The trainer reports every drawn record as solved: they turn very easy and the next epoch avoids them.
    sampler.update([ids[i] for i in epoch], [1.0] * len(epoch))
    next_epoch = [int(x) for (batch,) in loader for x in batch]
    assert sampler.weights()[epoch].max().item() == pytest.approx(sampler.floor)
    # Weight 1 against 0.05: the 4 untried records are all drawn (the chance one is missed is below 1e-3).
    assert len(set(next_epoch) - set(epoch)) == 4
    assert next_epoch != epoch


def test_uniform_weights_are_the_curriculum_off_baseline():
    s = CurriculumSampler(["a", "b", "c"], {"a": 1.0, "b": 0.0}, tier_weights=UNIFORM_TIER_WEIGHTS)
    assert s.weights().tolist() == [1.0, 1.0, 1.0]
    assert s.tier("a") == "very_easy"  # tiers are still tracked


def test_state_round_trips_through_json_and_continues_the_same_draws():
    ids = [f"r{i}" for i in range(20)]
    a = CurriculumSampler(ids, {"r0": 0.9}, thresholds=BOUNDS, tier_weights=WEIGHTS, seed=5)
    a.update(["r1", "r1", "r2", "r2"], [1, 0, 0, 0])
    list(a)
    a.sample(5)
    state = json.loads(json.dumps(a.state_dict()))
    b = CurriculumSampler(ids, thresholds=BOUNDS, tier_weights=WEIGHTS, seed=5)
    b.load_state_dict(state)
    assert b.pass_rate("r1") == a.pass_rate("r1") and b.pass_rate("r3") is None
    assert b.tier_histogram() == a.tier_histogram()
    assert b.sample(6) == a.sample(6)
    assert list(b) == list(a)


def test_load_state_refuses_another_dataset():
    a = CurriculumSampler(["x", "y"], {"x": 0.5})
    with pytest.raises(ValueError, match="records"):
        CurriculumSampler(["x"]).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="not in this dataset"):
        CurriculumSampler(["p", "q"]).load_state_dict(a.state_dict())
    with pytest.raises(ValueError, match="version"):
        CurriculumSampler(["x", "y"]).load_state_dict({"ids": []})


def test_construction_errors_are_clear():
    with pytest.raises(ValueError, match="unique"):
        CurriculumSampler(["a", "b", "a"])
    with pytest.raises(ValueError, match="str or int"):
        CurriculumSampler(["a", None])
    with pytest.raises(ValueError, match="at least one"):
        CurriculumSampler([])
    with pytest.raises(ValueError, match="share no record id"):
        CurriculumSampler(["a"], {"b": 0.5})
    with pytest.raises(ValueError, match="floor"):
        CurriculumSampler(["a"], floor=0.0)
    with pytest.raises(ValueError, match="num_samples"):
        CurriculumSampler(["a"], num_samples=2)
    assert len(TIERS) == 5


def test_offline_grade_samples_at_the_given_temperature_and_writes_tiers(tmp_path, monkeypatch):
    """`grade` end to end with the model replaced: k responses per record → pass rate → tier, file on disk."""
    from types import SimpleNamespace

    from thinkvl.data.synth import write_dataset
    from thinkvl.model.chat import format_response
    from thinkvl.rl import run as rl_run

    data = tmp_path / "data"
    write_dataset(data, ["counting"], n=2, seed=0, levels=[0])
    records = [json.loads(line) for line in (data / "records.jsonl").read_text().splitlines()]
    seen = []

    class FakeEngine:
        def __init__(self, bundle, batch_size):
            pass

        def generate(self, batch, root, params):
            seen.append(params)
            out = []
            for rec in batch:  # the first record: 3 of 4 right; the second: none
                right = str(rec.answer) if rec.id == records[0]["id"] else "99"
                for j in range(params.n):
                    box = right if j < 3 else "98"
                    out.append(SimpleNamespace(text=format_response("I count.", "It is", box)))
            return out

    monkeypatch.setattr(
        rl_run, "load_bundle", lambda model, **_: SimpleNamespace(model=SimpleNamespace(eval=lambda: None))
    )
    monkeypatch.setattr(rl_run, "TransformersEngine", FakeEngine)
    cfg = RLConfig(
        model="unused",
        data=str(data),
        grades=str(tmp_path / "grades.jsonl"),
        grade_k=4,
        temperature=0.6,
        top_p=0.9,
        difficulty_label_range=(0, 2),
        difficulty_label_weight=0.5,
    )
    grades = rl_run.grade(cfg, show_progress=False)
    assert {(p.temperature, p.top_p, p.n) for p in seen} == {(0.6, 0.9, 4)}
    assert {(p.thinking_budget, p.answer_budget) for p in seen} == {(cfg.thinking_budget, cfg.answer_budget)}
    assert grades[records[0]["id"]].pass_rate == 0.75 and grades[records[1]["id"]].pass_rate == 0.0
    # Synth level 0 is the easiest label of the range (0, 2): prior pass rate 1.0, weighted 0.5 against the measurement.
    assert grades[records[0]["id"]].estimate == pytest.approx(0.875)
    assert grades[records[1]["id"]].estimate == pytest.approx(0.5)
    assert read_grades(tmp_path / "grades.jsonl") == grades  # the file `thinkvl rl` and verl read
    # The label range is the config's: level-0 labels are outside the default scale (1, 5), and that is an error.
    with pytest.raises(ValueError, match=r"difficulty label must be an integer in \[1, 5\], got 0"):
        rl_run.grade(RLConfig(model="unused", data=str(data), grades=str(tmp_path / "g.jsonl")), show_progress=False)


def test_offline_grade_is_seeded_by_the_config_not_by_the_callers_random_state(tmp_path, monkeypatch):
    """A resumed pipeline skips the stages before grading, so the process's random state differs: the grades must
    not (they depend on sampling, here a coin per response drawn from torch's generator)."""
    from types import SimpleNamespace

    import torch

    from thinkvl.data.synth import write_dataset
    from thinkvl.model.chat import format_response
    from thinkvl.rl import run as rl_run

    data = tmp_path / "data"
    write_dataset(data, ["counting"], n=24, seed=0, levels=[0])

    class CoinEngine:
        def __init__(self, bundle, batch_size):
            pass

        def generate(self, batch, root, params):
            coins = torch.rand(len(batch) * params.n).tolist()
            return [
                SimpleNamespace(text=format_response("I count.", "It is", str(rec.answer) if c < 0.5 else "99"))
                for rec, c in zip((r for r in batch for _ in range(params.n)), coins, strict=True)
            ]

    monkeypatch.setattr(
        rl_run, "load_bundle", lambda model, **_: SimpleNamespace(model=SimpleNamespace(eval=lambda: None))
    )
    monkeypatch.setattr(rl_run, "TransformersEngine", CoinEngine)

    def graded(seed: int, state: int) -> dict[str, float]:
        torch.manual_seed(state)  # what ran before grading
        cfg = RLConfig(
            model="unused", data=str(data), grades=str(tmp_path / f"g{seed}_{state}.jsonl"), grade_k=4, seed=seed,
            difficulty_label_range=(0, 2),
        )  # fmt: skip
        return {rid: g.pass_rate for rid, g in rl_run.grade(cfg, show_progress=False).items()}

    assert graded(seed=0, state=1) == graded(seed=0, state=2)
    assert graded(seed=0, state=1) != graded(seed=1, state=1)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "Expecting property name"),
        ('{"estimate": 0.5, "tier": "medium"}', "'id'"),
        ('{"id": "b", "estimate": 0.5, "tier": "medium-ish"}', "unknown tier"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_a_malformed_grades_file_is_one_line_naming_file_and_line(tmp_path, line, why):
    path = tmp_path / "grades.jsonl"
    write_grades(path, {"a": GradeEntry(pass_rate=None, label=3, estimate=0.5, tier="medium")})
    path.write_text(path.read_text() + "\n" + line + "\n")  # a blank line, then the bad one (line 3)
    with pytest.raises(ValueError, match=f"^grades: {path} line 3: [^\n]*{why}") as err:
        read_grades(path)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=f"can't read {tmp_path / 'none.jsonl'}"):
        read_grades(tmp_path / "none.jsonl")
