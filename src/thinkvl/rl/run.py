"""`thinkvl rl` and `thinkvl grade`: run RLCS from a config, with checkpoints, resume, metrics and plots."""

from __future__ import annotations

import logging
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from thinkvl.data.loaders import Dataset, load_records
from thinkvl.metrics import MetricsLogger, plot_curves, read_metrics
from thinkvl.model.bundle import Bundle, load_bundle
from thinkvl.model.generate import RolloutEngine, SamplingParams, TransformersEngine
from thinkvl.rl.config import RLConfig, sampling_params
from thinkvl.rl.curriculum import GradeEntry, grade_records, read_grades, write_grades
from thinkvl.rl.trainer import RLCSTrainer
from thinkvl.train import distributed as D
from thinkvl.train.checkpoint import latest_checkpoint
from thinkvl.train.drift import WeightDrift
from thinkvl.train.session import load_for_training

log = logging.getLogger(__name__)

PLOTS = {
    "rewards.png": ["rewards/mean", "accuracy/mean", "response/forced_rate", "response/unclosed_thought_rate"],
    "curriculum.png": [
        "curriculum/tier/very_easy",
        "curriculum/tier/easy",
        "curriculum/tier/medium",
        "curriculum/tier/hard",
        "curriculum/tier/very_hard",
    ],
    "dynamic_sampling.png": ["dynamic_sampling/expansion_ratio", "dynamic_sampling/not_valid_rate"],
    "policy.png": ["actor/clip_frac", "actor/approx_kl", "actor/entropy", "response/length_mean"],
}


def make_engine(cfg: RLConfig, bundle: Bundle, model_dir: str | Path | None = None) -> RolloutEngine:
    """The rollout engine; vLLM loads ``model_dir`` (the directory the bundle came from) and is synced each step."""
    if cfg.engine == "vllm":
        from thinkvl.model.vllm_engine import VLLMEngine

        return VLLMEngine(bundle, model_dir if model_dir is not None else cfg.model)
    return TransformersEngine(bundle, batch_size=cfg.rollout_batch_size)


def make_reward(config: Any = None) -> Any:
    from thinkvl.reward import RewardSystem

    return RewardSystem(config)


def _dataset(cfg: RLConfig) -> Dataset:
    dataset = load_records(cfg.data)
    if not dataset.records:
        raise ValueError(f"{cfg.data}: the records file is empty")
    if cfg.domains:
        dataset.records = [r for r in dataset.records if r.domain in cfg.domains]
    dataset.records = [r for r in dataset.records if r.domain != "caption"]
    if not dataset.records:
        raise ValueError(f"no verifiable records in {cfg.data} (domains: {cfg.domains or 'all'})")
    return dataset


def run_rl(cfg: RLConfig, *, reward: Any = None, show_progress: bool = True) -> Path:
    """Train to ``cfg.iterations``, resuming from the newest checkpoint in ``cfg.out``; returns the run dir."""
    info = D.init_distributed(cfg.device)
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    dataset = _dataset(cfg)
    checkpoint = latest_checkpoint(out / "checkpoints")
    grades = read_grades(cfg.grades) if cfg.grades else None  # a bad file fails before the model loads
    # fp32 master weights; bf16 compute comes from mixed_precision
    kw = {"device": info.device, "dtype": torch.float32, "attn_implementation": cfg.attn_implementation}
    bundle = load_for_training(cfg.model, checkpoint, **kw)
    reward = reward if reward is not None else make_reward()
    model_dir = checkpoint / "model" if checkpoint else cfg.model
    trainer = RLCSTrainer(cfg, bundle, dataset, reward, make_engine(cfg, bundle, model_dir), grades=grades, info=info)
    if checkpoint is not None:
        # Loaded before the resume, which restores the random state that building a model draws from.
        start = _starting_weights(cfg, trainer.bundle.model)
        trainer.load_state_dict(trainer.session.resume(checkpoint)["trainer"])
        model = trainer.bundle.model
        trainer.drift = WeightDrift(model.parameters()) if start is None else WeightDrift.from_state_dict(model, start)
    logger = MetricsLogger(out / "metrics.jsonl", resume_step=trainer.iteration) if info.is_main else None
    show = show_progress and info.is_main
    bar = tqdm(total=cfg.iterations, initial=trainer.iteration, desc="rlcs", disable=not show, dynamic_ncols=True)
    while trainer.iteration < cfg.iterations:
        metrics = trainer.step()
        bar.set_postfix(
            reward=f"{metrics['rewards/mean']:.2f}",
            valid=f"{1 - metrics.get('dynamic_sampling/not_valid_rate', 0):.2f}",
        )
        bar.update(1)
        if logger:
            logger.log(trainer.iteration, metrics)
        if trainer.iteration % cfg.save_every == 0 or trainer.iteration == cfg.iterations:
            state = {"trainer": trainer.state_dict(), "config": asdict(cfg)}
            trainer.session.save(out / "checkpoints" / f"iter-{trainer.iteration:06d}", state)
    bar.close()
    trainer.session.export(out / "model")
    if info.is_main:
        if logger:
            logger.close()
        rows = read_metrics(out / "metrics.jsonl")
        for name, keys in PLOTS.items():
            plot_curves(rows, keys, out / name, title=name[:-4], x="step")
    D.barrier(info)
    return out


