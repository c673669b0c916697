"""Is RL training the policy, and if not, why? Two measurements from one SFT model.

``run``: an RL run of our trainer with any RLConfig fields overridden (``--set lr=1e-4 warmup_steps=0``), printing
per iteration the rollout reward, the KL between the policy before and after the iteration's updates, the clip
fraction, the entropy, the weight change from the SFT model, the gradient norm, the engine/trainer log-prob
mismatch and the share of groups with no gradient; and held-out accuracy (greedy, and sampled at the RL
temperature) every ``--eval-every`` rollouts, overall, per domain and per level. This is how the demo's learning
rate, warm-up and rollout budget were chosen (docs/rlcs.md).

``gradient``: one iteration's rollouts, one plain SGD step on the policy loss, and the change of every
response's log-probability: responses with a positive advantage must become more likely and those with a negative
one less (the sign, the advantages and the tokens that get the gradient, checked end to end on real rollouts).

    python benchmarks/rl_diagnostics.py run --model runs/demo/sft/model --data runs/demo/data/rl \
        --heldout runs/demo/data/heldout --set lr=3e-5 warmup_steps=10 --budget 8192 --eval-every 2048
    python benchmarks/rl_diagnostics.py gradient --model runs/demo/sft/model --data runs/demo/data/rl
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import yaml
from common import add_threads_argument
from rl_efficiency import evaluate, table

from thinkvl.config import load_yaml
from thinkvl.data.loaders import Dataset, load_records
from thinkvl.demo import demo_config_path
from thinkvl.model import load_bundle
from thinkvl.model.generate import TransformersEngine
from thinkvl.reward import RewardSystem
from thinkvl.rl.config import RLConfig
from thinkvl.rl.curriculum import UNIFORM_TIER_WEIGHTS, read_grades
from thinkvl.rl.trainer import RLCSTrainer

SHOWN = {
    "rewards/mean": "reward",
    "actor/approx_kl": "kl",
    "actor/clip_frac": "clip",
    "actor/entropy": "entropy",
    "actor/weight_change": "moved",
    "actor/grad_norm": "grad_norm",
    "actor/mismatch_kl": "mismatch",
    "dynamic_sampling/not_valid_rate": "no_gradient",
}


def config(args: argparse.Namespace) -> RLConfig:
    """The demo's RL config with ``--set`` overrides (YAML values: ``--set lr=1e-4 curriculum=false``)."""
    over = {}
    for item in args.set:
        key, _, value = item.partition("=")
        over[key] = yaml.safe_load(value)
    cfg = load_yaml(RLConfig, args.config, model=args.model, data=args.data, seed=args.seed, **over)
    if args.plain_grpo:
        cfg = replace(cfg, curriculum=False, dynamic_sampling=False, clip_eps_low=0.2, clip_eps_high=0.2,
                      tier_weights=UNIFORM_TIER_WEIGHTS)  # fmt: skip
    return cfg


def subset(data: Dataset, domains: list[str] | None, levels: list[int] | None, per_domain: int | None) -> Dataset:
    kept: dict[str, list[Any]] = {}
    for r in data.records:
        if (domains is None or r.domain in domains) and (levels is None or r.difficulty in levels):
            kept.setdefault(r.domain, []).append(r)
    return replace(data, records=[r for rs in kept.values() for r in rs[:per_domain]])


def run(args: argparse.Namespace) -> None:
    cfg = config(args)
    torch.manual_seed(args.seed)
    pool = subset(load_records(args.data), args.domains, args.levels, None)
    heldout = subset(load_records(args.heldout), args.domains, args.heldout_levels, args.heldout_per_domain)
    reward = RewardSystem()
    bundle = load_bundle(args.model)
    grades = read_grades(args.grades) if args.grades else None
    trainer = RLCSTrainer(cfg, bundle, pool, reward, TransformersEngine(bundle, cfg.rollout_batch_size), grades=grades)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "metrics.jsonl").open("w") if args.out else None

    def held_out(n: int) -> None:
        ev = evaluate(bundle, heldout, reward, cfg, args.sample_k, args.seed)
        shown = {kind: {k: round(v, 3) for k, v in table(heldout.records, ev[kind]).items()}
                 for kind in ("greedy", "sampled") if kind in ev}  # fmt: skip
        print(f"held-out after {n} rollouts: {json.dumps(shown)}", flush=True)

    held_out(0)
    next_eval, start = args.eval_every, time.perf_counter()
    while trainer.rollouts_used < args.budget:
        m = trainer.step()
        if log:
            log.write(json.dumps({k: v for k, v in m.items() if isinstance(v, (int, float))}) + "\n")
        print(f"iteration {trainer.iteration} ({trainer.rollouts_used} rollouts): "
              + " ".join(f"{name}={m[key]:.3g}" for key, name in SHOWN.items() if key in m), flush=True)  # fmt: skip
        if trainer.rollouts_used >= next_eval or trainer.rollouts_used >= args.budget:
            held_out(trainer.rollouts_used)
            next_eval += args.eval_every
    print(f"{trainer.rollouts_used} rollouts in {time.perf_counter() - start:.0f} s")


