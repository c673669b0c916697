"""One trainer for the supervised stages: packed batches, AdamW with warm-up + cosine, checkpoints, resume, DDP.

Batches come from `thinkvl.train.stream`: records streamed, encoded in DataLoader workers and packed on the fly.
Each checkpoint holds the data position of every data stream, so resuming at step k replays exactly the batches
an uninterrupted run would have seen; with the model, optimizer, scheduler and RNG restored, the losses match.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from thinkvl.data.record import Record
from thinkvl.metrics import MetricsLogger, plot_curves, read_metrics
from thinkvl.model.bundle import Bundle, create_bundle, load_bundle, save_bundle
from thinkvl.train import distributed as D
from thinkvl.train.checkpoint import latest_checkpoint, load_state, rng_state, save_checkpoint, set_rng_state
from thinkvl.train.config import StageConfig
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import PackingStats, collate_packed
from thinkvl.train.samples import Sample, Skipped
from thinkvl.train.stream import (
    Encoder,
    PackStream,
    Source,
    check_source,
    iter_records,
    oversample,
    resolve_source,
)

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


def prepare_bundle(cfg: StageConfig, records: Iterable[Record], checkpoint: Path | None) -> Bundle:
    dtype = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    if checkpoint is not None:
        return load_bundle(checkpoint / "model", dtype=dtype)
    if Path(cfg.model).is_dir():
        return load_bundle(cfg.model, dtype=dtype)
    bundle = create_bundle(cfg.model, corpus=dataset_corpus(records), vocab_size=cfg.vocab_size, seed=cfg.seed)
    bundle.model.to(dtype)
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


def lr_lambda(cfg: StageConfig):
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def wrap_model(model: Any, cfg: StageConfig, info: D.DistInfo) -> Any:
    if info.world == 1:
        return model
    if cfg.fsdp:
        from torch.distributed.fsdp import fully_shard

        for block in [*model.model.visual.blocks, *model.model.language_model.layers]:
            fully_shard(block)
        return fully_shard(model)
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, find_unused_parameters=False)


def run_stage(cfg: StageConfig, *, show_progress: bool = True) -> StageResult:
    """Train one supervised stage to ``cfg.steps``, resuming from the newest checkpoint in ``cfg.out``."""
    info = D.init_distributed()
    if cfg.batch_size % info.world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {info.world} processes")
    show = show_progress and info.is_main
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    source = resolve_source(cfg.data)
    check_source(source)
    checkpoint = latest_checkpoint(out / "checkpoints")
    corpus = (r for _, r in zip(range(cfg.tokenizer_records), iter_records(source, cfg.domains), strict=False))
    bundle = prepare_bundle(cfg, corpus, checkpoint)
    freeze(bundle.model, cfg)
    streams = make_streams(cfg, source, bundle, info)
    model = wrap_model(bundle.model, cfg, info)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    start = 0
    if checkpoint is not None:
        state = load_state(checkpoint)
        if cfg.fsdp and info.world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

            set_optimizer_state_dict(
                model, optimizer, state["optimizer"], options=StateDictOptions(full_state_dict=True)
            )
        else:
            optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
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
            inputs = collate_packed(chunk, pad)
            sync = k == len(micro) - 1 or not hasattr(model, "no_sync")
            with model.no_sync() if not sync else nullcontext():
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
            _save(out, bundle, optimizer, scheduler, done, cfg, info, data_state(streams, info))
    bar.close()
    for s in streams:
        s.close()
    shown = len(skipped)
    stats, skipped = data_stats(streams)
    if len(skipped) > shown and show:
        tqdm.write(skipped.describe(), file=sys.stderr)
    weights = full_weights(bundle.model, cfg, info)
    if info.is_main:
        save_bundle(bundle, out / "model", state_dict=weights)
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


def full_weights(model: Any, cfg: StageConfig, info: D.DistInfo) -> dict[str, torch.Tensor] | None:
    """Under FSDP, gather the full weights (a collective: every rank calls it); otherwise None (use the model's)."""
    if not (cfg.fsdp and info.world > 1):
        return None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


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


def _save(
    out: Path,
    bundle: Bundle,
    optimizer: Any,
    scheduler: Any,
    step: int,
    cfg: StageConfig,
    info: D.DistInfo,
    data: dict[str, Any],
) -> None:
    D.barrier(info)
    weights = full_weights(bundle.model, cfg, info)
    if cfg.fsdp and info.world > 1:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        optimizer_state = get_optimizer_state_dict(bundle.model, optimizer, options=options)
    else:
        optimizer_state = optimizer.state_dict()
    if info.is_main:
        state = {
            "step": step,
            "optimizer": optimizer_state,
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            "config": asdict(cfg),
            "data": data,
        }
        save_checkpoint(out / "checkpoints" / f"step-{step:08d}", bundle, state, cfg.keep_last, weights)
    D.barrier(info)
