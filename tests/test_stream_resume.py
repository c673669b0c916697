"""A training run killed (SIGKILL, the whole process group) mid-epoch resumes from the checkpoint's data position
to the same losses as an uninterrupted run: 1 process and 2 processes (gloo), 2 DataLoader workers each, a packing
buffer smaller than the epoch so the resume has to rebuild a flush."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.train.checkpoint import MARKER, latest_checkpoint, load_state

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
TORCHRUN = Path(sys.executable).parent / "torchrun"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("resume_data")
    write_dataset(root, domains=["counting", "chart", "video"], n=4, seed=0)
    return root


def _config(tmp: Path, data: Path, out: str, **over) -> Path:
    cfg = {
        "stage": "sft",
        "model": "tiny",
        "data": str(data),
        "out": str(tmp / out),
        "pack_len": 256,
        "pack_buffer": 3,
        "num_workers": 2,
        "batch_size": 2,
        "micro_batch": 1,
        "steps": 6,
        "save_every": 2,
        "lr": 1e-3,
        "warmup_steps": 1,
        "vocab_size": 512,
        "domain_weights": {"chart": 1.5},
        **over,
    }
    path = tmp / f"{out}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _losses(out: Path) -> list[float]:
    return [r["train/loss"] for r in read_metrics(out / "metrics.jsonl") if "train/loss" in r]


def _free_port() -> int:
    with socket.socket() as s:  # other jobs on a shared machine may hold any fixed port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(config: Path, processes: int) -> subprocess.Popen:
    launch = [sys.executable]
    if processes == 2:
        launch = [str(TORCHRUN), "--nproc_per_node", "2", "--master_port", str(_free_port())]
    return subprocess.Popen(
        [*launch, "-m", "thinkvl.cli", "sft", str(config)],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: SIGKILL reaches the trainers and their workers
    )


def _finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode()[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_sigkilled_run_resumes_mid_epoch_to_identical_losses(tmp_path, data_dir, processes):
    # The reference is one uninterrupted process with as many data streams as the killed run has processes.
    _finish(_start(_config(tmp_path, data_dir, "straight", data_shards=processes), 1))
    reference = _losses(tmp_path / "straight")
    assert len(reference) == 6

    killed = _config(tmp_path, data_dir, "killed")
    proc = _start(killed, processes)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 600
    while not (ckpts / "step-00000004" / MARKER).exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        assert time.time() < deadline
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    state = load_state(latest_checkpoint(ckpts))
    assert sorted(state["data"]) == [str(s) for s in range(processes)]  # every stream's position, gathered
    # Past the first flush of epoch 0: the resume re-encodes a later flush and skips the packs already used.
    assert any(pos["start"] > 0 or pos["epoch"] > 0 for pos in state["data"].values()), state["data"]
    _finish(_start(killed, processes))
    torch.testing.assert_close(
        torch.tensor(_losses(tmp_path / "killed")), torch.tensor(reference), rtol=1e-5, atol=1e-5
    )
