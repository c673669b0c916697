"""FSDP2 across 2 gloo processes on the CPU, the two defects a user on several GPUs would hit first:

- one rank's micro-batch has images and the other's has none: the ViT is an FSDP unit of its own, so its
  collectives must run on both ranks (`lm_head.idle_vision`); the steps finish and end where one process ends;
- a model built from a sharded checkpoint starts on the meta device and a rank allocates only its shard: its
  peak memory while building and loading the weights is lower than with a full copy per rank by about the model
  less its shard (printed; run with -s to see it).
"""

import dataclasses
import json
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from thinkvl.data.loaders import load_records
from thinkvl.data.synth import write_dataset
from thinkvl.model import create_bundle, load_bundle, save_bundle
from thinkvl.train import distributed as D
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import collate_packed
from thinkvl.train.samples import build_sample

pytestmark = pytest.mark.slow
TIMEOUT_S = 240  # a hang (mismatched collectives) fails the test instead of blocking the suite
LR = 0.5


def _join(procs: list, what: str) -> None:
    for p in procs:
        p.join(TIMEOUT_S)
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
    assert not hung, f"{what}: {len(hung)} of {len(procs)} processes hung"
    assert all(p.exitcode == 0 for p in procs), f"{what}: exit codes {[p.exitcode for p in procs]}"


def _spawn(target, *args) -> list:
    with socket.socket() as s:  # a free port for this group
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=target, args=(rank, port, *args)) for rank in range(2)]
    for p in procs:
        p.start()
    return procs


