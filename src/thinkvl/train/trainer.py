"""One trainer for the supervised stages: packed batches, AdamW with warm-up + cosine, checkpoints, resume, DDP
or FSDP2, bf16 mixed precision and activation checkpointing, on LOCAL_RANK's GPU or the CPU.

Batches come from `thinkvl.train.stream`: records streamed, encoded in DataLoader workers and packed on the fly.
Each checkpoint holds the data position of every data stream, so resuming at step k replays exactly the batches
an uninterrupted run would have seen; with the model, optimizer, scheduler and RNG restored, the losses match.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from thinkvl.data.loaders import Source, check_source, iter_records, resolve_source
from thinkvl.data.record import Record
from thinkvl.metrics import MetricsLogger, plot_curves, read_metrics
from thinkvl.model.bundle import Bundle, create_bundle
from thinkvl.train import distributed as D
from thinkvl.train.checkpoint import latest_checkpoint
from thinkvl.train.config import StageConfig
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import PackingStats, collate_packed
from thinkvl.train.samples import Sample, Skipped
from thinkvl.train.session import load_for_training, start_session, warmup_cosine
from thinkvl.train.stream import Encoder, PackStream, oversample

__all__ = ["StageResult", "oversample", "run_stage"]


@dataclass
class StageResult:
    out: Path
    steps: int
    final_loss: float | None
    packing: PackingStats
    skipped_records: int
    tokens_per_second: float


def dataset_corpus(records: Iterable[Record]) -> Iterator[str]:
    """The text a tokenizer trained from scratch should compress well."""
    for r in records:
        yield r.question
        for key in ("caption", "reasoning", "answer_text", "boxed"):
            if isinstance(r.meta.get(key), str):
                yield r.meta[key]


def prepare_bundle(
    cfg: StageConfig, records: Iterable[Record], checkpoint: Path | None, device: torch.device
) -> Bundle:
    """The model to train, on ``device`` in ``cfg.dtype``; from a sharded checkpoint, on the meta device (each rank
    allocates and loads only its shard, in `start_session` and `Session.resume`)."""
    dtype = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    if checkpoint is not None or Path(cfg.model).is_dir():
        kw = {"dtype": dtype, "device": device, "attn_implementation": cfg.attn_implementation}
        return load_for_training(cfg.model, checkpoint, **kw)
    bundle = create_bundle(
        cfg.model,
        corpus=dataset_corpus(records),
        vocab_size=cfg.vocab_size,
        seed=cfg.seed,
        attn_implementation=cfg.attn_implementation,
    )
    bundle.model.to(device=device, dtype=dtype)
    return bundle


def freeze(model: Any, cfg: StageConfig) -> None:
    visual = model.model.visual
    for name, p in visual.named_parameters():
        is_projector = name.startswith(("merger.", "downsample."))
        if (is_projector and cfg.freeze_projector) or (not is_projector and cfg.freeze_vision):
            p.requires_grad_(False)


def make_streams(cfg: StageConfig, source: Source, bundle: Bundle, info: D.DistInfo) -> list[PackStream]:
    """This process's data streams: ``data_shards`` of them in all (one per process by default), stream s on
    process s mod world, so the global batch — and so the losses — don't depend on the number of processes."""
    shards = cfg.data_shards or info.world
    if shards % info.world or cfg.batch_size % shards:
        raise ValueError(
            f"data_shards {shards} must be a multiple of the {info.world} processes and divide batch_size "
            f"{cfg.batch_size}"
        )
    encoder = Encoder(source.root, bundle.processor, bundle.model, cfg.sample_stage, cfg.thinking, cfg.domains)
    return [
        PackStream(
            source,
            encoder,
            pack_len=cfg.pack_len,
            overflow=cfg.overflow,
            buffer=cfg.pack_buffer,
            seed=cfg.seed,
            stream=s,
            streams=shards,
            num_workers=cfg.num_workers,
            domain_weights=cfg.domain_weights,
        )
        for s in range(info.rank, shards, info.world)
    ]


def step_batches(streams: list[PackStream], batch_size: int) -> Iterator[list[list[Sample]]]:
    """This process's packs of each optimizer step: an equal share from each of its data streams."""
    per = batch_size // streams[0].streams
    iters = [iter(s) for s in streams]
    while True:
        yield [next(it) for it in iters for _ in range(per)]


def data_state(streams: list[PackStream], info: D.DistInfo) -> dict[str, Any]:
    """Every stream's data position, gathered from all processes (a collective: every rank calls it)."""
    local = {str(s.stream): s.state_dict() for s in streams}
    if info.world == 1:
        return local
    gathered: list[Any] = [None] * info.world
    torch.distributed.all_gather_object(gathered, local)
    return {k: v for part in gathered for k, v in part.items()}


def data_stats(streams: list[PackStream]) -> tuple[PackingStats, Skipped]:
    """This process's packing statistics and skipped records so far (its streams summed)."""
    total, skipped = PackingStats(), Skipped()
    for s in streams:
        for key in ("samples", "packs", "truncated", "dropped", "real_tokens", "slot_tokens"):
            setattr(total, key, getattr(total, key) + getattr(s.stats, key))
        skipped.update(s.skipped)
    return total, skipped


