"""Score benchmarks whose official scorer uses an LLM the way the official scorer does, with any
OpenAI-compatible model as the judge (``thinkvl eval run --judge-endpoint URL --judge-model NAME``).

After the rule verdicts of a batch are in, `EvalJudge.apply` hands every answered item of a benchmark that has an
official judge protocol (`thinkvl.eval.judge_protocols`) to the judge and replaces the row's ``correct`` and
``score`` with the official verdict. The row keeps the rule's verdict beside it and records the judge's raw
reply. Requests go through the served-model client's transport (`thinkvl.eval.endpoint`: retries, backoff,
deadlines), ``concurrency`` at a time. Every reply is cached on disk under a key made of the judge model's name
and the request body, written atomically, so a re-run, or a re-scoring of saved responses, asks nothing again. An
item the judge could not answer becomes an error row (left out of the metric, tried again on resume), never a
silent rule verdict.

What the judge reads of a response: the boxed answer when there is one (VLMEvalKit reads GLM-4.1V's answers
that way), else the text after the thought, or the whole text for a model that doesn't think.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkvl.config import check_values, option
from thinkvl.data.loaders import atomic_write_text
from thinkvl.data.record import Record
from thinkvl.eval.judge_protocols import PROTOCOLS, Outcome, Protocol, Request
from thinkvl.eval.registry import Benchmark
from thinkvl.model.tokens import ANSWER_CLOSE, ANSWER_OPEN, BOX_OPEN, THINK_CLOSE, THINK_OPEN


@dataclass
class JudgeConfig:
    """The judge model used where a benchmark's official scorer uses an LLM: the ``judge:`` section of an eval
    YAML; flags ``--judge.FIELD``, or ``--judge-FIELD`` (``--judge-endpoint URL --judge-model NAME``)."""

    endpoint: str = option("", "base URL of an OpenAI-compatible server hosting the judge")
    model: str = option("", "the judge model's name on that server (the request's 'model')")
    api_key_env: str | None = option(None, "environment variable holding the judge server's API key")
    cache_dir: str | None = option(None, "judge replies cached here, keyed by model and prompt (null: ~/.cache)")
    concurrency: int = option(8, "judge requests in flight at once")
    timeout: float = option(120.0, "seconds one judge request may take before it is retried")
    max_attempts: int = option(5, "tries per judge request (429, 5xx, timeouts are retried)")
    structured_output: bool = option(
        True, "send response_format (JSON schema) where the official judge uses structured output (MMVU)"
    )

    def __post_init__(self) -> None:
        check_values(self)
        if not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(f"judge endpoint must be an http(s) URL, got {self.endpoint!r}")
        if not self.model:
            raise ValueError("a judge endpoint needs the judge model's name (judge model)")
        if self.concurrency < 1 or self.max_attempts < 1 or not self.timeout > 0:
            raise ValueError("judge concurrency and max_attempts must be >= 1 and timeout > 0")


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "thinkvl" / "judge"


def judged_answer(response: str, extracted: str | None) -> str:
    """The part of a response the judge reads (see the module docstring)."""
    if BOX_OPEN in response and extracted is not None:
        return extracted
    if THINK_CLOSE in response:
        response = response.rsplit(THINK_CLOSE, 1)[1]
    elif response.lstrip().startswith(THINK_OPEN):
        return ""  # a thought never closed: no answer was given
    else:
        return response
    return response.replace(ANSWER_OPEN, "").replace(ANSWER_CLOSE, "").strip()


@dataclass
class Reply:
    text: str | None
    error: str | None = None
    cached: bool = False


class JudgeClient:
    """Chat requests to the judge model, answered from the disk cache when asked before."""

    def __init__(self, options: JudgeConfig):
        from thinkvl.eval.endpoint import EndpointModel
        from thinkvl.eval.runner import EndpointConfig

        self.model = options.model
        transport = EndpointConfig(
            url=options.endpoint,
            served_model=options.model,
            api_key_env=options.api_key_env,
            concurrency=options.concurrency,
            request_timeout=options.timeout,
            max_attempts=options.max_attempts,
            request_extra={},
        )
        self.transport = EndpointModel(transport)
        self.cache = Path(options.cache_dir) if options.cache_dir else default_cache_dir()

    def key(self, body: Request) -> str:
        blob = json.dumps({"model": self.model, **body}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.cache / key[:2] / f"{key}.json"

    def _cached(self, key: str) -> str | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))["reply"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: ask again (and overwrite)

    def ask(self, bodies: list[Request]) -> list[Reply]:
        """One reply per request body, in order; cached ones without a request."""
        keys = [self.key(b) for b in bodies]
        replies: list[Reply | None] = []
        for key in keys:
            text = self._cached(key)
            replies.append(Reply(text, cached=True) if text is not None else None)
        todo = [k for k, r in enumerate(replies) if r is None]
        if todo:
            fetched = _run(self._fetch([bodies[k] for k in todo]))
            for k, reply in zip(todo, fetched):
                if reply.text is not None:
                    record = {"model": self.model, "request": bodies[k], "reply": reply.text}
                    atomic_write_text(self._path(keys[k]), json.dumps(record, ensure_ascii=False) + "\n")
                replies[k] = reply
        return [r for r in replies if r is not None]

    async def _fetch(self, bodies: list[Request]) -> list[Reply]:
        import httpx2

        from thinkvl.eval.endpoint import RequestFailed

        t = self.transport
        gate = asyncio.Semaphore(t.concurrency)
        limits = httpx2.Limits(max_connections=t.concurrency, max_keepalive_connections=t.concurrency)
        async with httpx2.AsyncClient(timeout=t.timeout, limits=limits, headers=t.headers) as client:

            async def one(body: Request) -> Reply:
                async with gate:
                    try:
                        reply = await t.post(
                            client, "/chat/completions", {"model": self.model, **body}, {"attempts": 0}
                        )
                        content = reply["choices"][0]["message"].get("content")
                    except RequestFailed as err:
                        return Reply(None, str(err))
                    except (KeyError, IndexError, TypeError, AttributeError):
                        return Reply(None, f"malformed judge reply: {json.dumps(reply)[:200]}")
                    return Reply(str(content or ""))

            return list(await asyncio.gather(*(one(b) for b in bodies)))


def _run(coro: Any) -> Any:
    """Run a coroutine to completion from synchronous code, also when the caller already runs an event loop."""
    out: dict[str, Any] = {}

    def target() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as err:  # handed back to the caller
            out["error"] = err

    thread = threading.Thread(target=target, name="thinkvl-judge")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


class EvalJudge:
    """Applies each benchmark's official judge protocol to its scored rows."""

    def __init__(self, options: JudgeConfig):
        self.options = options
        self.client = JudgeClient(options)

    def protocol(self, bench: Benchmark) -> Protocol | None:
        if not bench.judge:
            return None
        cls = PROTOCOLS[bench.judge]
        return cls(structured=self.options.structured_output) if cls.name == "mmvu" else cls()  # type: ignore[call-arg]

    def preflight(self) -> None:
        self.client.transport.preflight()

    def apply(self, bench: Benchmark, pairs: list[tuple[Record, dict[str, Any]]]) -> list[dict[str, Any]]:
        """The rows with the official verdict in place of the rule's; an item the judge failed on becomes an
        error row."""
        protocol = self.protocol(bench)
        if protocol is None:
            return [row for _, row in pairs]
        out = [row for _, row in pairs]
        asks: list[tuple[int, Record, str, Request]] = []
        for k, (record, row) in enumerate(pairs):
            if "error" in row:
                continue
            answer = judged_answer(row["response"], (row.get("verdict") or {}).get("extracted"))
            request = protocol.request(record, answer)
            if isinstance(request, Outcome):
                out[k] = self._judged(row, protocol, request, None)
            else:
                asks.append((k, record, answer, request))
        replies = self.client.ask([a[3] for a in asks]) if asks else []
        for (k, record, answer, _), reply in zip(asks, replies):
            row = out[k]
            if reply.text is None:
                head = {key: row[key] for key in ("id", "benchmark", "budget", "domain", "answer")}
                info = {**row.get("generation", {}), "response": row["response"]}
                out[k] = {**head, "error": f"judge: {reply.error}", "generation": info}
            else:
                out[k] = self._judged(row, protocol, protocol.decide(record, answer, reply.text), reply)
        return out

    def _judged(self, row: dict[str, Any], protocol: Protocol, outcome: Outcome, reply: Reply | None) -> dict:
        judge = {
            "protocol": protocol.name,
            "model": self.client.model,
            "reply": reply.text if reply else None,
            "cached": reply.cached if reply else False,
            "extracted": outcome.extracted,
            "reason": outcome.reason,
            "rule": {"correct": row["correct"], "score": row["score"]},
        }
        return {**row, "correct": outcome.correct, "score": outcome.score, "judge": judge}
