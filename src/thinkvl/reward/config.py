"""Reward configuration: one dataclass per concern, filled 1:1 from YAML (see configs/reward.yaml).

Unknown keys and out-of-range values are errors naming the key, so a typo in a YAML file can't silently leave a
default in force during a long RL run.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from thinkvl.config import ConfigError, from_mapping, parse_yaml
from thinkvl.config import option as _f
from thinkvl.reward.verdict import RewardError


def _check_range(lo: float, hi: float, where: str) -> None:
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise RewardError(f"{where}: reward_range must be two finite numbers [low, high] with low < high")


@dataclass
class LimitsConfig:
    time_limit_s: float = _f(2.0, "hard wall-clock limit of one verification; past it the worker is killed")
    max_response_chars: int = _f(200_000, "responses longer than this are rejected before any parsing")
    max_answer_chars: int = _f(2_000, "box contents longer than this are rejected before verification")
    isolation: Literal["process", "none"] = _f(
        "process", "process: verify in worker subprocesses with the hard limit; none: in-process, no hard limit"
    )
    worker_memory_mb: int = _f(2048, "address-space limit of each worker process (Linux), 0 for none")
    startup_timeout_s: float = _f(120.0, "how long to wait for a worker process to start")

    def __post_init__(self) -> None:
        if not self.time_limit_s > 0:
            raise RewardError("limits.time_limit_s must be > 0")
        if self.max_response_chars < 1 or self.max_answer_chars < 1:
            raise RewardError("limits.max_response_chars and limits.max_answer_chars must be >= 1")
        if self.isolation not in ("process", "none"):
            raise RewardError(f"limits.isolation must be 'process' or 'none', got {self.isolation!r}")
        if self.worker_memory_mb < 0:
            raise RewardError("limits.worker_memory_mb must be >= 0")


@dataclass
class PenaltyConfig:
    repetition_weight: float = _f(0.5, "penalty (in score units) at full repetition; 0 disables")
    repetition_ngram: int = _f(4, "n of the word n-grams counted for repetition")
    repetition_threshold: float = _f(0.3, "fraction of repeated n-grams tolerated before the penalty ramps up")
    loop_weight: float = _f(0.5, "penalty when the response ends in a loop (a span repeated back to back)")
    loop_min_repeats: int = _f(4, "how many back-to-back copies of a span make a looping tail")
    mixed_language_weight: float = _f(0.2, "penalty for long Chinese and long English passages in one response")
    mixed_language_min_run: int = _f(12, "CJK characters / English words that make a passage 'long'")
    overlength_weight: float = _f(0.0, "penalty at max_chars (0 disables); ramps up over the buffer before it")
    max_chars: int = _f(60_000, "response length (characters) at which the over-length penalty is full")
    overlength_buffer: int = _f(10_000, "characters before max_chars over which the penalty ramps from 0")

    def __post_init__(self) -> None:
        for name in ("repetition_weight", "loop_weight", "mixed_language_weight", "overlength_weight"):
            if not 0 <= getattr(self, name) <= 1:
                raise RewardError(f"penalties.{name} must be in [0, 1] (score units)")
        if self.repetition_ngram < 1 or self.loop_min_repeats < 2 or self.mixed_language_min_run < 1:
            raise RewardError("penalties: repetition_ngram >= 1, loop_min_repeats >= 2, mixed_language_min_run >= 1")
        if not 0 <= self.repetition_threshold < 1:
            raise RewardError("penalties.repetition_threshold must be in [0, 1)")
        if self.max_chars < 1 or not 0 <= self.overlength_buffer <= self.max_chars:
            raise RewardError("penalties: max_chars >= 1 and 0 <= overlength_buffer <= max_chars")


@dataclass
class JudgeConfig:
    enabled: bool = _f(False, "consult an LLM judge (OpenAI-compatible chat completions endpoint)")
    base_url: str = _f("http://127.0.0.1:8000/v1", "endpoint base URL; /chat/completions is appended")
    model: str = _f("judge", "model name sent to the endpoint")
    api_key_env: str = _f("", "environment variable holding the API key (empty: no Authorization header)")
    timeout_s: float = _f(30.0, "HTTP timeout of one judge call; a failed call leaves the rule verdict alone")
    weight: float = _f(0.3, "share of the judge in the score: (1-w)*rule + w*judge; < 1 so a rule always counts")
    domains: list[str] = _f(["vqa"], "domains the judge is consulted for")

    def __post_init__(self) -> None:
        if not 0 <= self.weight < 1:
            raise RewardError("judge.weight must be in [0, 1): the judge is never the only signal")
        if not self.timeout_s > 0:
            raise RewardError("judge.timeout_s must be > 0")


@dataclass
class DomainConfig:
    verifier: str = _f("", "registered verifier name (defaults to the domain name)")
    weight: float = _f(1.0, "scale of this domain's reward in a mixed batch")
    reward_range: list[float] | None = _f(None, "[low, high] for this domain (null: the global range)")
    penalties: PenaltyConfig | None = _f(None, "penalties for this domain (null: the global ones)")
    options: dict[str, Any] = _f({}, "the verifier's own options (tolerances, metrics, thresholds)")

    def __post_init__(self) -> None:
        if not self.weight > 0:
            raise RewardError("domain weight must be > 0")
        if self.reward_range is not None:
            if len(self.reward_range) != 2:
                raise RewardError("a domain's reward_range is [low, high]")
            _check_range(*self.reward_range, where="domain")


def _default_domains() -> dict[str, DomainConfig]:
    names = ("math", "counting", "chart", "ocr", "grounding", "choice", "vqa", "video", "gui")
    return {n: DomainConfig(verifier=n) for n in names}


@dataclass
class RewardConfig:
    reward_range: list[float] = _f([0.0, 1.0], "[low, high]: a verifier score of 0 maps to low, 1 to high")
    format_reward: float | None = _f(None, "reward of a format failure (null: the low end of the range)")
    lenient: bool = _f(False, "lenient extraction (last box, \\boxed{}, 'the answer is'): evaluation only, off in RL")
    thinking: bool = _f(True, "responses start with <think>…</think> (false when thinking was prefilled empty)")
    plugins: list[str] = _f([], "modules to import (in workers too) that register custom verifiers")
    limits: LimitsConfig = field(default_factory=LimitsConfig, metadata={"help": "size and time limits"})
    penalties: PenaltyConfig = field(default_factory=PenaltyConfig, metadata={"help": "penalties"})
    judge: JudgeConfig = field(default_factory=JudgeConfig, metadata={"help": "optional LLM judge"})
    domains: dict[str, DomainConfig] = field(default_factory=_default_domains, metadata={"help": "per domain"})

    def __post_init__(self) -> None:
        if len(self.reward_range) != 2:
            raise RewardError("reward_range is [low, high]")
        _check_range(*self.reward_range, where="reward_range")
        if self.format_reward is not None and not math.isfinite(self.format_reward):
            raise RewardError("format_reward must be finite")
        for name, dc in self.domains.items():
            if not dc.verifier:
                dc.verifier = name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, merge_domains: bool = True) -> RewardConfig:
        """Build from a YAML mapping; ``domains`` are merged over the defaults (or replace them)."""
        data = dict(data or {})
        domains = data.pop("domains", None) or {}
        if not isinstance(domains, dict):
            raise RewardError("reward.domains must be a mapping of domain name to its config")
        try:
            config = from_mapping(cls, data, where="reward")
            if not merge_domains:
                config.domains = {}
            for name, spec in domains.items():
                if spec is None:  # `caption: null` removes a domain
                    config.domains.pop(name, None)
                    continue
                config.domains[name] = from_mapping(DomainConfig, spec, where="reward", prefix=f"domains.{name}.")
                config.domains[name].verifier = config.domains[name].verifier or name
        except ConfigError as err:
            raise RewardError(str(err)) from None
        return config

    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> RewardConfig:
        """Load a YAML file (None: the packaged default, src/thinkvl/configs/reward.yaml)."""
        if path is None:
            text = resources.files("thinkvl").joinpath("configs/reward.yaml").read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        try:
            data = parse_yaml(text, str(path or "reward.yaml"))
        except ConfigError as err:
            raise RewardError(str(err)) from None
        if data is not None and not isinstance(data, dict):
            raise RewardError(f"{path or 'reward.yaml'}: expected a mapping at the top level")
        return cls.from_dict(data)