def _init(rank: int, port: int) -> D.DistInfo:
    os.environ.update(RANK=str(rank), LOCAL_RANK="0", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    return D.init_distributed("cpu")


def _sgd_steps(model, params, batches_per_step, world: int) -> None:
    """The trainer's scaling: each rank's loss sum × world / all labelled tokens, gradients averaged by FSDP."""
    for batches in batches_per_step:
        parts = [token_loss_sum(model, b) for b in batches]
        total = D.all_reduce_sum(sum(n for _, n in parts), D.DistInfo(world=world)) if world > 1 else None
        total = total or sum(n for _, n in parts)
        for loss, _ in parts:
            (loss * world / total).backward()
        with torch.no_grad():
            for p in params:
                p -= LR * p.grad
                p.grad = None


def _mixed_worker(rank: int, port: int, root: str) -> None:
    info = _init(rank, port)
    bundle = load_bundle(Path(root) / "model", device="cpu", dtype=torch.float32)
    model = D.wrap_model(bundle.model, info, fsdp=True)
    images, text = torch.load(Path(root) / "batches.pt", weights_only=True)
    # Step 1: rank 0 has images, rank 1 none; step 2 the other way round.
    _sgd_steps(model, list(model.parameters()), [[(images, text)[rank]], [(text, images)[rank]]], 2)
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        torch.save(full, Path(root) / "fsdp.pt")
    D.shutdown(info)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fsdp")
    write_dataset(root / "data", domains=["counting", "chart"], n=2, seed=0, levels=[0])
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    save_bundle(bundle, root / "model")
    dataset = load_records(root / "data")
    records = dataset.records[:3]
    # The same questions without their images.
    text_only = [
        dataclasses.replace(
            r, messages=[{**m, "content": [c for c in m["content"] if c.get("type") == "text"]} for m in r.messages]
        )
        for r in records
    ]
    pad = bundle.tokenizer.pad_token_id

    def batch(rs):
        return collate_packed([[build_sample(r, dataset.root, bundle.processor, bundle.model, "sft")] for r in rs], pad)

    images, text = batch(records), batch(text_only)
    assert images.get("pixel_values") is not None and text.get("pixel_values") is None
    torch.save((images, text), root / "batches.pt")
    return root


def test_ranks_with_and_without_images_finish_and_match_one_process(tiny_data):
    _join(_spawn(_mixed_worker, str(tiny_data)), "FSDP step, one rank without images")
    fsdp = torch.load(tiny_data / "fsdp.pt", weights_only=True)
    reference = load_bundle(tiny_data / "model", device="cpu", dtype=torch.float32).model
    images, text = torch.load(tiny_data / "batches.pt", weights_only=True)
    _sgd_steps(reference, list(reference.parameters()), [[images, text], [text, images]], 1)
    start = load_bundle(tiny_data / "model", device="cpu", dtype=torch.float32).model.state_dict()
    expected = reference.state_dict()
    assert fsdp.keys() == expected.keys()
    for k, v in expected.items():
        torch.testing.assert_close(fsdp[k], v, rtol=1e-4, atol=1e-5, msg=k)
    moved = [k for k in expected if "visual.blocks" in k and not torch.equal(expected[k], start[k])]
    assert moved  # the ViT trained, and its FSDP-averaged gradient is the one-process one


# -- building from a sharded checkpoint ------------------------------------------------------------------------
def _rss(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    raise RuntimeError(key)


def _stage_config(root: str):
    from thinkvl.train.config import StageConfig

    return StageConfig(model=str(Path(root) / "model"), data=root, out=root, fsdp=True, keep_last=1)


def _save_worker(rank: int, port: int, root: str) -> None:
    from thinkvl.train.session import start_session

    info = _init(rank, port)
    bundle = load_bundle(Path(root) / "model", device="cpu", dtype=torch.float32)
    session = start_session(bundle, info, _stage_config(root), lambda _: 1.0)
    session.save(Path(root) / "ckpt", {"step": 0})
    D.shutdown(info)


def _load_worker(rank: int, port: int, root: str, meta: bool) -> None:
    """Build the model to resume ``ckpt`` (``meta`` False: a full copy on every rank first, as before), load its
    weights, then resume the session; write the peaks of memory above the start."""
    from thinkvl.train.session import load_for_training, start_session

    info = _init(rank, port)
    out: dict = {}
    Path("/proc/self/clear_refs").write_text("5")  # reset the high-water mark (VmHWM) to the current RSS
    before = _rss("VmRSS")
    if meta:
        bundle = load_for_training(Path(root) / "model", Path(root) / "ckpt", device="cpu", dtype=torch.float32)
    else:
        bundle = load_bundle(Path(root) / "model", device="cpu", dtype=torch.float32)
    out["on_meta"] = all(p.device.type == "meta" for p in bundle.model.parameters())
    session = start_session(bundle, info, _stage_config(root), lambda _: 1.0)
    # The weights alone first (every page of the shard written), then the whole session (AdamW state too).
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, set_model_state_dict

    weights = {"model": get_model_state_dict(session.model)}
    dcp.load(weights, checkpoint_id=Path(root) / "ckpt" / "dcp")
    set_model_state_dict(session.model, weights["model"])
    del weights
    out["build_peak"] = _rss("VmHWM") - before
    session.resume(Path(root) / "ckpt")
    out["resume_peak"] = _rss("VmHWM") - before
    out["shard_bytes"] = sum(p.to_local().numel() * p.element_size() for p in session.model.parameters())

    full = get_model_state_dict(session.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        torch.save(full, Path(root) / f"loaded-{meta}.pt")
    (Path(root) / f"memory-{rank}-{meta}.json").write_text(json.dumps(out))
    D.shutdown(info)


def test_sharded_checkpoint_builds_on_meta_and_each_rank_holds_its_shard(tmp_path, monkeypatch):
    # Large blocks by mmap, so freed tensors leave the resident set; a 33k vocabulary makes the model (85 MB)
    # large next to the interpreter's own allocations.
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    bundle = create_bundle("tiny", seed=0, vocab_size=512)
    bundle.model.resize_token_embeddings(32768, mean_resizing=False)
    save_bundle(bundle, tmp_path / "model")
    full_bytes = sum(p.numel() * p.element_size() for p in bundle.model.parameters())
    _join(_spawn(_save_worker, str(tmp_path)), "saving a sharded checkpoint")
    for meta in (False, True):
        _join(_spawn(_load_worker, str(tmp_path), meta), "building from it")
        loaded = torch.load(tmp_path / f"loaded-{meta}.pt", weights_only=True)
        for k, v in bundle.model.state_dict().items():
            torch.testing.assert_close(loaded[k], v, rtol=0, atol=0, msg=k)
    for rank in range(2):
        full, m = (json.loads((tmp_path / f"memory-{rank}-{meta}.json").read_text()) for meta in (False, True))
        print(
            f"rank {rank}: model {full_bytes / 2**20:.1f} MB, its shard {m['shard_bytes'] / 2**20:.1f} MB; peak above "
            f"start, built and weights loaded: {m['build_peak'] / 2**20:.1f} MB from the meta device, "
            f"{full['build_peak'] / 2**20:.1f} MB from a full copy; then resumed (AdamW state, DCP's read buffers): "
            f"{m['resume_peak'] / 2**20:.1f} MB"
        )
        assert m["on_meta"] and not full["on_meta"]
        assert m["shard_bytes"] < 0.55 * full_bytes
        # Building allocates the shard, not the model: at least a quarter of the model less than a full copy on
        # every rank (the saving is the model less its shard; both paths pay DCP's read buffers on top).
        assert m["build_peak"] < full["build_peak"] - 0.25 * full_bytes
