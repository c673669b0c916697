"""RLCS: reinforcement learning with curriculum sampling (GLM-4.1V-Thinking §5).

One iteration reads as the report describes it::

    select_prompts → rollout → score → curriculum.update → select_groups → advantages → update → log

`select_prompts` re-sets the curriculum weights and over-draws by the expansion ratio; every scored group, valid
or not, updates the online pass rates before dynamic sampling drops the all-equal groups.

Curriculum and dynamic sampling expansion decide *which* prompts are rolled out; groups whose rewards are all
equal are dropped before the update (they carry no gradient); the policy loss is GRPO with clip-higher, no KL
and no entropy term, averaged per sample. With ``curriculum=False, dynamic_sampling=False`` and a symmetric clip
it is plain GRPO — the baseline in benchmarks/rl_efficiency.py.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from thinkvl.data.loaders import Dataset
from thinkvl.data.record import Record
from thinkvl.model import tokens as T
from thinkvl.model.bundle import Bundle
from thinkvl.model.chat import render_prompt
from thinkvl.model.embed import visual_as_images
from thinkvl.model.generate import Rollout, RolloutEngine
from thinkvl.model.processor import encode
from thinkvl.rl.config import RLConfig, sampling_params
from thinkvl.rl.curriculum import GradeEntry
from thinkvl.rl.dynamic_sampling import select_groups
from thinkvl.rl.loss import group_advantages, policy_loss
from thinkvl.rl.policy import PromptEncoding, policy_batch, shares_prompts, token_logprobs
from thinkvl.train import distributed as D
from thinkvl.train.distributed import DistInfo
from thinkvl.train.drift import WeightDrift
from thinkvl.train.session import start_session, warmup_cosine


@dataclass
class Group:
    """A prompt's G rollouts and their rewards."""

    record: Record
    rollouts: list[Rollout]
    rewards: list[float]
    correct: list[bool]


def unclosed_thought_rates(responses: list[tuple[str, list[int]]], think_close: int | None) -> dict[str, float]:
    """The share of rollouts whose response never closes its thought, overall and per domain.

    A policy can drift out of the thinking format while its reward, KL and clipping look healthy: one plain-GRPO run
    stopped closing a third of its greedy chart thoughts (docs/results.md). This logs that drift in the rollouts, per
    iteration. A forced answer counts as closed (the marker is inserted); ``response/forced_rate`` reports those.
    """
    by_domain: dict[str, list[bool]] = defaultdict(list)
    for domain, ids in responses:
        by_domain[domain].append(think_close not in ids)
    every = [u for flags in by_domain.values() for u in flags]
    rates = {f"response/{d}/unclosed_thought_rate": sum(f) / len(f) for d, f in by_domain.items()}
    rates["response/unclosed_thought_rate"] = sum(every) / max(1, len(every))
    return rates


