"""`RewardSystem`: the one entry point for scoring, in RL, in evaluation and from other trainers.

    rs = RewardSystem()                        # packaged defaults (configs/reward.yaml)
    v = rs.score(response, record)             # one Verdict
    vs = rs.score_batch(responses, records, workers=4)   # parallel across processes, order kept

Targets are validated in the calling process first (an unknown domain, a caption record or a malformed ground
truth raise `RewardError` before any work); the scoring itself runs in worker processes under the hard time limit
(``limits.isolation: process``), or in-process with ``isolation: none``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from thinkvl.reward.config import RewardConfig
from thinkvl.reward.extract import extract_strict
from thinkvl.reward.judge import Judge
from thinkvl.reward.registry import VERIFIERS
from thinkvl.reward.sandbox import WorkerPool
from thinkvl.reward.scoring import Scorer, Target, as_target
from thinkvl.reward.verdict import RewardError, Verdict


def load_config(config: RewardConfig | dict[str, Any] | str | Path | None) -> RewardConfig:
    if config is None:
        return RewardConfig.from_yaml()
    if isinstance(config, RewardConfig):
        return config
    if isinstance(config, dict):
        return RewardConfig.from_dict(config)
    return RewardConfig.from_yaml(config)


# Verdicts the judge never sees: the verification itself did not finish.
_NOT_JUDGED = ("time limit", "verification crashed", "worker error", "verifier error")


class RewardSystem:
    """Format gate → box extraction → domain verifier → penalties → Verdict, with limits and batching."""

    def __init__(self, config: RewardConfig | dict[str, Any] | str | Path | None = None):
        self.config = load_config(config)
        self.scorer = Scorer(self.config)  # validates verifier names and options now, not in a worker
        self.judge = Judge(self.config.judge) if self.config.judge.enabled else None
        self._pool: WorkerPool | None = None
        self._lock = threading.Lock()

    # -- public API --------------------------------------------------------------------------------------
    def score(self, response: str, record: Any, *, lenient: bool | None = None) -> Verdict:
        """The verdict for one response against its record (a Record or a dict with domain/answer/meta)."""
        return self.score_batch([response], [record], workers=None, lenient=lenient)[0]

    def score_batch(
        self,
        responses: Sequence[str],
        records: Sequence[Any],
        *,
        workers: int | None = 1,
        lenient: bool | None = None,
        progress: bool = False,
    ) -> list[Verdict]:
        """Verdicts for many responses, scored in parallel across ``workers`` processes; order is kept.

        ``workers=None`` uses the running pool whatever its size (one process if none runs yet).
        """
        if len(responses) != len(records):
            raise RewardError(f"{len(responses)} responses but {len(records)} records")
        targets = [as_target(r) for r in records]
        for target in targets:
            self.scorer.check_target(target)
        if not targets:
            return []
        if self.config.limits.isolation == "none":
            verdicts = [self.scorer.score(r, t, lenient=lenient) for r, t in zip(responses, targets)]
        else:
            verdicts = self._in_workers(responses, targets, workers, lenient, progress)
        if self.judge is not None:
            self._apply_judge(verdicts, targets)
        return verdicts

    def close(self) -> None:
        """Stop the worker processes (they also stop when the system is garbage-collected or at exit)."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def __enter__(self) -> RewardSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.close()

    # -- internals ---------------------------------------------------------------------------------------
    def _plugins(self) -> list[str]:
        """Modules the workers must import so that every configured verifier is registered there too."""
        modules = list(self.config.plugins)
        for domain, dc in self.config.domains.items():
            module = VERIFIERS[dc.verifier].__module__
            if module == "__main__":
                raise RewardError(
                    f"verifier {dc.verifier!r} (domain {domain!r}) is defined in __main__, which worker processes "
                    "can't import: move it to a module, or set limits.isolation: none"
                )
            if not module.startswith("thinkvl.reward.verifiers") and module not in modules:
                modules.append(module)
        return modules

    def _in_workers(
        self,
        responses: Sequence[str],
        targets: list[Target],
        workers: int | None,
        lenient: bool | None,
        progress: bool,
    ) -> list[Verdict]:
        limits = self.config.limits
        tasks = [
            {"response": r if isinstance(r, str) else None, **t.to_dict(), "rid": t.id, "lenient": lenient}
            for r, t in zip(responses, targets)
        ]
        for task in tasks:
            task.pop("id")
        with self._lock:
            if self._pool is None or (workers is not None and self._pool.size != workers):
                if self._pool is not None:
                    self._pool.close()
                self._pool = WorkerPool(
                    self.config.to_dict(), self._plugins(), workers or 1, limits.time_limit_s, limits.startup_timeout_s
                )
            bar = None
            if progress:
                from tqdm import tqdm

                bar = tqdm(total=len(tasks), desc="scoring", unit="resp")
            try:
                raw = self._pool.map(tasks, bar.update if bar is not None else None)
            except BaseException:
                self._pool.close()  # a pool interrupted mid-batch has tasks in flight: start afresh next time
                self._pool = None
                raise
            finally:
                if bar is not None:
                    bar.close()
        return [self._verdict(msg, resp, t) for msg, resp, t in zip(raw, responses, targets)]

    def _verdict(self, msg: dict[str, Any], response: Any, target: Target) -> Verdict:
        if "verdict" in msg:
            return Verdict.from_dict(msg["verdict"])
        if "timeout" in msg:
            reason = f"time limit: verification ran over {msg['timeout']:g}s and was stopped"
        elif "crash" in msg:
            reason = f"verification crashed its worker ({msg['crash']})"
        else:
            reason = f"worker error: {msg.get('error')}"
        ext = extract_strict(response, thinking=self.config.thinking) if isinstance(response, str) else None
        return self.scorer.failed(
            target, reason, extracted=ext.answer if ext else None, format_ok=bool(ext and ext.format_ok)
        )

    def _apply_judge(self, verdicts: list[Verdict], targets: list[Target]) -> None:
        """Blend the judge into the score of gated, rule-checked answers; correctness stays the rule's."""
        judge, w = self.judge, self.config.judge.weight
        assert judge is not None
        todo = [
            k
            for k, (v, t) in enumerate(zip(verdicts, targets))
            if t.domain in self.config.judge.domains
            and v.format_ok
            and v.extracted
            and not v.reason.startswith(_NOT_JUDGED)
        ]
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
            grades = list(pool.map(lambda k: judge.grade(targets[k], verdicts[k].extracted or ""), todo))
        for k, grade in zip(todo, grades):
            v = verdicts[k]
            if grade is None:
                v.reason += "; judge unavailable"
                continue
            v.judge = grade
            v.score = (1 - w) * v.score + w * grade
            v.reward = self.scorer.reward_of(v.domain, v.score, v.penalties)
            v.reason += f"; judge {grade:g}"
