"""The unified multi-domain reward system: format gate → box extraction → domain verifier → penalties.

>>> from thinkvl.reward import RewardSystem
>>> rs = RewardSystem({"limits": {"isolation": "none"}})
>>> v = rs.score("<think>2+2=4</think><answer><|begin_of_box|>4<|end_of_box|></answer>",
...              {"domain": "math", "answer": "4"})
>>> (v.reward, v.correct, v.extracted)
(1.0, True, '4')

Names are imported on first use (PEP 562), so worker processes that import ``thinkvl.reward.worker`` load only
what scoring needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "compute_score": "adapters",
    "make_trl_reward": "adapters",
    "make_verl_compute_score": "adapters",
    "DomainConfig": "config",
    "JudgeConfig": "config",
    "LimitsConfig": "config",
    "PenaltyConfig": "config",
    "RewardConfig": "config",
    "Extraction": "extract",
    "extract_lenient": "extract",
    "extract_strict": "extract",
    "VERIFIERS": "registry",
    "Verifier": "registry",
    "get_verifier": "registry",
    "register": "registry",
    "Target": "scoring",
    "RewardSystem": "system",
    "Check": "verdict",
    "RewardError": "verdict",
    "Verdict": "verdict",
}
__all__ = [
    "Check",
    "DomainConfig",
    "Extraction",
    "JudgeConfig",
    "LimitsConfig",
    "PenaltyConfig",
    "RewardConfig",
    "RewardError",
    "RewardSystem",
    "Target",
    "VERIFIERS",
    "Verdict",
    "Verifier",
    "compute_score",
    "extract_lenient",
    "extract_strict",
    "get_verifier",
    "make_trl_reward",
    "make_verl_compute_score",
    "register",
]

if TYPE_CHECKING:
    from thinkvl.reward.adapters import compute_score, make_trl_reward, make_verl_compute_score
    from thinkvl.reward.config import DomainConfig, JudgeConfig, LimitsConfig, PenaltyConfig, RewardConfig
    from thinkvl.reward.extract import Extraction, extract_lenient, extract_strict
    from thinkvl.reward.registry import VERIFIERS, Verifier, get_verifier, register
    from thinkvl.reward.scoring import Target
    from thinkvl.reward.system import RewardSystem
    from thinkvl.reward.verdict import Check, RewardError, Verdict


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'thinkvl.reward' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"thinkvl.reward.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
