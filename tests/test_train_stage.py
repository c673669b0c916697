"""The supervised trainer end to end: a real subprocess killed mid-run resumes to the same losses, checkpoints
are atomic transformers directories, and 2-process data parallel equals one process with the same batch."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.model import load_bundle
from thinkvl.train.checkpoint import MARKER, latest_checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stage_data")
    write_dataset(root, domains=["counting", "choice", "video"], n=3, seed=0, levels=[0])
    return root


def _config(tmp: Path, data: Path, out: str, **over) -> Path:
    cfg = {
        "stage": "sft",
        "model": "tiny",
        "data": str(data),
        "out": str(tmp / out),
        "pack_len": 256,
        "batch_size": 2,
        "micro_batch": 1,
        "steps": 6,
        "save_every": 2,
        "keep_last": 2,
        "lr": 1e-3,
        "warmup_steps": 1,
        "vocab_size": 512,
        **over,
    }
    path = tmp / f"{out}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _losses(out: Path) -> list[float]:
    return [r["train/loss"] for r in read_metrics(out / "metrics.jsonl") if "train/loss" in r]


def _run(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "thinkvl.cli", *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw
    )


@pytest.mark.slow
def test_killed_run_resumes_to_identical_losses(tmp_path, data_dir):
    straight = _config(tmp_path, data_dir, "straight")
    assert _run(["sft", str(straight)]).wait(timeout=300) == 0
    reference = _losses(tmp_path / "straight")
    assert len(reference) == 6

    killed = _config(tmp_path, data_dir, "killed")
    proc = _run(["sft", str(killed)])
    deadline = time.time() + 300
    ckpts = tmp_path / "killed" / "checkpoints"
    while not (ckpts / "step-00000004" / MARKER).exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert latest_checkpoint(ckpts).name in ("step-00000004", "step-00000006")
    assert len(_losses(tmp_path / "killed")) < 6 or (ckpts / "step-00000006").exists()
    assert _run(["sft", str(killed)]).wait(timeout=300) == 0
    torch.testing.assert_close(torch.tensor(_losses(tmp_path / "killed")), torch.tensor(reference), rtol=0, atol=1e-5)
    # Only complete checkpoints remain, the last K of them, each a model directory the model layer loads.
    remaining = sorted(p.name for p in ckpts.iterdir())
    assert remaining == ["step-00000004", "step-00000006"]
    load_bundle(ckpts / "step-00000006" / "model")
    a = load_file(tmp_path / "killed" / "model" / "model.safetensors")
    b = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_half_written_checkpoint_is_ignored(tmp_path):
    parent = tmp_path / "checkpoints"
    (parent / "step-00000002").mkdir(parents=True)
    (parent / "step-00000002" / MARKER).write_text("ok")
    (parent / "step-00000004").mkdir()  # no marker: a crash mid-save
    (parent / ".step-00000006.tmp").mkdir()
    assert latest_checkpoint(parent).name == "step-00000002"


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not (Path(sys.executable).parent / "torchrun").exists(),
    reason="torchrun is installed with torch",
)
@pytest.mark.slow
@pytest.mark.parametrize("fsdp", [False, True], ids=["ddp", "fsdp"])
def test_two_process_data_parallel_matches_one_process(tmp_path, data_dir, fsdp):
    common = {"steps": 3, "save_every": 3, "batch_size": 4, "micro_batch": 2, "overflow": "truncate"}
    single = _config(tmp_path, data_dir, "single", **common, data_shards=2)  # the 2 processes' data streams
    assert _run(["sft", str(single)]).wait(timeout=300) == 0
    dp = _config(tmp_path, data_dir, "dp", **common, fsdp=fsdp)
    torchrun = str(Path(sys.executable).parent / "torchrun")
    proc = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", str(29533 + fsdp), "-m", "thinkvl.cli", "sft", str(dp)],
        env=ENV,
        capture_output=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    a = load_file(tmp_path / "single" / "model" / "model.safetensors")
    b = load_file(tmp_path / "dp" / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:  # Adam turns summation-order noise in near-zero gradients into ~1e-5 parameter noise
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-4, msg=k)
    torch.testing.assert_close(
        torch.tensor(_losses(tmp_path / "dp")), torch.tensor(_losses(tmp_path / "single")), rtol=1e-5, atol=1e-5
    )
    # Adam is blind to a gradient scale error; the logged gradient norms are not.
    norms = [
        [r["train/grad_norm"] for r in read_metrics(tmp_path / run / "metrics.jsonl") if "train/grad_norm" in r]
        for run in ("single", "dp")
    ]
    torch.testing.assert_close(torch.tensor(norms[1]), torch.tensor(norms[0]), rtol=1e-4, atol=1e-6)
    meta = read_metrics(tmp_path / "dp" / "metrics.jsonl")[0]
    assert json.loads(json.dumps(meta))["packing/fill"] > 0


def test_domain_weights_repeat_samples_by_domain():
    from types import SimpleNamespace

    from thinkvl.train.config import StageConfig
    from thinkvl.train.trainer import oversample

    samples = [SimpleNamespace(id=f"{d}-{i}") for d in "abc" for i in range(400)]
    domain_of = {s.id: s.id.split("-")[0] for s in samples}
    out = oversample(samples, domain_of, {"a": 2.0, "b": 0.5, "c": 0.0}, seed=0)
    counts = {d: sum(domain_of[s.id] == d for s in out) for d in "abc"}
    assert counts["a"] == 800 and counts["c"] == 0
    assert 160 <= counts["b"] <= 240  # half of 400, drawn
    assert [s.id for s in out] == [s.id for s in oversample(samples, domain_of, {"a": 2, "b": 0.5, "c": 0}, seed=0)]
    assert len(oversample(samples, domain_of, {}, seed=0)) == len(samples)
    with pytest.raises(ValueError, match="domain_weights"):
        StageConfig(domain_weights={"a": -1.0})
    with pytest.raises(ValueError, match=r"no samples: \['ocrr'\]"):
        oversample(samples, domain_of, {"ocrr": 2.0}, seed=0)
