"""Config: YAML maps 1:1 onto the dataclasses; bad configs fail with the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from thinkvl.config import help_text
from thinkvl.data.pipeline.config import (
    ConfigError,
    DedupConfig,
    FilterPipelineConfig,
    ImageQualityConfig,
    RelevanceConfig,
    TextQualityConfig,
    load_pipeline_config,
    pipeline_from_mapping,
    to_mapping,
)

DEMO = Path(__file__).parents[2] / "configs" / "data_filter_demo.yaml"


def test_demo_config_loads_and_round_trips() -> None:
    cfg = load_pipeline_config(DEMO)
    assert [type(f) for f in cfg.filters] == [ImageQualityConfig, TextQualityConfig, DedupConfig]
    assert Path(cfg.input).resolve() == (DEMO.parents[1] / "data" / "pairs").resolve()  # relative to the YAML
    assert pipeline_from_mapping(yaml.safe_load(yaml.safe_dump(to_mapping(cfg)))) == cfg


def test_every_field_has_help() -> None:
    for cls in (FilterPipelineConfig, ImageQualityConfig, TextQualityConfig, RelevanceConfig, DedupConfig):
        assert all(text.strip() for text in help_text(cls).values()), cls


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"output": "o", "filters": [{"dedup": {}}]}, "input"),
        ({"input": "i", "output": "o", "filters": []}, "at least one filter"),
        ({"input": "i", "output": "o", "filters": [{"sharpen": {}}]}, "unknown filter 'sharpen'"),
        ({"input": "i", "output": "o", "filters": [{"dedup": {"bands": 7}}]}, "dedup.bands"),
        ({"input": "i", "output": "o", "filters": [{"dedup": {"image_hash": "md5"}}]}, "image_hash"),
        ({"input": "i", "output": "o", "filters": [{"image_quality": {"min_side": "big"}}]}, "min_side"),
        ({"input": "i", "output": "o", "filters": [{"image_quality": {"min_sides": 3}}]}, "unknown key.*min_sides"),
        ({"input": "i", "output": "o", "filters": [{"relevance": {}}]}, "relevance.model"),
        ({"input": "i", "output": "o", "filters": [{"relevance": {"model": "m", "threshold": 3}}]}, "threshold"),
        ({"input": "i", "output": "o", "filters": [{"text_quality": {"language": "fr"}}]}, "language"),
        ({"input": "i", "output": "o", "filters": [{"dedup": {}}, {"text_quality": {}}]}, "dedup must be the last"),
        ({"input": "i", "output": "o", "filters": [{"dedup": {}}, {"dedup": {}}]}, "at most once"),
        ({"input": "i", "output": "i", "filters": [{"dedup": {}}]}, "must differ from input"),
        ({"input": "i", "output": "o", "workers": 0, "filters": [{"dedup": {}}]}, "workers"),
        ({"input": "i", "output": "o", "colour": 1, "filters": [{"dedup": {}}]}, "unknown key.*colour"),
        ({"input": "i", "output": "o", "filters": [{"dedup": {}, "text_quality": {}}]}, "one-key mapping"),
    ],
)
def test_bad_configs_name_the_problem(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        pipeline_from_mapping(data)


def test_yaml_errors_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_pipeline_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline_config(tmp_path / "missing.yaml")
