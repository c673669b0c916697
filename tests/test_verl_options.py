"""The verl plug-ins' options share `RLConfig`'s curriculum and expansion fields: the same names, defaults and
checks, read from a verl config node with one-line errors (plain thinkvl; the plug-ins are tested in tests_verl/)."""

from __future__ import annotations

import dataclasses

import pytest

from thinkvl.config import ConfigError
from thinkvl.integrations.verl.options import DatasetOptions, SamplerOptions, read_options
from thinkvl.rl.config import CurriculumOptions, ExpansionOptions, RLConfig


@pytest.mark.parametrize(("cls", "shared"), [(DatasetOptions, CurriculumOptions), (SamplerOptions, ExpansionOptions)])
def test_plug_in_options_default_to_rl_configs_values(cls, shared) -> None:
    rl, options = RLConfig(), cls()
    names = [f.name for f in dataclasses.fields(shared)]
    assert names and {n: getattr(options, n) for n in names} == {n: getattr(rl, n) for n in names}


def test_dataset_options_build_the_curriculum_they_describe() -> None:
    node = {"curriculum_name": "x", "seed": 3, "weight_floor": 0.2, "tier_weights": {"very_easy": 0.0, "easy": 1,
            "medium": 4, "hard": 1, "very_hard": 0}}  # fmt: skip
    options = read_options(DatasetOptions, node, "data.rlcs")
    sampler = options.curriculum_sampler(["a", "b"], None, options.seed)
    assert sampler.floor == 0.2 and sampler.tier_weights["medium"] == 4.0
    uniform = read_options(DatasetOptions, {"curriculum": False}, "data.rlcs").curriculum_sampler(["a"], None, 0)
    assert set(uniform.tier_weights.values()) == {1.0}  # the RLConfig ablation switch works here too
    assert read_options(SamplerOptions, None, "kw").expansion_controller().cap == RLConfig().expansion_cap


@pytest.mark.parametrize(
    ("cls", "node", "message"),
    [
        (DatasetOptions, {"floor": 0.1}, "data.rlcs: unknown key(s) floor; allowed: curriculum, curriculum_name,"),
        (DatasetOptions, {"weight_floor": "high"}, "data.rlcs: weight_floor must be a number, got 'high'"),
        (DatasetOptions, {"curriculum": "rlcs"}, "data.rlcs: curriculum must be true or false, got 'rlcs'"),
        (DatasetOptions, {"tier_weights": {"medium": 1}}, "data.rlcs: DatasetOptions.tier_weights: "),
        (SamplerOptions, {"expansion_cap": 0.5}, "kw: SamplerOptions.expansion_cap: must be a finite number in [1,"),
        (SamplerOptions, {"gen_batch_size": 0}, "kw: gen_batch_size must be >= 1"),
        (SamplerOptions, {"expansion_decay": 0.9}, "kw: unknown key(s) expansion_decay; allowed:"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_key(cls, node, message) -> None:
    with pytest.raises(ConfigError) as err:
        read_options(cls, node, "kw" if cls is SamplerOptions else "data.rlcs")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