def gradient(args: argparse.Namespace) -> None:
    cfg = replace(config(args), dynamic_sampling=False)
    torch.manual_seed(args.seed)
    pool = subset(load_records(args.data), args.domains, args.levels, None)
    bundle = load_bundle(args.model)
    trainer = RLCSTrainer(cfg, bundle, pool, RewardSystem(), TransformersEngine(bundle, cfg.rollout_batch_size))
    prompts = trainer.select_prompts()
    groups = trainer.score(prompts, trainer.rollout(prompts))
    advantages = trainer.advantages(groups)
    items = [(g, r, float(a)) for g, adv in zip(groups, advantages) for r, a in zip(g.rollouts, adv)]
    encoded = {g.record.id: trainer._encode_prompt(g.record) for g in groups}

    def sequence_logprobs() -> torch.Tensor:
        return torch.tensor([float(x.sum()) for x in trainer._old_logprobs(items, encoded)])

    before = sequence_logprobs()
    trainer.optimizer = torch.optim.SGD([p for p in bundle.model.parameters() if p.requires_grad], lr=args.sgd_lr)
    trainer.scheduler = torch.optim.lr_scheduler.LambdaLR(trainer.optimizer, lambda _: 1.0)
    bundle.model.train()
    metrics = trainer._optimizer_step(items, list(range(len(items))), encoded, None)
    change = sequence_logprobs() - before
    adv = torch.tensor([a for *_, a in items])
    up, down = adv > 0, adv < 0
    print(f"{len(groups)} groups, {len(items)} responses; one SGD step at lr {args.sgd_lr}, gradient norm "
          f"{metrics['actor/grad_norm']:.3f}")  # fmt: skip
    print(f"positive advantage ({int(up.sum())}): log-prob {change[up].mean():+.4f} on average, "
          f"{(change[up] > 0).float().mean():.0%} became more likely")  # fmt: skip
    print(f"negative advantage ({int(down.sum())}): log-prob {change[down].mean():+.4f} on average, "
          f"{(change[down] < 0).float().mean():.0%} became less likely")  # fmt: skip
    print(f"correlation of the change with the advantage: {torch.corrcoef(torch.stack([change, adv]))[0, 1]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("run", "gradient"):
        p = sub.add_parser(name)
        p.add_argument("--model", required=True)
        p.add_argument("--data", required=True, help="the RL prompt pool")
        p.add_argument("--config", default=str(demo_config_path("rl.yaml")))
        p.add_argument("--set", nargs="*", default=[], help="RLConfig overrides, key=value")
        p.add_argument("--plain-grpo", action="store_true", help="uniform sampling, no dynamic sampling, clip 0.2")
        p.add_argument("--domains", nargs="*", default=None)
        p.add_argument("--levels", type=int, nargs="*", default=None, help="pool levels to keep")
        p.add_argument("--seed", type=int, default=0)
        add_threads_argument(p)
    r = sub.choices["run"]
    r.add_argument("--heldout", required=True)
    r.add_argument("--heldout-levels", type=int, nargs="*", default=None)
    r.add_argument("--heldout-per-domain", type=int, default=None)
    r.add_argument("--grades", default=None)
    r.add_argument("--budget", type=int, default=4096)
    r.add_argument("--eval-every", type=int, default=2048)
    r.add_argument("--sample-k", type=int, default=2)
    r.add_argument("--out", type=Path, default=None, help="write per-iteration metrics here")
    sub.choices["gradient"].add_argument("--sgd-lr", type=float, default=1e-3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "run":
        run(args)
    else:
        gradient(args)


if __name__ == "__main__":
    main()
