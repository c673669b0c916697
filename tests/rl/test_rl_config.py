"""RLConfig: report defaults, help text on every field, YAML round trip, validation naming the field."""

from __future__ import annotations

from dataclasses import fields

import pytest
import yaml

from thinkvl.config import from_mapping, help_text
from thinkvl.model import tokens as T
from thinkvl.rl.config import RLConfig


def test_defaults_follow_the_report():
    c = RLConfig()
    assert (c.group_size, c.temperature, c.top_p) == (8, 1.0, 1.0)
    assert (c.clip_eps_low, c.clip_eps_high) == (0.2, 0.28)
    assert c.loss_averaging == "sample"
    assert c.kl_coef == 0.0 and c.entropy_coef == 0.0
    assert c.dynamic_sampling and c.curriculum


def test_every_field_has_help_and_key_fields_cite_papers():
    for f in fields(RLConfig):
        assert f.metadata.get("help"), f"{f.name} has no help text"
    papers = {f.name: f.metadata.get("paper", "") for f in fields(RLConfig)}
    assert "2503.14476" in papers["clip_eps_high"]  # DAPO clip-higher
    assert "2507.01006" in papers["loss_averaging"]
    assert help_text(RLConfig)["top_p"].startswith("Nucleus")
    assert help_text(RLConfig)["clip_eps_high"].endswith("[https://arxiv.org/abs/2503.14476]")


def test_yaml_maps_onto_the_dataclass_one_to_one():
    text = """
    group_size: 4
    clip_eps_high: 0.3
    loss_averaging: token
    tis_cap: null
    force_answer_marker: end_of_solution
    tier_weights: {very_easy: 0, easy: 0.5, medium: 1, hard: 0.5, very_hard: 0}
    difficulty_label_range: [0, 3]
    """
    c = from_mapping(RLConfig, yaml.safe_load(text))
    assert c.group_size == 4 and c.loss_averaging == "token" and c.tis_cap is None
    assert c.difficulty_label_range == (0, 3)
    assert c.force_answer_text == T.END_OF_SOLUTION
    assert RLConfig().force_answer_text == T.THINK_CLOSE + T.ANSWER_OPEN
    again = from_mapping(RLConfig, yaml.safe_load(yaml.safe_dump(c.to_dict())))
    assert again == c


def test_unknown_keys_are_refused():
    with pytest.raises(ValueError, match="clip_eps_hgh"):
        from_mapping(RLConfig, {"clip_eps_hgh": 0.3})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("group_size", 1),
        ("temperature", 0.0),
        ("top_p", 1.5),
        ("clip_eps_low", 1.0),
        ("clip_eps_high", -0.1),
        ("loss_averaging", "batch"),
        ("force_answer_marker", "eos"),
        ("kl_coef", -1.0),
        ("tis_cap", 0.0),
        ("expansion_ema_decay", 1.0),
        ("expansion_cap", 0.5),
        ("weight_floor", 0.0),
        ("pass_rate_ema_decay", float("nan")),
        ("tier_thresholds", {"very_easy": 0.1, "easy": 0.6, "medium": 0.4, "hard": 0.2}),
        ("tier_weights", {"medium": 1.0}),
        ("difficulty_label_range", [5, 1]),
        ("micro_batch_size", 48),
        ("iterations", 0),
        ("curriculum", "yes"),
        ("lr", 0),
    ],
)
def test_invalid_values_raise_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        RLConfig(**{field: value})


def test_sampling_params_carry_every_sampling_field():
    from thinkvl.rl.config import sampling_params

    cfg = RLConfig(
        temperature=0.7, top_p=0.9, thinking_budget=99, answer_budget=11, force_answer_marker="end_of_solution"
    )
    p = sampling_params(cfg)
    assert (p.n, p.temperature, p.top_p, p.thinking_budget, p.answer_budget) == (8, 0.7, 0.9, 99, 11)
    assert p.force_marker == "end_of_solution" and not p.greedy
    assert sampling_params(cfg, n=3).n == 3


def test_budget_defaults_are_stated_once():
    import argparse
    import inspect

    from thinkvl.eval.runner import EvalConfig
    from thinkvl.model import commands as chat
    from thinkvl.model.generate import SamplingParams, make_generate

    budgets = (T.THINKING_BUDGET, T.ANSWER_BUDGET)
    assert (RLConfig().thinking_budget, RLConfig().answer_budget) == budgets
    assert (SamplingParams().thinking_budget, SamplingParams().answer_budget) == budgets
    assert EvalConfig().answer_budget == T.ANSWER_BUDGET
    assert inspect.signature(make_generate).parameters["answer_budget"].default == T.ANSWER_BUDGET
    parser = argparse.ArgumentParser()
    chat.add_commands(parser.add_subparsers())
    args = parser.parse_args(["chat", "q", "--model", "m"])
    assert (args.thinking_budget, args.answer_budget) == budgets
