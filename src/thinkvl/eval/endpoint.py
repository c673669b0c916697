"""Evaluate a served model: an OpenAI-compatible chat-completions client that the eval runner streams from.

Each record becomes one request: its messages in order, every image and video frame attached as a data URL where
the record has it, and the text as the loaders wrote it (the same text the local path renders). Requests run
``concurrency`` at a time on an asyncio loop in a background thread; 429, 5xx, dropped connections and timeouts
are retried with exponential backoff (``Retry-After`` honoured), each try under a hard deadline. An item that
still fails comes back as an error with its reason, so the runner saves it as an error row and retries it on
resume; every other result is handed to the runner as soon as it arrives.

Thinking budgets (report §5, forced answering). The first request asks for at most ``budget`` tokens. When the
server stops there inside the thought (``finish_reason == "length"`` with no ``</think>``), the thought is closed
with the forced-answer marker and the model answers within ``answer_budget`` more tokens, in the same assistant
message, by one of:

- ``continue``: chat completions with the cut thought plus marker as a final assistant message and
  ``continue_final_message: true, add_generation_prompt: false`` (vLLM ≥ 0.6, SGLang);
- ``completions``: ``/completions`` with the rendered GLM prompt and the thought appended (any server with a
  completions endpoint, but it carries no pixels: text-only items only);
- ``refuse``: servers with neither (hosted APIs): a budget other than null is an error, never a silent cap.

The response text is what the local engine would produce: thought + marker + answer. With a reasoning parser
on (vLLM ``--reasoning-parser``), the thought comes back as ``reasoning_content`` and is put back in its tags.
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import os
import queue
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkvl.data.record import MediaPathError, Record, content_parts, media_path
from thinkvl.eval.runner import EndpointConfig, EvalError, Generated
from thinkvl.model.chat import render_prompt
from thinkvl.model.forcing import force_marker_text, thought_cut
from thinkvl.model.tokens import ANSWER_BUDGET, THINK_CLOSE, THINK_OPEN

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF = 60.0  # seconds; also the most of a Retry-After that is honoured
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"), (b"BM", "image/bmp"))


class RequestFailed(Exception):
    """A request that can't succeed (or ran out of tries); the message is the reason saved with the item."""


def data_url(path: Path) -> str:
    """A file as a ``data:`` URL, its type read from its first bytes (the name may say ``.img``)."""
    raw = path.read_bytes()
    kind = next((m for magic, m in _MAGIC if raw.startswith(magic)), None)
    if kind is None and raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        kind = "image/webp"
    kind = kind or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(raw).decode('ascii')}"


def video_url(frames: list[Path]) -> str:
    """A video's frames as one vLLM ``video/jpeg`` data URL: each frame's bytes in base64, comma-separated.

    vLLM decodes every part with PIL, which reads the format from the bytes, so PNG frames arrive lossless (the
    type names vLLM's frame-sequence format, not the frames' encoding)."""
    return "data:video/jpeg;base64," + ",".join(base64.b64encode(f.read_bytes()).decode("ascii") for f in frames)


def video_fps(record: Record) -> list[float]:
    """The sampling rate of each video in the record, in order."""
    return [
        float(part.get("fps") or 1.0)
        for message in record.messages
        if not isinstance(message["content"], str)
        for part in content_parts(message["content"])
        if part.get("type") == "video"
    ]


def chat_messages(record: Record, root: Path, *, video_as: str = "frames") -> list[dict[str, Any]]:
    """The record's conversation as OpenAI chat messages, images inline in record order; a video goes as loose
    frames (``image_url`` parts) or, with ``video_as="video"``, as one ``video_url`` part. Media paths go through
    `media_path`, so no file outside the dataset directory is sent."""
    out = []
    for message in record.messages:
        if isinstance(message["content"], str):
            out.append({"role": message["role"], "content": message["content"]})
            continue
        parts: list[dict[str, Any]] = []
        for part in content_parts(message["content"]):
            kind = part.get("type")
            if kind == "text":
                parts.append({"type": "text", "text": part["text"]})
            elif kind == "image":
                parts.append({"type": "image_url", "image_url": {"url": data_url(media_path(root, part["image"]))}})
            elif kind == "video":
                frames = [media_path(root, f) for f in part["video"]]
                if video_as == "video":
                    parts.append({"type": "video_url", "video_url": {"url": video_url(frames)}})
                else:
                    parts += [{"type": "image_url", "image_url": {"url": data_url(f)}} for f in frames]
            else:
                raise ValueError(f"unknown content part type {kind!r}")
        out.append({"role": message["role"], "content": parts})
    return out


