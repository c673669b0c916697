"""One trainer for the supervised stages: packed batches, AdamW with warm-up + cosine, checkpoints, resume, DDP.

The data order is a pure function of (seed, step), so resuming at step k replays exactly the batches an
uninterrupted run would have seen; with the model, optimizer, scheduler and RNG restored, the losses match.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from thinkvl.data.loaders import Dataset, load_records
from thinkvl.metrics import MetricsLogger, plot_curves, read_metrics
from thinkvl.model.bundle import Bundle, create_bundle, load_bundle, save_bundle
from thinkvl.train import distributed as D
from thinkvl.train.checkpoint import latest_checkpoint, load_state, rng_state, save_checkpoint, set_rng_state
from thinkvl.train.config import StageConfig
from thinkvl.train.loss import token_loss_sum
from thinkvl.train.packing import PackingStats, collate_packed, pack
from thinkvl.train.samples import Sample, Skipped, build_sample


@dataclass
class StageResult:
    out: Path
    steps: int
    final_loss: float | None
    packing: PackingStats
    skipped_records: int
    tokens_per_second: float


def dataset_corpus(dataset: Dataset) -> Iterator[str]:
    """The text a tokenizer trained from scratch should compress well."""
    for r in dataset:
        yield r.question
        for key in ("caption", "reasoning", "answer_text", "boxed"):
            if isinstance(r.meta.get(key), str):
                yield r.meta[key]


def prepare_bundle(cfg: StageConfig, dataset: Dataset, checkpoint: Path | None) -> Bundle:
    dtype = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    if checkpoint is not None:
        return load_bundle(checkpoint / "model", dtype=dtype)
    if Path(cfg.model).is_dir():
        return load_bundle(cfg.model, dtype=dtype)
    bundle = create_bundle(cfg.model, corpus=dataset_corpus(dataset), vocab_size=cfg.vocab_size, seed=cfg.seed)
    bundle.model.to(dtype)
    return bundle


def freeze(model: Any, cfg: StageConfig) -> None:
    visual = model.model.visual
    for name, p in visual.named_parameters():
        is_projector = name.startswith(("merger.", "downsample."))
        if (is_projector and cfg.freeze_projector) or (not is_projector and cfg.freeze_vision):
            p.requires_grad_(False)


def build_samples(cfg: StageConfig, dataset: Dataset, bundle: Bundle, show: bool) -> tuple[list[Sample], Skipped]:
    """Tokenise every record; a record that can't be used is skipped and reported with its reason, never silently."""
    samples, skipped = [], Skipped()
    for record in tqdm(dataset.records, desc="tokenising", disable=not show, leave=False):
        try:
            samples.append(
                build_sample(
                    record, dataset.root, bundle.processor, bundle.model, cfg.sample_stage, thinking=cfg.thinking
                )
            )
        except ValueError as err:
            skipped.add(record.id, err)
    if skipped and show:
        tqdm.write(skipped.describe(), file=sys.stderr)
    if not samples:
        raise ValueError(f"no usable record in {cfg.data}: {skipped.describe()}")
    return samples, skipped


def oversample(samples: list[Sample], domain_of: dict[str, str], weights: dict[str, float], seed: int) -> list[Sample]:
    """Repeat each domain's samples ``weight`` times (the fraction by a seeded draw): a larger share of the
    compute for the domains that learn slowest, without duplicating files or re-tokenising."""
    unknown = sorted(set(weights) - set(domain_of.values()))
    if unknown:
        raise ValueError(
            f"domain_weights name domains with no samples: {unknown}; present: {sorted(set(domain_of.values()))}"
        )
    rng = random.Random(seed)
    out = []
    for sample in samples:
        weight = weights.get(domain_of[sample.id], 1.0)
        out.extend([sample] * (int(weight) + (rng.random() < weight - int(weight))))
    return out


def step_packs(packs: list[list[Sample]], step: int, batch: int, seed: int) -> list[list[Sample]]:
    """The packs of optimizer step ``step``: epochs of fresh seeded permutations, laid end to end."""
    out = []
    for i in range(step * batch, (step + 1) * batch):
        epoch, pos = divmod(i, len(packs))
        order = torch.randperm(len(packs), generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        out.append(packs[int(order[pos])])
    return out


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
    dataset = load_records(cfg.data)
    if cfg.domains:
        dataset.records = [r for r in dataset.records if r.domain in cfg.domains]
    if not dataset.records:
        raise ValueError(f"no records to train on in {cfg.data} (domains: {cfg.domains or 'all'})")
    checkpoint = latest_checkpoint(out / "checkpoints")
    bundle = prepare_bundle(cfg, dataset, checkpoint)
    freeze(bundle.model, cfg)
    samples, skipped = build_samples(cfg, dataset, bundle, show)
    if cfg.domain_weights:
        samples = oversample(samples, {r.id: r.domain for r in dataset.records}, cfg.domain_weights, cfg.seed)
    packs, stats = pack(samples, cfg.pack_len, cfg.overflow)
    if not packs:
        raise ValueError(
            f"every sample is longer than pack_len {cfg.pack_len} and overflow is 'drop': raise pack_len or use "
            "overflow: truncate"
        )
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
        batch = step_packs(packs, step, cfg.batch_size, cfg.seed)
        global_loss_tokens = sum(s.num_loss_tokens for p in batch for s in p)
        local = batch[info.rank :: info.world]
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
                },
            )
        if done % cfg.save_every == 0 or done == cfg.steps:
            _save(out, bundle, optimizer, scheduler, done, cfg, info)
    bar.close()
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


def _save(
    out: Path, bundle: Bundle, optimizer: Any, scheduler: Any, step: int, cfg: StageConfig, info: D.DistInfo
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
        }
        save_checkpoint(out / "checkpoints" / f"step-{step:08d}", bundle, state, cfg.keep_last, weights)
    D.barrier(info)
