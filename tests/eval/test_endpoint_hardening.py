"""What a hostile or broken server must not do to an endpoint run: fill memory with a huge reply, or have every item
sent with a key it refused; and a thinking budget of 0 is refused, not sent as a 1-token cap."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from thinkvl.data.record import Record
from thinkvl.eval.endpoint import EndpointModel
from thinkvl.eval.runner import EndpointConfig, EvalConfig, EvalError
from thinkvl.eval.stub_server import Reply, StubServer, chat_reply

ANSWER = "<think>Short.</think><answer>It is <|begin_of_box|>4<|end_of_box|></answer>"


def _records(n: int) -> list[Record]:
    return [
        Record(id=f"item-{k}", domain="vqa", messages=[{"role": "user", "content": f"question {k}"}], answer="4")
        for k in range(n)
    ]


def _model(url: str, **kw: Any) -> EndpointModel:
    return EndpointModel(EndpointConfig(url, "m", **kw), backoff=0.01)


def _collect(model: EndpointModel, records: list[Record], budget: int | None = None) -> dict:
    return {rec.id: g for chunk in model.stream(records, Path("."), budget) for rec, g in chunk}


# ------------------------------------------------------------------ reply size
def test_a_reply_over_the_cap_fails_its_item_only(tmp_path):
    huge = '{"choices": [{"message": {"content": "' + "x" * 3_000_000 + '"}, "finish_reason": "stop"}]}'

    def reply(path: str, body: dict) -> Reply:
        return Reply(body=huge) if body["messages"][0]["content"] == "question 0" else chat_reply(ANSWER)

    with StubServer(reply) as server:
        got = _collect(_model(server.url, max_reply_bytes=1_000_000), _records(3))
    assert got["item-0"].text is None and "max_reply_bytes (1,000,000)" in (got["item-0"].error or "")
    assert got["item-1"].text == got["item-2"].text == ANSWER


def test_the_cap_is_enforced_while_reading(tmp_path):
    """A server that never stops sending: the client hangs up after the cap, not at the end of the stream."""
    sent = [0]

    class Endless(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(1 << 30))  # 1 GiB promised
            self.end_headers()
            chunk = b" " * 65536
            try:
                while sent[0] < 64 << 20:
                    self.wfile.write(chunk)
                    sent[0] += len(chunk)
            except OSError:
                pass  # the client hung up

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        start = time.monotonic()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        got = _collect(_model(url, max_reply_bytes=1 << 20, request_timeout=10, max_attempts=1), _records(1))
        assert "max_reply_bytes" in (got["item-0"].error or "")
        assert time.monotonic() - start < 10
        time.sleep(0.2)
        assert sent[0] < 32 << 20  # stopped within socket buffers of the cap, far from the 64 MiB on offer
    finally:
        server.shutdown()
        server.server_close()


def test_the_cap_is_a_checked_config_field():
    assert EndpointConfig("http://h/v1", "m").max_reply_bytes == 8_000_000
    with pytest.raises(ValueError, match="max_reply_bytes"):
        EndpointConfig("http://h/v1", "m", max_reply_bytes=0)


# ------------------------------------------------------------------ authentication
@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_stops_the_run_at_once(status):
    with StubServer(lambda path, body: Reply(status, {"error": {"message": "bad key"}})) as server:
        with pytest.raises(EvalError, match=rf"refused the API key \(HTTP {status}\): check api_key_env") as err:
            _collect(_model(server.url, concurrency=1, max_attempts=3), _records(20))
        assert len(server.requests) == 1  # not 20 items, nor a retry
    assert "\n" not in str(err.value)


def test_a_refused_key_with_requests_in_flight_sends_nothing_more():
    def reply(path: str, body: dict) -> Reply:
        return Reply(401, {"error": {"message": "bad key"}}, delay=0.1)

    with StubServer(reply) as server:
        with pytest.raises(EvalError, match="HTTP 401"):
            _collect(_model(server.url, concurrency=4), _records(40))
        time.sleep(0.3)
        assert len(server.requests) <= 4  # those already on the wire when the first 401 came back


# ------------------------------------------------------------------ thinking budget 0
def test_a_thinking_budget_of_zero_is_refused():
    with pytest.raises(ValueError, match=r"thinking_budgets: each is an integer >= 1 or null.*got 0"):
        EvalConfig(thinking_budgets=[0])
    with StubServer(lambda path, body: chat_reply(ANSWER)) as server:
        with pytest.raises(EvalError, match="got 0"):
            _collect(_model(server.url), _records(1), budget=0)
        assert server.requests == []  # never sent as max_tokens 1


def test_the_command_line_stops_on_a_refused_key_with_one_line(tmp_path, capsys):
    from thinkvl.cli import main

    with StubServer(lambda path, body: Reply(401, {"error": {"message": "bad key"}})) as server:
        argv = ["eval", "--endpoint", server.url, "--served-model", "m", "--tasks", "synth", "--limit", "6"]
        status = main([*argv, "--concurrency", "1", "--out", str(tmp_path)])
        assert len(server.requests) == 1
    err = capsys.readouterr().err.strip()
    assert status == 2 and "Traceback" not in err, err
    assert "refused the API key (HTTP 401)" in err.splitlines()[-1]
