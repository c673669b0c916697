"""Use the reward system from verl and TRL, with their calling conventions.

verl::

    compute_score(data_source, solution_str, ground_truth, extra_info=None) -> {"score": float, "acc": bool, ...}

is what `thinkvl.integrations.verl.reward_manager.ThinkvlRewardManager` calls; configure that manager rather than
this function alone, because verl's own managers decode responses without the format tags.

The domain is ``extra_info["domain"]`` or else ``data_source`` (``"math"``, or ``"anything/math"``); choices and
other metadata come from ``extra_info["meta"]`` or ``extra_info["choices"]``. TRL (``GRPOTrainer(reward_funcs=
[make_trl_reward()])``)::

    reward(prompts, completions, **columns) -> list[float]

reads the ``domain``, ``answer`` and optional ``meta`` / ``choices`` dataset columns. In both, structured ground
truths stored as JSON text (grounding boxes, GUI actions, counts) are decoded.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thinkvl.model import tokens as T
from thinkvl.reward.config import RewardConfig
from thinkvl.reward.system import RewardSystem
from thinkvl.reward.verdict import RewardError

_DEFAULT: RewardSystem | None = None
_DEFAULT_LOCK = threading.Lock()
ConfigLike = RewardConfig | dict[str, Any] | str | Path | None


def default_system() -> RewardSystem:
    """One RewardSystem per process, created on first use with the packaged defaults."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = RewardSystem()
        return _DEFAULT


def plain(value: Any) -> Any:
    """numpy scalars and arrays (as parquet-backed datasets hand them over) as plain Python values."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return plain(value.tolist())
    return value


def coerce_answer(domain: str, answer: Any, meta: dict[str, Any]) -> Any:
    """Decode ground truths that dataframes store as text: JSON boxes/actions, counts, timestamps."""
    answer = plain(answer)
    if not isinstance(answer, str):
        return answer
    text = answer.strip()
    if domain in ("grounding", "gui") and text[:1] in "[{":
        try:
            return json.loads(text)
        except ValueError:
            return answer
    if domain == "counting" and text.isdigit():
        return int(text)
    if domain == "video" and meta.get("video_task") == "timestamp":
        try:
            return float(text)
        except ValueError:
            return answer
    return answer


def _record(domain: str, answer: Any, meta: Any, choices: Any = None) -> dict[str, Any]:
    if isinstance(meta, str):
        meta = json.loads(meta) if meta.strip() else {}
    meta = plain(dict(meta or {}))
    if choices is not None and "choices" not in meta:
        meta["choices"] = plain(list(choices))
    return {"domain": domain, "answer": coerce_answer(domain, answer, meta), "meta": meta}


_TAGS = (T.THINK_OPEN, T.ANSWER_OPEN, T.BOX_OPEN)
_warned_untagged = False


def _warn_if_tags_stripped(text: str) -> None:
    """Say once when responses arrive with no format tag at all: verl's own reward managers decode with
    ``skip_special_tokens=True``, which removes them, and every response then scores 0."""
    global _warned_untagged
    if _warned_untagged or not text.strip() or any(tag in text for tag in _TAGS):
        return
    _warned_untagged = True
    warnings.warn(
        "thinkvl reward: a response has no <think>/<answer>/box tags. verl's reward managers strip them "
        "(skip_special_tokens=True) and every response scores 0; use reward.reward_manager "
        "ThinkvlRewardManager from thinkvl.integrations.verl.reward_manager, which keeps them.",
        RuntimeWarning,
        stacklevel=3,
    )


def make_verl_compute_score(config: ConfigLike = None, *, lenient: bool | None = None) -> Callable[..., dict]:
    """A verl ``compute_score`` bound to its own RewardSystem.

    Use it through `thinkvl.integrations.verl.reward_manager.ThinkvlRewardManager`: verl's own managers decode
    responses without the format tags, which the strict format gate needs (a warning says so when it happens).
    """
    system = RewardSystem(config) if config is not None else None

    def compute_score(
        data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None, **_: Any
    ) -> dict[str, Any]:
        rs = system or default_system()
        _warn_if_tags_stripped(solution_str)
        info = dict(extra_info or {})
        domain = info.get("domain") or _domain_of(data_source, rs)
        record = _record(domain, ground_truth, info.get("meta"), info.get("choices"))
        verdict = rs.score(solution_str, record, lenient=lenient)
        return {
            "score": verdict.reward,
            "acc": verdict.correct,
            "format_ok": verdict.format_ok,
            "penalty": sum(verdict.penalties.values()),
        }

    return compute_score


def _domain_of(data_source: str, rs: RewardSystem) -> str:
    for candidate in (data_source, str(data_source).rsplit("/", 1)[-1]):
        if candidate in rs.config.domains:
            return candidate
    raise RewardError(
        f"can't tell the domain of data_source {data_source!r}: pass extra_info['domain'] or name the data source "
        f"after a domain ({', '.join(sorted(rs.config.domains))})"
    )


compute_score = make_verl_compute_score()


def _completion_text(completion: Any) -> str:
    """TRL completions are strings, or (conversational) a list of messages whose last one is the assistant's."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        content = completion[-1].get("content", "")
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        return str(content)
    raise RewardError(f"unexpected completion type {type(completion).__name__}")


def make_trl_reward(
    config: ConfigLike = None,
    *,
    domain_column: str = "domain",
    answer_column: str = "answer",
    meta_column: str = "meta",
    workers: int = 1,
    lenient: bool | None = None,
    tokenizer: Any = None,
) -> Callable[..., list[float]]:
    """A TRL reward function ``(prompts, completions, **columns) -> list[float]`` named ``thinkvl_reward``.

    TRL decodes ``completions`` with ``skip_special_tokens=True``, which strips the think/answer/box tags the
    strict format gate reads. Pass the policy's ``tokenizer`` and the function re-decodes the ``completion_ids``
    TRL also hands to reward functions, keeping those tags.
    """
    system = RewardSystem(config) if config is not None else None

    def thinkvl_reward(prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        rs = system or default_system()
        for name in (domain_column, answer_column):
            if name not in columns:
                raise RewardError(f"the dataset needs a {name!r} column for thinkvl_reward")
        n = len(completions)
        metas = columns.get(meta_column) or [None] * n
        choices = columns.get("choices") or [None] * n
        records = [
            _record(columns[domain_column][k], columns[answer_column][k], metas[k], choices[k]) for k in range(n)
        ]
        ids = columns.get("completion_ids")
        if tokenizer is not None and ids is not None:
            texts = [tokenizer.decode(list(c), skip_special_tokens=False) for c in ids]
        else:
            texts = [_completion_text(c) for c in completions]
        return [v.reward for v in rs.score_batch(texts, records, workers=workers, lenient=lenient)]

    return thinkvl_reward
