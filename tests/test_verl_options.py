"""The verl plug-ins' options share `RLConfig`'s curriculum and expansion fields (names, defaults, checks) and are
read from a verl config node with one-line errors (plain thinkvl; the plug-ins themselves run in tests_verl/)."""

import dataclasses

import pytest

from thinkvl.config import ConfigError
from thinkvl.integrations.verl.options import DatasetOptions, SamplerOptions, read_options
from thinkvl.rl.config import CurriculumOptions, ExpansionOptions, RLConfig


def test_options_default_to_rl_configs_values_and_build_what_they_describe() -> None:
    for cls, shared in ((DatasetOptions, CurriculumOptions), (SamplerOptions, ExpansionOptions)):
        names = [f.name for f in dataclasses.fields(shared)]
        assert names and all(getattr(cls(), n) == getattr(RLConfig(), n) for n in names)
    weights = {"very_easy": 0.0, "easy": 1, "medium": 4, "hard": 1, "very_hard": 0}
    options = read_options(DatasetOptions, {"weight_floor": 0.2, "tier_weights": weights}, "data.rlcs")
    sampler = options.curriculum_sampler(["a", "b"], None, options.seed)
    assert sampler.floor == 0.2 and sampler.tier_weights["medium"] == 4.0
    uniform = read_options(DatasetOptions, {"curriculum": False}, "data.rlcs").curriculum_sampler(["a"], None, 0)
    assert set(uniform.tier_weights.values()) == {1.0}  # RLConfig's ablation switch works in verl too
    assert read_options(SamplerOptions, None, "kw").expansion_controller().cap == RLConfig().expansion_cap


@pytest.mark.parametrize(
    ("cls", "node", "message"),
    [
        (DatasetOptions, {"floor": 0.1}, "kw: unknown key(s) floor; allowed: curriculum, curriculum_name,"),
        (DatasetOptions, {"weight_floor": "high"}, "kw: weight_floor must be a number, got 'high'"),
        (DatasetOptions, {"curriculum": "rlcs"}, "kw: curriculum must be true or false, got 'rlcs'"),
        (DatasetOptions, {"tier_weights": {"medium": 1}}, "kw: DatasetOptions.tier_weights: "),
        (SamplerOptions, {"expansion_cap": 0.5}, "kw: SamplerOptions.expansion_cap: must be a finite number in [1,"),
        (SamplerOptions, {"gen_batch_size": 0}, "kw: gen_batch_size must be >= 1"),
        (SamplerOptions, {"expansion_decay": 0.9}, "kw: unknown key(s) expansion_decay; allowed:"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_key(cls, node, message) -> None:
    with pytest.raises(ConfigError) as err:
        read_options(cls, node, "kw")
    assert str(err.value).startswith(message) and "\n" not in str(err.value)