def _starting_weights(cfg: RLConfig, model: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """The weights of the model the run started from (``cfg.model``), so that a resumed run logs its weight change
    from there as an uninterrupted one does. None for a sharded model: its starting shards are not rebuilt, and its
    weight change counts from the resumed checkpoint (a warning says so)."""
    if any(hasattr(p, "to_local") for p in model.parameters()):
        log.warning("resumed a sharded RL run: actor/weight_change counts from the checkpoint, not from cfg.model")
        return None
    return load_bundle(cfg.model, device="cpu", dtype=torch.float32).model.state_dict()


def sample_verdicts(
    bundle: Bundle,
    records: list[Any],
    root: Path,
    reward: Any,
    params: SamplingParams,
    batch_size: int = 32,
    show_progress: bool = True,
    desc: str = "grading",
    *,
    seed: int,
) -> dict[str, list[Any]]:
    """``params.n`` sampled answers per record, scored: record id → its verdicts.

    Offline grading turns them into pass rates; as a held-out metric their mean is accuracy under the RL run's own
    sampling (mean@k), which moves where greedy accuracy is already at 100% or stuck. Seeded here with ``seed``, not
    by the caller: a resumed pipeline that skipped earlier stages must draw the same samples as a fresh one."""
    torch.manual_seed(seed)
    bundle.model.eval()
    engine = TransformersEngine(bundle, batch_size=batch_size)
    out: dict[str, list[Any]] = {}
    chunk = max(1, batch_size // params.n)
    for start in tqdm(range(0, len(records), chunk), desc=desc, disable=not show_progress):
        batch = records[start : start + chunk]
        rollouts = engine.generate(batch, root, params)
        verdicts = reward.score_batch([r.text for r in rollouts], [rec for rec in batch for _ in range(params.n)])
        for i, rec in enumerate(batch):
            out[rec.id] = verdicts[i * params.n : (i + 1) * params.n]
    return out


def grade(cfg: RLConfig, *, reward: Any = None, show_progress: bool = True) -> dict[str, GradeEntry]:
    """Offline difficulty grading of ``cfg.data`` by ``cfg.model``: pass@``grade_k`` per record under the RL run's
    own sampling (`sampling_params`: pass rates are only comparable under the same sampling), merged with the
    records' ``difficulty`` labels (``difficulty_label_range``, ``difficulty_label_weight``) into tiers
    (``tier_thresholds``), written to ``cfg.grades`` (which `thinkvl rl` then reads)."""
    if not (cfg.model and cfg.data and cfg.grades):
        raise ValueError("grading needs model, data and grades (the file to write), in the config or as flags")
    dataset = _dataset(cfg)
    bundle = load_bundle(cfg.model, device=cfg.device, attn_implementation=cfg.attn_implementation)
    reward = reward if reward is not None else make_reward()
    params = sampling_params(cfg, n=cfg.grade_k)
    verdicts = sample_verdicts(
        bundle, dataset.records, dataset.root, reward, params, cfg.rollout_batch_size, show_progress, seed=cfg.seed
    )
    pass_rates = {rid: sum(v.correct for v in vs) / len(vs) for rid, vs in verdicts.items()}
    labels = {r.id: r.difficulty for r in dataset.records if r.difficulty is not None}
    grades = grade_records(
        pass_rates,
        labels,
        thresholds=cfg.tier_thresholds,
        label_range=cfg.difficulty_label_range,
        label_weight=cfg.difficulty_label_weight,
    )
    write_grades(cfg.grades, grades)
    return grades
