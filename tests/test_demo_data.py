"""The demo's long-context data: a small interleaved web corpus and a long PDF, built in seconds, every sample
fitting the stage's packs; the report shows what the data pipeline kept and dropped."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from thinkvl.config import load_yaml
from thinkvl.data.loaders import load_records
from thinkvl.demo import demo_config_path, write_long_context_data
from thinkvl.model.bundle import save_bundle
from thinkvl.report import write_report
from thinkvl.train.config import StageConfig
from thinkvl.train.packing import pack
from thinkvl.train.samples import build_sample


@pytest.fixture(scope="module")
def long_data(tmp_path_factory, tiny_bundle):
    root = tmp_path_factory.mktemp("demo")
    model_dir = save_bundle(tiny_bundle, root / "pretrain" / "model")
    cfg = load_yaml(StageConfig, demo_config_path("long_context.yaml"))
    start = time.perf_counter()
    summary = write_long_context_data(root / "data" / "long_context", model_dir, cfg.pack_len)
    return root, cfg, summary, time.perf_counter() - start


def test_the_stage_config_is_long_context_pretraining(long_data):
    _, cfg, _, _ = long_data
    assert cfg.stage == "long_context" and cfg.sample_stage == "pretrain" and cfg.pack_len >= 1024


def test_interleaved_and_long_document_data_fit_the_packs(long_data, tiny_bundle):
    root, cfg, summary, seconds = long_data
    assert seconds < 20, f"{seconds:.1f} s"  # the demo's budget for this data (measured ~3 s on a busy machine)
    web = summary["interleaved"]
    assert web["documents_out"] < web["documents_in"] and web["images_out"] < web["images_in"]
    assert set(web["dropped"]) >= {"image_quality", "text_quality", "dedup"}
    docs = summary["long_documents"]
    assert docs["samples"] >= 1 and all(cfg.pack_len // 2 < t <= cfg.pack_len for t in docs["tokens"][:-1])
    data = root / "data" / "long_context"
    records = load_records(data, check_media=True).records
    assert {r.domain for r in records} == {"interleaved"}
    assert len(records) == web["documents_out"] + docs["samples"]
    samples = [build_sample(r, data, tiny_bundle.processor, tiny_bundle.model, "pretrain") for r in records]
    long = [s for s in samples if "-long-" in s.id]
    assert [len(s) for s in long] == docs["tokens"]
    _, stats = pack(samples, cfg.pack_len)
    assert stats.truncated == stats.dropped == 0
    again = write_long_context_data(data, root / "pretrain" / "model", cfg.pack_len)
    assert again == summary  # a rerun reuses what is there


def test_report_shows_what_the_pipeline_kept_and_dropped(long_data, tmp_path: Path):
    _, _, summary, _ = long_data
    (tmp_path / "summary.json").write_text(json.dumps({"pretrain_data": summary}))
    page = write_report(tmp_path).read_text()
    web = summary["interleaved"]
    assert "<h2>Pre-training data</h2>" in page
    assert f"documents {web['documents_in']} → {web['documents_out']} kept" in page
    for filt, kinds in web["dropped"].items():
        for code, n in kinds["images"].items():
            assert f"<th>{filt}</th><td>{code}</td><td>{n}</td>" in page
    assert f"{summary['long_documents']['pages']}-page PDF" in page
