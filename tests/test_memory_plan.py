"""The 9B stage configs fit GPU memory by benchmarks/memory.py's estimate, at the GPU counts their comments
state: the 32K stages fit 80 GB GPUs on 8 only because of the chunked LM head."""

import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from thinkvl.config import load_yaml
from thinkvl.train.config import StageConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import memory  # noqa: E402


@pytest.fixture(scope="module")
def dims():
    return memory.dims_9b()


@pytest.mark.parametrize("name", ["long_context", "sft", "pretrain"])
def test_configs_fit_80_and_141_gb_at_the_gpu_counts_they_state(name, capsys):
    path = ROOT / "configs" / f"glm41v_9b_{name}.yaml"
    stated = re.search(r"fits 80 GB GPUs from (\d+) GPUs, 141 GB GPUs from (\d+)", path.read_text())
    assert stated, f"{path.name} states no memory plan"
    plan = memory.plan_configs([path])[path.name]
    assert list(plan.values()) == [int(stated[1]), int(stated[2])]
    assert plan["80 GB (A100/H100)"] <= 8 and plan["141 GB (H200)"] <= 8
    assert path.name in capsys.readouterr().out


def test_32k_needs_the_chunked_head(dims):
    cfg = load_yaml(StageConfig, ROOT / "configs" / "glm41v_9b_sft.yaml")
    chunked = memory.estimate(dims, memory.config_setting(cfg, dims, 8))
    full = memory.estimate(dims, replace(memory.config_setting(cfg, dims, 8), loss_chunk=None))
    assert memory.total(chunked) <= memory.HEADROOM * 80 * memory.GB < memory.total(full)
    assert full["logits"] > 80 * memory.GB and chunked["logits"] < memory.GB
