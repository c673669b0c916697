"""RL across 2 gloo processes: the policy wrapped in DDP or FSDP2 ends with the weights of 1 process that trained
on the same global batch, the DDP ranks agree after every iteration, and a run resumed from a full (gathered) FSDP
checkpoint ends where an uninterrupted one does. The engine really generates (under FSDP, ranks sample different
lengths, so the gathered-parameter generation path is exercised) but returns rollouts fixed by record id, so that
every run trains on identical data whatever its process count."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.model import create_bundle, save_bundle

TORCHRUN = str(Path(sys.executable).parent / "torchrun")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(TORCHRUN).exists(), reason="torchrun is installed with torch"),
]

SCRIPT = """
import hashlib, json, os, random, sys
from thinkvl.model.generate import Rollout, TransformersEngine
from thinkvl.reward import Verdict
from thinkvl.rl.config import RLConfig
from thinkvl.rl import run as R

class HashReward:
    def score_batch(self, texts, records, **_):
        rewards = [float(hashlib.sha256(t.encode()).digest()[0] % 2) for t in texts]
        return [Verdict(reward=r, correct=r > 0.5, extracted=None, format_ok=True) for r in rewards]

class FixedEngine(TransformersEngine):
    def generate(self, records, root, params):
        super().generate(records, root, params)  # real sampling through the (possibly sharded) policy
        out = []
        for r in records:
            for k in range(params.n):
                rng = random.Random(f"{r.id}/{k}")
                ids = [rng.randrange(100, 400) for _ in range(rng.randrange(3, 7))]
                text = self.tokenizer.decode(ids)
                out.append(Rollout(r.id, text, ids, [-1.0] * len(ids), [1] * len(ids)))
        return out

R.make_engine = lambda cfg, bundle, *_: FixedEngine(bundle, batch_size=cfg.rollout_batch_size)
cfg = RLConfig(**json.loads(sys.argv[1]))
step = R.RLCSTrainer.step

def step_and_digest(self):  # under DDP, a digest of this rank's weights after every iteration
    metrics = step(self)
    if not cfg.fsdp and "RANK" in os.environ:
        sd = self.bundle.model.state_dict()
        with open(os.path.join(cfg.out, f"digest-{self.iteration}-{os.environ['RANK']}.txt"), "w") as f:
            f.write(hashlib.sha256(b"".join(sd[k].numpy().tobytes() for k in sorted(sd))).hexdigest())
    return metrics

R.RLCSTrainer.step = step_and_digest
os.makedirs(cfg.out, exist_ok=True)
R.run_rl(cfg, reward=HashReward(), show_progress=False)
"""


BASE = dict(
    iterations=2,
    prompts_per_iteration=4,
    group_size=4,
    thinking_budget=6,
    answer_budget=4,
    mini_batch_size=8,  # 16 responses: 2 optimizer steps per iteration, "old" log-probs taken first
    micro_batch_size=2,  # gradient accumulation (DDP no_sync) within a step
    lr=1e-3,
    save_every=2,
    rollout_batch_size=16,
    dynamic_sampling=False,
)
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The data, the starting model, the launcher script and a one-process reference run of 2 iterations."""
    root = tmp_path_factory.mktemp("rl")
    write_dataset(root / "data", domains=["counting", "choice"], n=4, seed=0, levels=[0])
    save_bundle(create_bundle("tiny", seed=0, vocab_size=512), root / "model")
    (root / "rl_fixed.py").write_text(SCRIPT)
    _launch(root, "single", 1)
    return root


def _launch(root: Path, name: str, procs: int, port: int = 0, **overrides) -> Path:
    cfg = json.dumps(
        {**BASE, "model": str(root / "model"), "data": str(root / "data"), "out": str(root / name), **overrides}
    )
    script = str(root / "rl_fixed.py")
    cmd = [sys.executable, script, cfg]
    if procs > 1:
        cmd = [TORCHRUN, "--nproc_per_node", str(procs), "--master_port", str(port), script, cfg]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, timeout=400)
    assert proc.returncode == 0, f"{name}: " + proc.stderr.decode()[-3000:]
    return root / name


def _assert_same_weights(root: Path, name: str) -> None:
    ref = load_file(root / "single" / "model" / "model.safetensors")
    got = load_file(root / name / "model" / "model.safetensors")
    assert got.keys() == ref.keys()
    for k in ref:  # Adam turns summation-order noise in near-zero gradients into ~1e-5 parameter noise
        torch.testing.assert_close(got[k], ref[k], rtol=1e-4, atol=1e-4, msg=f"{name}: {k}")


def test_sharded_rl_matches_one_process(setup):
    ref = load_file(setup / "single" / "model" / "model.safetensors")
    start = load_file(setup / "model" / "model.safetensors")
    assert any(not torch.equal(ref[k], start[k]) for k in ref)  # the policy was updated
    for name, fsdp in (("ddp", False), ("fsdp", True)):
        _launch(setup, name, 2, 29641 + fsdp, fsdp=fsdp)
        _assert_same_weights(setup, name)
    rows = read_metrics(setup / "ddp" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["groups/trained"] == 4
    assert rows[-1]["rollouts/total"] == 2 * 4 * 4  # every prompt's group counted once, across both ranks
    for it in (1, 2):
        digests = {(setup / "ddp" / f"digest-{it}-{rank}.txt").read_text() for rank in (0, 1)}
        assert len(digests) == 1, f"ranks disagree on the weights after iteration {it}"
    assert (setup / "fsdp" / "checkpoints" / "iter-000002" / "dcp").is_dir()  # the RL checkpoint is sharded


def test_rl_resumes_from_a_full_fsdp_checkpoint(setup):
    """FSDP with sharded_checkpoints off saves a full (gathered) checkpoint; stopping after iteration 1 and
    resuming to 2 on 2 processes ends with the weights of the uninterrupted run: the optimizer state is put back
    into the sharded optimizer, not dropped or refused."""
    full = {"fsdp": True, "sharded_checkpoints": False, "save_every": 1}
    _launch(setup, "resumed", 2, 29643, iterations=1, **full)
    checkpoint = setup / "resumed" / "checkpoints" / "iter-000001"
    assert (checkpoint / "model" / "model.safetensors").is_file() and not (checkpoint / "dcp").exists()
    _launch(setup, "resumed", 2, 29644, **full)
    _assert_same_weights(setup, "resumed")
