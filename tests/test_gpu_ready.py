"""What a GPU run relies on, checked on the CPU: device choice, bf16 mixed precision with fp32 master weights,
activation checkpointing, rank-balanced micro-batches, and the GPU check's dry run."""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.model import create_bundle
from thinkvl.model.device import resolve_device
from thinkvl.train import distributed as D
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed
from thinkvl.train.samples import build_sample

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def batch_and_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("gpu_ready")
    write_dataset(root, domains=["counting", "chart"], n=2, seed=0, levels=[0])
    dataset = load_records(root)
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    samples = [build_sample(r, dataset.root, bundle.processor, bundle.model, "sft") for r in dataset.records[:2]]
    return collate_packed([[s] for s in samples], bundle.tokenizer.pad_token_id), bundle.model


def test_device_choice_follows_local_rank_and_refuses_missing_cuda(monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "3")
    if not torch.cuda.is_available():
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda:3")
    assert resolve_device("cuda") == torch.device("cuda:3")
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("gpu0")
    assert D.backend_for(torch.device("cuda:0")) == "nccl" and D.backend_for(torch.device("cpu")) == "gloo"


def _train(model, batch, steps: int, mixed: str) -> tuple[list[float], torch.optim.Optimizer]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        with D.autocast(model, torch.device("cpu"), mixed):
            loss, n = token_loss_sum(model, batch)
        (loss / n).backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss) / n)
    return losses, opt


def test_bf16_compute_tracks_fp32_with_fp32_master_weights(batch_and_model):
    batch, model = batch_and_model
    fp32, _ = _train(copy.deepcopy(model), batch, 4, "no")
    mixed_model = copy.deepcopy(model)
    bf16, opt = _train(mixed_model, batch, 4, "bf16")
    # bf16 keeps ~3 significant digits: the losses agree to about 1%, step after step.
    torch.testing.assert_close(torch.tensor(bf16), torch.tensor(fp32), rtol=2e-2, atol=0)
    assert bf16[-1] < bf16[0]
    assert all(p.dtype == torch.float32 for p in mixed_model.parameters())
    states = [s for s in opt.state.values() if s]
    assert states and all(s["exp_avg"].dtype == torch.float32 for s in states)
    # The bf16 run really computed in bf16: its losses are not the fp32 ones.
    assert max(abs(a - b) for a, b in zip(bf16, fp32)) > 1e-6


def test_activation_checkpointing_gives_the_same_gradients(batch_and_model):
    batch, model = batch_and_model
    grads = []
    for checkpointing in (False, True):
        m = copy.deepcopy(model).train()
        if checkpointing:
            D.enable_activation_checkpointing(m)
        calls = {"text": 0, "vision": 0}
        for name, block in (("text", m.model.language_model.layers[0].mlp), ("vision", m.model.visual.blocks[0].mlp)):
            # A pre-hook: the recompute stops as soon as the saved tensors are back, before the MLP returns.
            block.register_forward_pre_hook(lambda *_, name=name, calls=calls: calls.__setitem__(name, calls[name] + 1))
        loss, n = token_loss_sum(m, batch)
        (loss / n).backward()
        assert calls == ({"text": 2, "vision": 2} if checkpointing else {"text": 1, "vision": 1})
        grads.append({k: p.grad.clone() for k, p in m.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 50
    for k in grads[0]:
        torch.testing.assert_close(grads[1][k], grads[0][k], rtol=1e-5, atol=1e-7, msg=k)


def test_rank_chunks_give_every_rank_as_many_passes():
    for n in range(0, 20):
        for world in (1, 2, 3):
            for micro in (1, 2, 4):
                chunks = [D.rank_chunks(list(range(n)), D.DistInfo(rank=r, world=world), micro) for r in range(world)]
                assert len({len(c) for c in chunks}) == 1
                assert sorted(i for c in chunks for chunk in c for i in chunk) == list(range(n))
                assert all(len(chunk) <= micro for c in chunks for chunk in c)
    # One process: consecutive micro-batches exactly as before, so CPU numerics do not move.
    assert D.rank_chunks(list(range(10)), D.DistInfo(), 4) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.slow
def test_gpu_check_dry_run_passes_on_cpu(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--tiny", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for check in ("sft loss falls", "rlcs iteration", "forward agrees", "long pack step"):
        assert f"PASS {check}" in proc.stdout
    assert "FAIL" not in proc.stdout
    assert "chunked LM head: step peak" in proc.stdout and "estimate" in proc.stdout
