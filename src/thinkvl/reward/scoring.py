"""One response → one Verdict, in-process: size limits, format gate, extraction, verifier, penalties, reward.

This is the pure core that worker processes run (`thinkvl.reward.worker`); `RewardSystem` adds the hard
time limit, batching and the optional judge around it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from thinkvl.data.record import CHOICE_LETTERS, DOMAINS, Record, answer_problem
from thinkvl.reward import verifiers as _builtin  # noqa: F401  (registers the built-in verifiers)
from thinkvl.reward.config import RewardConfig
from thinkvl.reward.extract import extract_lenient, extract_strict
from thinkvl.reward.penalties import penalties as find_penalties
from thinkvl.reward.registry import Verifier, build_options, get_verifier
from thinkvl.reward.verdict import RewardError, Verdict
from thinkvl.reward.verifiers.choice import options_from_question

UNVERIFIABLE = {"caption": "caption records have no single right answer and can't be scored by rule"}


@dataclass
class Target:
    """What a response is scored against: the domain, the ground truth and its metadata."""

    domain: str
    answer: Any
    meta: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    question: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "answer": self.answer, "meta": self.meta, "id": self.id}


def as_target(record: Any) -> Target:
    """A Record, a record-like mapping (domain, answer, optional meta/id), or a Target.

    A multiple-choice record without ``meta.choices`` gets the options its question text lists, if any.
    """
    if isinstance(record, Target):
        return record
    if isinstance(record, Record):
        return _with_options(Target(record.domain, record.answer, dict(record.meta), record.id, record.question))
    if isinstance(record, dict):
        if "domain" not in record or "answer" not in record:
            raise RewardError(f"a record needs 'domain' and 'answer'; got keys {sorted(record)}")
        meta = record.get("meta") or {}
        if not isinstance(meta, dict):
            raise RewardError(f"record {record.get('id', '?')!r}: meta must be an object")
        question = meta.get("question", "") if isinstance(meta.get("question"), str) else ""
        return _with_options(Target(record["domain"], record["answer"], meta, str(record.get("id", "")), question))
    raise RewardError(f"can't score against a {type(record).__name__}; pass a Record or a dict")


def _with_options(target: Target) -> Target:
    if target.domain == "choice" and target.meta.get("choices") is None and target.question:
        options = options_from_question(target.question)
        if options and len(options) <= len(CHOICE_LETTERS):
            target.meta = {**target.meta, "choices": options}
    return target


def import_plugins(modules: list[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise RewardError(f"can't import reward plugin {name!r}: {err}") from None


class Scorer:
    """Scores responses in the current process (no time limit of its own)."""

    def __init__(self, config: RewardConfig):
        self.config = config
        import_plugins(config.plugins)
        self.verifiers: dict[str, Verifier] = {}
        for domain, dc in config.domains.items():
            cls = get_verifier(dc.verifier)
            self.verifiers[domain] = cls(build_options(cls, dc.options, f"reward.domains.{domain}.options"))

    def check_target(self, target: Target) -> None:
        """Raise a RewardError naming the problem if this target can't be scored."""
        domain = target.domain
        where = f"record {target.id!r}: " if target.id else ""
        if domain in UNVERIFIABLE and domain not in self.verifiers:
            raise RewardError(f"{where}domain {domain!r} is not verifiable: {UNVERIFIABLE[domain]}")
        if domain not in self.verifiers:
            raise RewardError(f"{where}unknown domain {domain!r}; configured: {', '.join(sorted(self.verifiers))}")
        problem = answer_problem(domain, target.answer, target.meta) if domain in DOMAINS else None
        problem = problem or self.verifiers[domain].answer_problem(target.answer, target.meta)
        if problem:
            raise RewardError(f"{where}bad ground truth for domain {domain!r}: {problem}")

    def reward_of(self, domain: str, score: float, penalties: dict[str, float]) -> float:
        """Map a verifier score minus penalties onto the domain's reward range, then weight it."""
        dc = self.config.domains[domain]
        lo, hi = dc.reward_range or self.config.reward_range
        value = min(max(score - sum(penalties.values()), 0.0), 1.0)
        return dc.weight * (lo + (hi - lo) * value)

    def fail_reward(self, domain: str) -> float:
        dc = self.config.domains.get(domain)
        if self.config.format_reward is not None:
            return self.config.format_reward
        lo = (dc.reward_range if dc and dc.reward_range else self.config.reward_range)[0]
        return (dc.weight if dc else 1.0) * lo

    def failed(self, target: Target, reason: str, *, extracted: str | None = None, format_ok: bool = False) -> Verdict:
        return Verdict(self.fail_reward(target.domain), False, extracted, format_ok, {}, target.domain, reason)

    def score(self, response: str, target: Target, *, lenient: bool | None = None) -> Verdict:
        """The verdict for one response (the target must have passed `check_target`)."""
        cfg, limits = self.config, self.config.limits
        lenient = cfg.lenient if lenient is None else lenient
        if not isinstance(response, str):
            return self.failed(target, f"response is a {type(response).__name__}, not text")
        if len(response) > limits.max_response_chars:
            return self.failed(target, f"response too long ({len(response):,} > {limits.max_response_chars:,} chars)")
        ext = (extract_lenient if lenient else extract_strict)(response, thinking=cfg.thinking)
        if not lenient and not ext.format_ok:
            return self.failed(target, "format: " + "; ".join(ext.problems))
        if not ext.answer:
            return self.failed(target, "no answer found", format_ok=ext.format_ok)
        if len(ext.answer) > limits.max_answer_chars:
            return self.failed(
                target,
                f"answer too long ({len(ext.answer):,} > {limits.max_answer_chars:,} chars)",
                format_ok=ext.format_ok,
            )
        dc = cfg.domains[target.domain]
        try:
            check = self.verifiers[target.domain].verify(ext.answer, target.answer, target.meta, lenient=lenient)
        except (ArithmeticError, ValueError, TypeError, KeyError, IndexError, RecursionError, MemoryError) as err:
            # Adversarial text must never crash a batch; the reason keeps the bug visible.
            return self.failed(target, f"verifier error: {type(err).__name__}: {err}", extracted=ext.answer)
        pens = find_penalties(response, dc.penalties or cfg.penalties)
        reason = check.reason + ("" if ext.format_ok else " (lenient; format: " + "; ".join(ext.problems) + ")")
        return Verdict(
            reward=self.reward_of(target.domain, check.score, pens),
            correct=check.correct,
            extracted=ext.answer,
            format_ok=ext.format_ok,
            penalties=pens,
            domain=target.domain,
            reason=reason,
            score=check.score,
        )
