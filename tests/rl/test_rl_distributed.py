"""RLCS across 2 CPU processes (gloo): rollouts sharded by prompt and gathered, gradients summed, so both ranks
end every iteration with identical weights and the logged rollout count covers every rank's groups."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from thinkvl.data.synth import write_dataset
from thinkvl.metrics import read_metrics
from thinkvl.model import create_bundle, save_bundle

pytestmark = pytest.mark.slow  # two processes

# Launched by torchrun: a deterministic pseudo-reward (about half right, so groups are mixed) and, after every
# iteration, a digest of this rank's weights written next to the run.
SCRIPT = """
import hashlib, json, os, sys
from thinkvl.reward import Verdict
from thinkvl.rl.config import RLConfig
from thinkvl.rl import run as R

class HashReward:
    def score_batch(self, texts, records, **_):
        rewards = [float(hashlib.sha256(t.encode()).digest()[0] % 2) for t in texts]
        return [Verdict(reward=r, correct=r > 0.5, extracted=None, format_ok=True) for r in rewards]

cfg = RLConfig(**json.loads(sys.argv[1]))
step = R.RLCSTrainer.step

def step_and_digest(self):
    metrics = step(self)
    sd = self.bundle.model.state_dict()
    digest = hashlib.sha256(b"".join(sd[k].numpy().tobytes() for k in sorted(sd))).hexdigest()
    with open(os.path.join(cfg.out, f"digest-{self.iteration}-{os.environ['RANK']}.txt"), "w") as f:
        f.write(digest)
    return metrics

R.RLCSTrainer.step = step_and_digest
os.makedirs(cfg.out, exist_ok=True)
R.run_rl(cfg, reward=HashReward(), show_progress=False)
"""


def test_two_process_rlcs_keeps_ranks_in_sync(tmp_path):
    write_dataset(tmp_path / "data", domains=["counting", "choice"], n=4, seed=0, levels=[0])
    save_bundle(create_bundle("tiny", seed=0, vocab_size=512), tmp_path / "model")
    run = tmp_path / "run"
    cfg = dict(
        model=str(tmp_path / "model"),
        data=str(tmp_path / "data"),
        out=str(run),
        iterations=2,
        prompts_per_iteration=4,
        group_size=4,
        thinking_budget=6,
        answer_budget=4,
        mini_batch_size=16,
        micro_batch_size=8,
        lr=1e-3,
        save_every=2,
        rollout_batch_size=16,
        dynamic_sampling=False,
    )
    script = tmp_path / "rl_two_ranks.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRANSFORMERS_VERBOSITY": "error"}
    torchrun = str(Path(sys.executable).parent / "torchrun")
    proc = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", "29561", str(script), json.dumps(cfg)],
        env=env,
        capture_output=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    rows = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    assert rows[-1]["rollouts/total"] == 2 * 4 * 4  # every prompt's group counted once, across both ranks
    assert rows[0]["groups/trained"] == 4
    for it in (1, 2):
        digests = {(run / f"digest-{it}-{rank}.txt").read_text() for rank in (0, 1)}
        assert len(digests) == 1, f"ranks disagree on the weights after iteration {it}"
    before = hashlib.sha256((tmp_path / "model" / "model.safetensors").read_bytes()).hexdigest()
    after = hashlib.sha256((run / "model" / "model.safetensors").read_bytes()).hexdigest()
    assert before != after  # the policy was updated
