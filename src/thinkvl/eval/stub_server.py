"""A tiny OpenAI-compatible server on 127.0.0.1, for testing and measuring the endpoint client without a model.

It implements the subset `thinkvl.eval.endpoint` uses: ``POST /v1/chat/completions`` and ``POST /v1/completions``.
What it answers is a function of the request (``reply(path, body) -> Reply``), so a test can script 429s, 500s,
slow replies and thoughts cut at the token budget. Every request is logged with its start and end time, and the
peak number of requests in flight is kept, so tests can check what was sent and that requests overlapped.
Each request is served on its own thread, so a slow reply doesn't hold up the others.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | str | None = None  # a dict is sent as JSON, a string as is (e.g. a broken body)
    delay: float = 0.0  # seconds to wait before answering
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    body: dict[str, Any]
    start: float
    headers: dict[str, str] = field(default_factory=dict)
    end: float = 0.0
    status: int = 0


def chat_reply(text: str, finish_reason: str = "stop", *, delay: float = 0.0, **message: Any) -> Reply:
    """A chat-completions answer whose message content is ``text`` (extra message fields, e.g. reasoning_content)."""
    choice = {"index": 0, "message": {"role": "assistant", "content": text, **message}, "finish_reason": finish_reason}
    return Reply(body={"object": "chat.completion", "choices": [choice]}, delay=delay)


def completion_reply(text: str, finish_reason: str = "stop", *, delay: float = 0.0) -> Reply:
    choice = {"index": 0, "text": text, "finish_reason": finish_reason}
    return Reply(body={"object": "text_completion", "choices": [choice]}, delay=delay)


class StubServer:
    """``with StubServer(reply) as server: ... server.url ...`` — a server on a free port, stopped on exit."""

    def __init__(
        self,
        reply: Callable[[str, dict[str, Any]], Reply],
        *,
        latency: float = 0.0,
        models: list[str] | None = None,
    ):
        self.reply, self.latency, self.models = reply, latency, models  # models: GET /v1/models (None: 404)
        self.requests: list[Seen] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _serve(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[Reply, Seen]:
        seen = Seen(path, body, time.monotonic(), headers)
        with self._lock:
            self.requests.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self.reply(path, body)
            time.sleep(self.latency + reply.delay)
        finally:
            with self._lock:
                self.in_flight -= 1
        return reply, seen


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # 32 clients connecting at once must not overflow the listen backlog


def _handler(stub: StubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        # TCP_NODELAY, as real servers set: else the body, written after the headers, waits for the client's
        # delayed ACK (~40 ms a request on Linux).
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body = json.loads(data)
            except ValueError:
                self._send(Reply(400, {"error": {"message": "body is not JSON"}}), None)
                return
            reply, seen = stub._serve(self.path, body, {k.lower(): v for k, v in self.headers.items()})
            self._send(reply, seen)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") == "/v1/models" and stub.models is not None:
                self._send(Reply(body={"object": "list", "data": [{"id": m} for m in stub.models]}), None)
            else:
                self._send(Reply(404, {"error": {"message": f"no route {self.path}"}}), None)

        def _send(self, reply: Reply, seen: Seen | None) -> None:
            payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body or {})
            raw = payload.encode()
            try:
                self.send_response(reply.status)
                for k, v in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client gave up (its timeout): nothing to answer
            if seen is not None:
                seen.end, seen.status = time.monotonic(), reply.status

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet

    return Handler