def run_stage(cfg: StageConfig, *, show_progress: bool = True) -> StageResult:
    """Train one supervised stage to ``cfg.steps``, resuming from the newest checkpoint in ``cfg.out``."""
    info = D.init_distributed(cfg.device)
    if cfg.batch_size % info.world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {info.world} processes")
    show = show_progress and info.is_main
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    source = resolve_source(cfg.data)
    check_source(source)
    checkpoint = latest_checkpoint(out / "checkpoints")
    corpus = (r for _, r in zip(range(cfg.tokenizer_records), iter_records(source, cfg.domains), strict=False))
    bundle = prepare_bundle(cfg, corpus, checkpoint, info.device)
    freeze(bundle.model, cfg)
    streams = make_streams(cfg, source, bundle, info)
    schedule = warmup_cosine(cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)
    session = start_session(bundle, info, cfg, schedule, betas=(0.9, 0.95))
    model, params, optimizer, scheduler = session.model, session.params, session.optimizer, session.scheduler
    model.train()
    start = 0
    if checkpoint is not None:
        state = session.resume(checkpoint)
        start = int(state["step"])
        restore_data_position(streams, state, start, cfg.batch_size)
    batches = step_batches(streams, cfg.batch_size)
    # The first flush is encoded and packed here: time to first step is O(pack_buffer), not O(corpus).
    first = next(batches) if start < cfg.steps else []
    stats, skipped = data_stats(streams)
    if skipped and show:
        tqdm.write(skipped.describe(), file=sys.stderr)
    logger = MetricsLogger(out / "metrics.jsonl", resume_step=start) if info.is_main else None
    if logger and start == 0:
        logger.log(
            0,
            {
                "packing/fill": stats.fill,
                "packing/packs": stats.packs,
                "packing/truncated": stats.truncated,
                "packing/dropped": stats.dropped,
                **skipped.metrics(),
            },
        )
    pad = bundle.tokenizer.pad_token_id
    bar = tqdm(total=cfg.steps, initial=start, desc=cfg.stage, disable=not show, dynamic_ncols=True)
    loss_value, tokens_seen, t0 = None, 0, time.perf_counter()
    for step in range(start, cfg.steps):
        local = first if step == start else next(batches)
        global_loss_tokens = int(D.all_reduce_sum(sum(s.num_loss_tokens for p in local for s in p), info))
        micro = [local[i : i + cfg.micro_batch] for i in range(0, len(local), cfg.micro_batch)]
        loss_sum = 0.0
        for k, chunk in enumerate(micro):
            inputs = D.to_device(collate_packed(chunk, pad), info.device)
            sync = k == len(micro) - 1 or not hasattr(model, "no_sync")
            with model.no_sync() if not sync else nullcontext():
                with D.autocast(model, info.device, cfg.mixed_precision):
                    part, _ = token_loss_sum(model, inputs)
                # DDP averages gradients over processes: scale so the result is sum / all tokens.
                (part * info.world / max(1, global_loss_tokens)).backward()
            loss_sum += float(part.detach())
            tokens_seen += int(inputs["input_ids"].numel()) * info.world
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm or float("inf"))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss_value = D.all_reduce_sum(loss_sum, info) / max(1, global_loss_tokens)
        elapsed = time.perf_counter() - t0
        tok_s = tokens_seen / max(elapsed, 1e-9)
        bar.set_postfix(loss=f"{loss_value:.3f}", tok_s=f"{tok_s:,.0f}")
        bar.update(1)
        done = step + 1
        if logger and done % cfg.log_every == 0:
            logger.log(
                done,
                {
                    "train/loss": loss_value,
                    "train/lr": scheduler.get_last_lr()[0],
                    "train/grad_norm": float(grad_norm),
                    "perf/tokens_per_s": tok_s,
                    **data_stats(streams)[1].metrics(),
                },
            )
        if done % cfg.save_every == 0 or done == cfg.steps:
            state = {"step": done, "config": asdict(cfg), "data": data_state(streams, info)}
            session.save(out / "checkpoints" / f"step-{done:08d}", state)
    bar.close()
    for s in streams:
        s.close()
    shown = len(skipped)
    stats, skipped = data_stats(streams)
    if len(skipped) > shown and show:
        tqdm.write(skipped.describe(), file=sys.stderr)
    session.export(out / "model")
    if info.is_main:
        if logger:
            logger.close()
        plot_curves(
            read_metrics(out / "metrics.jsonl"),
            ["train/loss", "train/lr"],
            out / "loss.png",
            title=f"{cfg.stage}: {Path(cfg.data).name}",
        )
    D.barrier(info)
    return StageResult(
        out, cfg.steps, loss_value, stats, len(skipped), tokens_seen / max(time.perf_counter() - t0, 1e-9)
    )


def restore_data_position(streams: list[PackStream], state: dict[str, Any], step: int, batch_size: int) -> None:
    """Put every stream where the checkpoint left it; a checkpoint without a data position is replayed."""
    saved = state.get("data")
    if saved is None:
        for s in streams:
            it = iter(s)
            for _ in range(step * batch_size // s.streams):
                next(it)
            s.close()
        return
    for s in streams:
        if str(s.stream) not in saved:
            raise ValueError(
                f"the checkpoint has no data position for data stream {s.stream} (it has {sorted(saved)}): "
                "resume with the same data_shards"
            )
        s.load_state_dict(saved[str(s.stream)])
