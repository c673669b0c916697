"""Sharded checkpoints: a 2-process FSDP run saves with torch.distributed.checkpoint (each rank its own file, no
full copy), and resuming it on 2 processes or on 1 gives the losses of a run that was never interrupted; the
final model is still a plain transformers directory."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.train.checkpoint import MARKER, SHARDS

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
TORCHRUN = str(Path(sys.executable).parent / "torchrun")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(TORCHRUN).exists(), reason="torchrun is installed with torch"),
]


def _config(tmp: Path, data: Path, out: str, steps: int) -> Path:
    cfg = {
        "stage": "sft",
        "model": "tiny",
        "data": str(data),
        "out": str(tmp / out),
        "pack_len": 256,
        "batch_size": 4,
        "micro_batch": 2,
        "steps": steps,
        "save_every": 2,
        "keep_last": 2,
        "lr": 1e-3,
        "warmup_steps": 1,
        "min_lr_ratio": 1.0,  # a constant rate after warm-up: the schedule doesn't depend on `steps`
        "vocab_size": 512,
        "fsdp": True,
        "data_shards": 2,  # the data streams, fixed: the data position then resumes on 1 or 2 processes
    }
    path = tmp / f"{out}-{steps}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(config: Path, procs: int, port: int) -> None:
    if procs == 1:
        cmd = [sys.executable, "-m", "thinkvl.cli", "sft", str(config)]
    else:
        cmd = [TORCHRUN, "--nproc_per_node", str(procs), "--master_port", str(port), "-m", "thinkvl.cli", "sft"]
        cmd.append(str(config))
    proc = subprocess.run(cmd, env=ENV, capture_output=True, timeout=400)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]


def _losses(out: Path) -> list[float]:
    return [r["train/loss"] for r in read_metrics(out / "metrics.jsonl") if "train/loss" in r]


def test_sharded_checkpoint_resumes_on_two_or_one_process(tmp_path):
    data = tmp_path / "data"
    write_dataset(data, domains=["counting", "choice"], n=3, seed=0, levels=[0])
    _run(_config(tmp_path, data, "straight", 4), 2, 29611)
    reference = _losses(tmp_path / "straight")
    assert len(reference) == 4

    _run(_config(tmp_path, data, "two", 2), 2, 29612)
    ckpt = tmp_path / "two" / "checkpoints" / "step-00000002"
    assert (ckpt / MARKER).is_file()
    shards = sorted(p.name for p in (ckpt / SHARDS).glob("*.distcp"))
    assert len(shards) == 2, shards  # each rank wrote its own part
    assert not list((ckpt / "model").glob("*.safetensors"))  # nothing gathered into a full copy
    shutil.copytree(tmp_path / "two", tmp_path / "one")

    _run(_config(tmp_path, data, "two", 4), 2, 29613)
    _run(_config(tmp_path, data, "one", 4), 1, 0)
    for run in ("two", "one"):
        torch.testing.assert_close(
            torch.tensor(_losses(tmp_path / run)), torch.tensor(reference), rtol=1e-5, atol=1e-5, msg=run
        )
    # The exported model is a plain transformers directory, with the same weights either way.
    from transformers import AutoModelForImageTextToText

    AutoModelForImageTextToText.from_pretrained(tmp_path / "one" / "model")
    a = load_file(tmp_path / "straight" / "model" / "model.safetensors")
    for run in ("two", "one"):
        b = load_file(tmp_path / run / "model" / "model.safetensors")
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-4, msg=f"{run}: {k}")
