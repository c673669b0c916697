"""The same chain on Ray Data (a local Ray instance) keeps exactly what the local runner keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_testdata import DatasetBuilder

from thinkvl.data.pipeline.config import (
    ConfigError,
    DedupConfig,
    FilterPipelineConfig,
    ImageQualityConfig,
    TextQualityConfig,
)
from thinkvl.data.pipeline.runner import run_filter_pipeline

pytestmark = pytest.mark.slow  # multi-process

ray = pytest.importorskip("ray", reason="Ray is an optional dependency: pip install 'ray[data]'")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def config(src: Path, out: Path, workers: int = 1) -> FilterPipelineConfig:
    filters = [ImageQualityConfig(), TextQualityConfig(), DedupConfig()]
    return FilterPipelineConfig(input=str(src), output=str(out), filters=filters, chunk_size=6, workers=workers)


def test_ray_run_equals_local_run(local_ray, messy: DatasetBuilder, tmp_path: Path) -> None:
    from thinkvl.data.pipeline.ray_runner import run_filter_pipeline_ray

    with (messy.root / "records.jsonl").open("ab") as f:
        f.write(b"\xff\xfe not utf-8\n" + b"x" * 2_000_000 + b"\n")  # bad bytes, and a line over max_line_bytes

    local = run_filter_pipeline(config(messy.root, tmp_path / "local"))
    on_ray = run_filter_pipeline_ray(config(messy.root, tmp_path / "ray"))
    assert (tmp_path / "ray" / "records.jsonl").read_bytes() == (tmp_path / "local" / "records.jsonl").read_bytes()
    ids = [json.loads(line)["id"] for line in (tmp_path / "ray" / "records.jsonl").read_text().splitlines()]
    assert ids == messy.expected_kept()
    assert on_ray.stages["read"].reasons["bad_utf8"] == 1 and on_ray.stages["read"].reasons["line_too_long"] == 1
    assert [s.summary() for s in on_ray.stages.values()] == [s.summary() for s in local.stages.values()]

    with pytest.raises(ConfigError, match="CPUs"):  # two actors would hold both CPUs and starve the reader
        run_filter_pipeline_ray(config(messy.root, tmp_path / "ray2", workers=2))