class RLCSTrainer:
    def __init__(
        self,
        cfg: RLConfig,
        bundle: Bundle,
        dataset: Dataset,
        reward: Any,
        engine: RolloutEngine,
        *,
        grades: dict[str, GradeEntry] | None = None,
        info: DistInfo | None = None,
    ):
        self.cfg, self.bundle, self.dataset, self.reward, self.engine = cfg, bundle, dataset, reward, engine
        self.info = info or DistInfo()
        self.records = dataset.records
        self.sampler = cfg.curriculum_sampler([r.id for r in self.records], grades, cfg.seed)
        self.expansion = cfg.expansion_controller()
        self.ref_model = None
        if cfg.kl_coef > 0:  # ablation only: RLCS uses no KL term; copied before the policy is sharded
            import copy

            if any(p.device.type == "meta" for p in bundle.model.parameters()):
                raise ValueError("kl_coef > 0 can't resume from a sharded checkpoint: it holds no reference weights")

            self.ref_model = copy.deepcopy(bundle.model).eval().requires_grad_(False)
        # DDP or FSDP2 reduce the gradients; the session also resumes, saves and exports (thinkvl.rl.run).
        schedule = warmup_cosine(cfg.warmup_steps, cfg.planned_updates, cfg.min_lr_ratio)
        self.session = start_session(bundle, self.info, cfg, schedule)
        self.model, self.optimizer, self.scheduler = self.session.model, self.session.optimizer, self.session.scheduler
        # Distance from the starting weights, logged each iteration: a run that does not move the policy shows.
        self.drift = WeightDrift(self.model.parameters())
        self.params = sampling_params(cfg)
        vocab = bundle.tokenizer.get_vocab()
        self.suppressed = getattr(engine, "suppressed", None) or []
        self.think_close = vocab.get(T.THINK_CLOSE)
        self.iteration = 0
        self.rollouts_used = 0

    # -- the RLCS step -----------------------------------------------------------------------------------------
    def select_prompts(self) -> list[Record]:
        """Curriculum-weighted draw; dynamic sampling over-draws by the expansion ratio."""
        self.sampler.reset_weights()
        n = self.cfg.prompts_per_iteration
        if self.cfg.dynamic_sampling:
            n = self.expansion.prompts_to_draw(n)
        return [self.records[i] for i in self.sampler.sample(n)]

    def rollout(self, prompts: list[Record]) -> list[list[Rollout]]:
        """G responses per prompt; with several processes each rolls out its share and all see all groups."""
        mine = prompts[self.info.rank :: self.info.world]
        self.bundle.model.eval()
        if hasattr(self.engine, "sync_weights"):  # engines holding their own copy (vLLM) get the new weights
            self.engine.sync_weights(self.bundle.model)
        with D.unsharded(self.bundle.model):
            flat = self.engine.generate(mine, self.dataset.root, self.params) if mine else []
        groups = [flat[i * self.params.n : (i + 1) * self.params.n] for i in range(len(mine))]
        if self.info.world == 1:
            return groups
        gathered: list[Any] = [None] * self.info.world
        dist.all_gather_object(gathered, groups)
        out: list[list[Rollout]] = [[] for _ in prompts]
        for rank, part in enumerate(gathered):
            for k, g in enumerate(part):
                out[rank + k * self.info.world] = g
        return out

    def score(self, prompts: list[Record], rollouts: list[list[Rollout]]) -> list[Group]:
        flat = [r for g in rollouts for r in g]
        records = [p for p, g in zip(prompts, rollouts) for _ in g]
        verdicts = self.reward.score_batch([r.text for r in flat], records)
        groups, k = [], 0
        for p, g in zip(prompts, rollouts):
            vs = verdicts[k : k + len(g)]
            k += len(g)
            groups.append(Group(p, g, [v.reward for v in vs], [v.correct for v in vs]))
        return groups

    def advantages(self, groups: list[Group]) -> torch.Tensor:
        rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float32)  # [K, G]
        return group_advantages(rewards, self.cfg.advantage_eps)

    def update(self, groups: list[Group], advantages: torch.Tensor) -> dict[str, float]:
        """Policy-gradient steps over the kept groups' rollouts, in mini-batches of responses."""
        model, cfg = self.bundle.model, self.cfg
        items = [(g, r, float(a)) for g, adv in zip(groups, advantages) for r, a in zip(g.rollouts, adv)]
        if not items:
            return {}
        prompts = {g.record.id: self._encode_prompt(g.record) for g in groups}
        # With one optimizer step per iteration the policy is still the one that sampled: old = current.
        # With several, the "old" log-probs must be taken before the first of them.
        olds = None
        if cfg.ppo_epochs > 1 or len(items) > cfg.mini_batch_size:
            olds = self._old_logprobs(items, prompts)
        model.train()
        metrics: dict[str, list[float]] = defaultdict(list)
        for _ in range(cfg.ppo_epochs):
            for start in range(0, len(items), cfg.mini_batch_size):
                mini = list(range(start, min(start + cfg.mini_batch_size, len(items))))
                for k, v in self._optimizer_step(items, mini, prompts, olds).items():
                    metrics[k].append(v)
        return {k: sum(v) / len(v) for k, v in metrics.items()}

    @torch.no_grad()
    def _old_logprobs(self, items: list[tuple[Group, Rollout, float]], prompts: dict) -> list[torch.Tensor]:
        self.bundle.model.eval()
        out = []
        for start in range(0, len(items), self.cfg.micro_batch_size):
            micro = items[start : start + self.cfg.micro_batch_size]
            with D.unsharded(self.model), D.autocast(self.model, self.info.device, self.cfg.mixed_precision):
                logp, _ = token_logprobs(
                    self.bundle.model,
                    self._policy_batch(micro, prompts),
                    temperature=self.cfg.temperature,
                    suppressed=self.suppressed,
                )
            out += [logp[i, : len(r.response_ids)] for i, (_, r, _) in enumerate(micro)]
        return out

    def _optimizer_step(
        self, items: list[tuple[Group, Rollout, float]], mini: list[int], prompts: dict, olds: list | None
    ) -> dict[str, float]:
        cfg, model = self.cfg, self.model
        chunks = D.rank_chunks(mini, self.info, cfg.micro_batch_size)
        n_mine = sum(len(c) for c in chunks)
        if cfg.loss_averaging == "token":
            normalizer = float(sum(sum(items[i][1].action_mask) for i in mini))
        else:
            normalizer = float(len(mini))
        out: dict[str, float] = {}
        for k, index in enumerate(chunks):
            # Every rank runs as many passes as the others (DDP/FSDP collectives); an empty share runs a
            # pass that contributes nothing.
            weight = 1.0 if index else 0.0
            index = index or mini[:1]
            micro = [items[i] for i in index]
            batch = self._policy_batch(micro, prompts)
            sync = k == len(chunks) - 1 or not hasattr(model, "no_sync")
            # DDP syncs in the last pass only; its forward must run inside no_sync for that to hold.
            with model.no_sync() if not sync else nullcontext():
                with D.autocast(model, self.info.device, cfg.mixed_precision):
                    # Entropy with gradient only for an entropy bonus; otherwise a metric on a sample of tokens.
                    logp, entropy = token_logprobs(
                        model,
                        batch,
                        temperature=cfg.temperature,
                        suppressed=self.suppressed,
                        entropy="all" if cfg.entropy_coef > 0 else "sample",
                    )
                if olds is None:
                    old = logp.detach()
                else:
                    old = torch.zeros_like(logp)
                    for row, i in enumerate(index):
                        old[row, : len(olds[i])] = olds[i]
                ref = None
                if self.ref_model is not None:
                    with torch.no_grad():
                        ref, _ = token_logprobs(self.ref_model, batch, temperature=cfg.temperature)
                adv = torch.tensor([a for _, _, a in micro], device=logp.device)
                loss, m = policy_loss(
                    logp,
                    old,
                    adv,
                    batch.mask,
                    cfg.clip_eps_low,
                    cfg.clip_eps_high,
                    cfg.loss_averaging,
                    ref_logprobs=ref,
                    kl_coef=cfg.kl_coef,
                    entropy=entropy,
                    entropy_coef=cfg.entropy_coef,
                    rollout_logprobs=batch.rollout_logprobs,
                    tis_cap=cfg.tis_cap,
                    normalizer=normalizer,
                )
                # DDP and FSDP average gradients over ranks; each rank's loss is its share of the global mean.
                (loss * weight * self.info.world).backward()
            if weight:
                for name, v in m.items():
                    out[name] = out.get(name, 0.0) + v * len(micro) / max(1, n_mine)
        out["actor/grad_norm"] = float(
            torch.nn.utils.clip_grad_norm_(self.bundle.model.parameters(), cfg.max_grad_norm)
        )
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return out

    def _encode_prompt(self, record: Record) -> PromptEncoding:
        enc = encode(self.bundle.processor, [render_prompt(record.messages)], [record.messages], self.dataset.root)
        ids, types = enc["input_ids"], enc["mm_token_type_ids"]
        if enc.get("image_grid_thw") is not None or enc.get("video_grid_thw") is not None:
            grids = enc.get("image_grid_thw"), enc.get("video_grid_thw")
            positions = self.bundle.model.model.get_rope_index(ids, types, *grids)[0][:, 0]
        else:
            positions = torch.arange(ids.shape[1])[None].expand(3, -1).clone()
        return PromptEncoding(ids[0], types[0], positions, *visual_as_images(enc))

    def _policy_batch(self, micro: list[tuple[Group, Rollout, float]], prompts: dict) -> Any:
        model = self.bundle.model
        batch = policy_batch(
            [prompts[g.record.id] for g, _, _ in micro],
            [r for _, r, _ in micro],
            self.bundle.tokenizer.pad_token_id,
            share_prompts=shares_prompts(model),
        )
        # token_logprobs moves the model inputs; the loss reads the mask and the engine's log-probs here.
        batch.mask = batch.mask.to(self.info.device)
        batch.rollout_logprobs = batch.rollout_logprobs.to(self.info.device)
        return batch

    # -- one iteration -----------------------------------------------------------------------------------------
    def step(self) -> dict[str, Any]:
        cfg = self.cfg
        t0 = time.perf_counter()
        prompts = self.select_prompts()
        rollouts = self.rollout(prompts)
        t_rollout = time.perf_counter() - t0
        groups = self.score(prompts, rollouts)
        self.sampler.update(
            [g.record.id for g in groups for _ in g.rollouts], [float(c) for g in groups for c in g.correct]
        )
        needed = cfg.prompts_per_iteration
        selection = select_groups([g.rewards for g in groups], needed if cfg.dynamic_sampling else len(groups))
        if cfg.dynamic_sampling:
            self.expansion.observe(selection.num_invalid, selection.num_groups)
            kept = [groups[i] for i in selection.indices]
        else:
            kept = groups  # plain GRPO trains on every group (all-equal groups get zero advantage)
        t1 = time.perf_counter()
        update_metrics = self.update(kept, self.advantages(kept)) if kept else {}
        t_train = time.perf_counter() - t1
        self.iteration += 1
        self.rollouts_used += sum(len(g.rollouts) for g in groups)
        return self._metrics(groups, kept, selection, update_metrics, t_rollout, t_train)

    def _metrics(self, groups, kept, selection, update_metrics, t_rollout, t_train) -> dict[str, Any]:
        flat = [(g.record.domain, r, rw, c) for g in groups for r, rw, c in zip(g.rollouts, g.rewards, g.correct)]
        m: dict[str, Any] = {"rollouts/total": self.rollouts_used, "rollouts/prompts": len(groups)}
        by_domain: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        for domain, _, rw, c in flat:
            by_domain[domain].append((rw, c))
        for domain, vals in by_domain.items():
            m[f"rewards/{domain}/mean"] = sum(v for v, _ in vals) / len(vals)
            m[f"accuracy/{domain}"] = sum(c for _, c in vals) / len(vals)
        m["rewards/mean"] = sum(rw for *_, rw, _ in flat) / max(1, len(flat))
        m["accuracy/mean"] = sum(c for *_, c in flat) / max(1, len(flat))
        lengths = [len(r.response_ids) for _, r, _, _ in flat]
        think = [
            r.response_ids.index(self.think_close) if self.think_close in r.response_ids else len(r.response_ids)
            for _, r, _, _ in flat
        ]
        m["response/length_mean"] = sum(lengths) / max(1, len(lengths))
        m["response/thinking_length_mean"] = sum(think) / max(1, len(think))
        m["response/forced_rate"] = sum(r.forced for _, r, _, _ in flat) / max(1, len(flat))
        m.update(unclosed_thought_rates([(domain, r.response_ids) for domain, r, _, _ in flat], self.think_close))
        m.update(selection.metrics())
        m.update(self.expansion.metrics())
        m.update(self.sampler.metrics())
        m["groups/trained"] = len(kept)
        m["perf/rollout_tokens_per_s"] = sum(lengths) / max(t_rollout, 1e-9)
        m["perf/train_tokens_per_s"] = sum(len(r.response_ids) for g in kept for r in g.rollouts) / max(t_train, 1e-9)
        m.update(update_metrics)
        m["actor/weight_change"] = self.drift.relative_change()
        m["actor/lr"] = self.scheduler.get_last_lr()[0]
        return m

    # -- checkpoint state --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The RL state beside the session's (optimizer, schedule, RNG: `Session.save`)."""
        return {
            "iteration": self.iteration,
            "rollouts_used": self.rollouts_used,
            "curriculum": self.sampler.state_dict(),
            "expansion": self.expansion.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])
        self.rollouts_used = int(state["rollouts_used"])
        self.sampler.load_state_dict(state["curriculum"])
        self.expansion.load_state_dict(state["expansion"])
