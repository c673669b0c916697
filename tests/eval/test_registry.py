"""The benchmark table: the report's 28 benchmarks in 8 groups, each with a loader, a metric and a data source."""

from __future__ import annotations

from collections import Counter

import pytest

from thinkvl.eval.loaders import LOADERS
from thinkvl.eval.metrics import METRICS
from thinkvl.eval.registry import (
    BENCHMARK_LIST,
    BENCHMARKS,
    REPORT_BENCHMARKS,
    BenchmarkError,
    get_benchmark,
    resolve_tasks,
)
from thinkvl.reward import VERIFIERS


def test_28_benchmarks_in_8_groups_as_the_report_counts_them():
    report = [BENCHMARKS[n] for n in REPORT_BENCHMARKS]
    assert len(report) == 28
    sizes = Counter(b.group for b in report)
    assert sizes == {
        "General VQA": 5,
        "STEM": 6,
        "OCR & Chart": 3,
        "Long document": 1,
        "Grounding": 1,
        "GUI agents": 5,
        "Coding": 2,
        "Video": 5,  # VideoMME without and with subtitles count as two
    }
    assert {"videomme", "videomme_sub"} <= set(REPORT_BENCHMARKS)


def test_every_benchmark_is_wired_to_a_loader_a_metric_and_known_verifiers():
    import thinkvl.eval.verifiers  # noqa: F401  (registers the benchmark-specific verifiers)

    for b in BENCHMARK_LIST:
        assert b.loader in LOADERS, b.name
        assert b.metric in METRICS, b.name
        assert b.hf_id or b.files, b.name
        for verifier in b.verifiers.values():
            assert verifier in VERIFIERS, (b.name, verifier)
        assert set(b.verifiers) <= set(b.domains), b.name


def test_live_environments_and_renderers_are_marked_with_what_they_need():
    blocked = {b.name for b in BENCHMARK_LIST if not b.runnable}
    assert blocked == {"osworld", "androidworld", "webvoyager"}
    rendered = {b.name for b in BENCHMARK_LIST if b.scoring == "render"}
    assert rendered == {"design2code", "flame_react"} and all("Chromium" in BENCHMARKS[n].needs for n in rendered)
    with pytest.raises(BenchmarkError, match="live Ubuntu virtual machine"):
        get_benchmark("OSWorld").require_runnable()


def test_resolve_tasks_expands_groups_and_keywords_without_duplicates():
    assert [b.name for b in resolve_tasks(["Video"])] == ["videomme", "videomme_sub", "mmvu", "lvbench", "motionbench"]
    assert len(resolve_tasks(["all"])) == 28
    offline = resolve_tasks(["offline"])
    assert len(offline) == 25 and all(b.runnable for b in offline)
    assert [b.name for b in resolve_tasks(["ocrbench,OCRBench", "mathvista"])] == ["ocrbench", "mathvista"]
    with pytest.raises(BenchmarkError, match="unknown benchmark 'mmlu'"):
        resolve_tasks(["mmlu"])
