"""Every shipped YAML config loads and validates; unknown keys and bad values are clear errors."""

from pathlib import Path

import pytest

from thinkvl.config import from_mapping, load_yaml
from thinkvl.demo import demo_config_path
from thinkvl.rl.config import RLConfig
from thinkvl.train.config import StageConfig

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["pretrain", "long_context", "sft"])
def test_9b_stage_configs_carry_the_reports_numbers(name):
    cfg = load_yaml(StageConfig, ROOT / "configs" / f"glm41v_9b_{name}.yaml")
    assert cfg.stage == name and cfg.dtype == "float32"  # fp32 master weights and optimizer state
    assert cfg.mixed_precision == "bf16" and cfg.activation_checkpointing and cfg.fsdp and cfg.sharded_checkpoints
    expected = {"pretrain": (8192, 1536, 120_000), "long_context": (32768, None, None), "sft": (32768, 32, None)}
    pack_len, batch, steps = expected[name]
    assert cfg.pack_len == pack_len
    if batch:
        assert cfg.batch_size == batch
    if steps:
        assert cfg.steps == steps


def test_rl_and_demo_configs_load():
    rl = load_yaml(RLConfig, ROOT / "configs" / "glm41v_9b_rl.yaml")
    assert (rl.kl_coef, rl.entropy_coef, rl.top_p, rl.loss_averaging) == (0.0, 0.0, 1.0, "sample")
    assert rl.clip_eps_high > rl.clip_eps_low
    assert rl.mixed_precision == "bf16" and rl.activation_checkpointing and rl.fsdp and rl.sharded_checkpoints
    for name in ("pretrain.yaml", "long_context.yaml", "sft_answer.yaml", "sft.yaml"):
        load_yaml(StageConfig, demo_config_path(name))
    load_yaml(RLConfig, demo_config_path("rl.yaml"))


def test_unknown_keys_and_bad_values_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown key.*pack_length"):
        from_mapping(StageConfig, {"pack_length": 10})
    with pytest.raises(ValueError, match="stage must be one of"):
        StageConfig(stage="rlhf")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        StageConfig(steps=0)
    with pytest.raises(FileNotFoundError):
        load_yaml(StageConfig, tmp_path / "missing.yaml")