def has_media(record: Record) -> bool:
    return any(True for _ in record.media())


def reply_text(body: Any, chat: bool) -> tuple[str, str | None]:
    """(text, finish_reason) of a server reply; a malformed one is an error."""
    try:
        choice = body["choices"][0]
        finish = choice.get("finish_reason")
        if not chat:
            text = choice["text"]
            return str(text), finish
        message = choice["message"]
        content = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning")
    except (KeyError, IndexError, TypeError, AttributeError):
        raise RequestFailed(f"malformed reply: {json.dumps(body)[:200]}") from None
    if reasoning and THINK_CLOSE not in content:
        # A reasoning parser split the thought off; content is empty while the thought is unfinished.
        if not content:
            return THINK_OPEN + reasoning, finish
        return THINK_OPEN + reasoning + THINK_CLOSE + content, finish
    return str(content), finish


class EndpointModel:
    """A served model as the eval runner's `StreamingModel` (also a plain ``generate`` callable)."""

    def __init__(self, config: EndpointConfig, *, answer_budget: int = ANSWER_BUDGET, backoff: float = 1.0):
        """The API key is read from the environment variable ``config.api_key_env`` names."""
        key = None
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ValueError(f"environment variable {config.api_key_env} (api_key_env) is not set")
        self.url, self.model = config.url.rstrip("/"), config.served_model
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.concurrency, self.timeout = config.concurrency, config.request_timeout
        self.max_reply_bytes = config.max_reply_bytes
        self.refused: str | None = None  # set by a 401/403: the run stops, nothing more is sent
        self.max_attempts, self.backoff = config.max_attempts, backoff
        self.sampling = {"temperature": config.temperature, "top_p": config.top_p}
        self.max_tokens, self.answer_budget = config.max_tokens, answer_budget
        self.marker = force_marker_text(config.force_marker)
        self.budget_via, self.video_via = config.budget_via, config.video_via
        self.video_refused: str | None = None  # why the server refused a video part (auto: frames from then on)
        self.extra = dict(config.request_extra)

    def preflight(self) -> None:
        """Fail in one line, before any item is sent, on a server that can't be reached, refuses the key, or
        doesn't serve this model (``GET /models``; a server without that route is taken on trust)."""
        import httpx2

        try:
            response = httpx2.get(self.url + "/models", headers=self.headers, timeout=min(self.timeout, 30.0))
        except httpx2.HTTPError as err:
            raise EvalError(f"can't reach the server at {self.url}: {type(err).__name__}: {err}") from None
        if response.status_code in (401, 403):
            raise EvalError(_refused(self.url, response.status_code))
        if response.status_code != 200:
            return
        try:
            served = [m["id"] for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            return
        if served and self.model not in served:
            raise EvalError(f"{self.url} serves {', '.join(served)}, not {self.model!r} (served_model)")

    def check(self, records: list[Record], budget: int | None) -> None:
        """Refuse, before anything is sent, a budget this server can't enforce."""
        if budget is None:
            return
        if budget < 1:
            raise EvalError(f"a thinking budget is an integer >= 1 or null (no cap), got {budget}")
        if self.budget_via == "refuse":
            raise EvalError(
                f"thinking budget {budget} needs a server that continues an assistant message (budget_via: continue, "
                "vLLM/SGLang) or a completions endpoint (budget_via: completions); this one can't: use budget null"
            )
        if self.budget_via == "completions":
            bad = next((r.id for r in records if has_media(r)), None)
            if bad is not None:
                raise EvalError(
                    f"budget_via completions sends the prompt as text, without pixels, and item {bad} has images: "
                    "use budget_via continue (vLLM, SGLang) or budget null"
                )

    # ------------------------------------------------------------------ the runner's interfaces
    def stream(self, records: list[Record], root: Path, budget: int | None) -> Iterator[list[tuple[Record, Generated]]]:
        """Outcomes in the order they finish, a chunk at a time (whatever arrived since the last chunk)."""
        self.check(records, budget)
        results: queue.Queue[Any] = queue.Queue()
        end = object()
        state: dict[str, Any] = {}

        def run() -> None:
            try:
                asyncio.run(self._run_all(records, Path(root), budget, results, state))
            except BaseException as err:  # handed to the consumer, which raises it
                results.put(err)
            finally:
                results.put(end)

        thread = threading.Thread(target=run, name="thinkvl-endpoint", daemon=True)
        thread.start()
        try:
            finished = False
            while not finished:
                chunk, item = [], results.get()
                while True:
                    if item is end:
                        finished = True
                        break
                    if isinstance(item, BaseException):
                        raise item
                    chunk.append(item)
                    try:
                        item = results.get_nowait()
                    except queue.Empty:
                        break
                if chunk:
                    yield chunk
        finally:
            if thread.is_alive() and "loop" in state:  # the consumer stopped early: cancel what's in flight
                state["loop"].call_soon_threadsafe(state["task"].cancel)
            thread.join(timeout=10)

    def __call__(self, records: list[Record], root: Path, budget: int | None) -> list[str]:
        """The plain ``generate`` contract: texts in record order; a failed item is an `EvalError`."""
        got: dict[str, Generated] = {}
        for chunk in self.stream(records, root, budget):
            got.update((rec.id, g) for rec, g in chunk)
        failed = [(rid, g.error) for rid, g in got.items() if g.text is None]
        if failed:
            raise EvalError(f"{len(failed)} item(s) failed, first {failed[0][0]}: {failed[0][1]}")
        return [got[r.id].text or "" for r in records]

    # ------------------------------------------------------------------ async core
    async def _run_all(
        self, records: list[Record], root: Path, budget: int | None, out: queue.Queue, state: dict[str, Any]
    ) -> None:
        import httpx2

        state["loop"], state["task"] = asyncio.get_running_loop(), asyncio.current_task()
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx2.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx2.AsyncClient(timeout=self.timeout, limits=limits, headers=self.headers) as client:

            async def one(record: Record) -> None:
                async with gate:
                    out.put((record, await self._item(client, record, root, budget)))

            tasks = [asyncio.create_task(one(r)) for r in records]
            try:
                await asyncio.gather(*tasks)
            finally:  # a refused key (EvalError) stops every item at once
                for task in tasks:
                    task.cancel()

    async def _item(self, client: Any, record: Record, root: Path, budget: int | None) -> Generated:
        info: dict[str, Any] = {"attempts": 0}
        start = time.monotonic()
        try:
            text = await self._answer(client, record, root, budget, info)
        except RequestFailed as err:
            return Generated(None, str(err), info)
        except (OSError, MediaPathError) as err:  # an image that can't be read, or may not be
            return Generated(None, f"could not build the request: {err}", info)
        info["seconds"] = round(time.monotonic() - start, 3)
        return Generated(text, None, info)

    async def _answer(self, client: Any, record: Record, root: Path, budget: int | None, info: dict) -> str:
        cap = self.max_tokens if budget is None else budget
        completions = budget is not None and self.budget_via == "completions"
        if completions:
            prompt = render_prompt(record.messages)
            body = await self._post(client, "/completions", {"prompt": prompt, **self._params(cap)}, info)
        else:
            body, messages, media = await self._chat(client, record, root, cap, info)
        text, finish = reply_text(body, chat=not completions)
        info["finish_reason"] = finish
        if budget is None or not thought_cut(text, finish):
            return text
        # Cut inside the thought: close it and let the model answer in the same assistant message.
        info["forced"] = True
        thought = text + self.marker
        if completions:
            request = {"prompt": prompt + thought, **self._params(self.answer_budget)}
            answer, finish = reply_text(await self._post(client, "/completions", request, info), chat=False)
        else:
            request = {
                "messages": [*messages, {"role": "assistant", "content": thought}],
                "continue_final_message": True,
                "add_generation_prompt": False,
                **media,
                **self._params(self.answer_budget),
            }
            answer, finish = reply_text(await self._post(client, "/chat/completions", request, info), chat=True)
        info["answer_finish_reason"] = finish
        return thought + answer

    async def _chat(
        self, client: Any, record: Record, root: Path, cap: int | None, info: dict[str, Any]
    ) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
        """The first chat request, its video sent as video where the server takes it (frames otherwise; which one
        is saved in ``info["video_via"]``): the reply, and the messages and media fields a continuation repeats."""
        fps = video_fps(record)
        # One request carries one media_io_kwargs, so videos of different rates in one record go as frames.
        as_video = bool(fps) and self.video_via != "frames" and len(set(fps)) == 1 and self.video_refused is None
        while True:
            messages = chat_messages(record, root, video_as="video" if as_video else "frames")
            # vLLM's glm4v reads the rate from media_io_kwargs and stamps each frame's time; -1 keeps every frame.
            media = {"media_io_kwargs": {"video": {"fps": fps[0], "num_frames": -1}}} if as_video else {}
            try:
                body = await self._post(
                    client, "/chat/completions", {"messages": messages, **media, **self._params(cap)}, info
                )
            except RequestFailed as err:
                refused = str(err).startswith(("HTTP 400", "HTTP 422"))
                if not (as_video and self.video_via == "auto" and refused):
                    raise
                self.video_refused = info["video_refused"] = str(err)[:200]
                as_video = False
                continue
            if fps:
                info["video_via"] = "video" if as_video else "frames"
            return body, messages, media

    def _params(self, max_tokens: int | None) -> dict[str, Any]:
        cap = {"max_tokens": max_tokens} if max_tokens is not None else {}
        return {"model": self.model, **self.sampling, **cap, **self.extra}

    async def _post(self, client: Any, path: str, payload: dict[str, Any], info: dict[str, Any]) -> Any:
        """POST with retries; the reply's JSON, or `RequestFailed` with the last reason. A 401 or 403 is an
        `EvalError` that stops the run: every later request would carry the same refused key."""
        import httpx2

        reason = ""
        for attempt in range(1, self.max_attempts + 1):
            if self.refused:
                raise EvalError(self.refused)
            info["attempts"] += 1
            wait = None
            try:
                status, headers, raw = await asyncio.wait_for(self._send(client, path, payload), self.timeout)
            except (asyncio.TimeoutError, httpx2.TimeoutException):
                reason = f"no reply within {self.timeout:g} s"
            except httpx2.TransportError as err:
                reason = f"{type(err).__name__}: {err}"
            else:
                text = raw[:200].decode("utf-8", "replace")
                if status == 200:
                    try:
                        return json.loads(raw)
                    except ValueError:
                        reason = f"reply is not JSON: {text[:120]!r}"
                elif status in (401, 403):
                    self.refused = _refused(self.url, status)
                    raise EvalError(self.refused)
                else:
                    reason = f"HTTP {status}: {text}"
                    if status not in RETRY_STATUS:
                        raise RequestFailed(reason)  # a bad request stays bad: not retried
                    wait = _retry_after(headers.get("retry-after"))
            if attempt < self.max_attempts:
                await asyncio.sleep(wait if wait is not None else self._backoff(attempt))
        raise RequestFailed(f"{reason} (gave up after {self.max_attempts} tries)")

    async def _send(self, client: Any, path: str, payload: dict[str, Any]) -> tuple[int, Any, bytes]:
        """One POST: status, headers and body. The body is read a chunk at a time and abandoned past
        ``max_reply_bytes``, so a runaway server can't fill memory or the predictions file."""
        async with client.stream("POST", self.url + path, json=payload) as response:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_reply_bytes:
                    raise RequestFailed(f"reply longer than max_reply_bytes ({self.max_reply_bytes:,}): abandoned")
            return response.status_code, response.headers, bytes(body)

    async def post(self, client: Any, path: str, payload: dict[str, Any], info: dict[str, Any]) -> Any:
        """POST with this client's retries and deadline (the eval judge's transport too, `thinkvl.eval.judging`)."""
        return await self._post(client, path, payload, info)

    def _backoff(self, attempt: int) -> float:
        """Exponential with full jitter, so many clients hit by one 429 don't come back in step."""
        return random.uniform(0, min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1)))


def _refused(url: str, status: int) -> str:
    return f"{url} refused the API key (HTTP {status}): check api_key_env; the run stopped, nothing more was sent"


def _retry_after(value: str | None) -> float | None:
    try:
        return min(MAX_BACKOFF, max(0.0, float(value))) if value else None
    except ValueError:
        return None  # an HTTP date: fall back to the backoff
