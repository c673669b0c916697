"""The optional LLM judge against a local OpenAI-compatible stub server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from thinkvl.reward import RewardSystem


class _Stub(BaseHTTPRequestHandler):
    reply = "YES"
    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.reply == "500":
            self.send_response(500)
            self.end_headers()
            return
        payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": self.reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def stub(monkeypatch):
    _Stub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("THINKVL_TEST_JUDGE_KEY", "secret")
    yield server
    server.shutdown()
    server.server_close()


def _system(server, **judge) -> RewardSystem:
    host, port = server.server_address
    cfg = {"enabled": True, "base_url": f"http://{host}:{port}/v1", "model": "stub", "weight": 0.3, **judge}
    return RewardSystem({"limits": {"isolation": "none"}, "judge": {"api_key_env": "THINKVL_TEST_JUDGE_KEY", **cfg}})


def test_judge_blends_with_the_rule_and_sees_only_the_box(stub, respond) -> None:
    rs = _system(stub)
    _Stub.reply = "YES"
    record = {"domain": "vqa", "answer": "a red car", "meta": {"question": "What is parked?"}}
    v = rs.score(respond("crimson automobile", thinking="SECRET THOUGHTS"), record)
    assert v.judge == 1.0 and not v.correct  # the rule says no; the judge can't overrule it
    assert v.score == pytest.approx(0.3) and v.reward == pytest.approx(0.3)
    (req,) = _Stub.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer secret"
    sent = json.dumps(req["body"])
    assert "crimson automobile" in sent and "What is parked?" in sent and "SECRET THOUGHTS" not in sent
    right = rs.score(respond("a red car"), record)
    assert right.correct and right.reward == 1.0


@pytest.mark.parametrize("reply", ["NO", "Sure! YES", "500"])
def test_judge_no_or_unusable_replies(stub, respond, reply: str) -> None:
    _Stub.reply = reply
    v = _system(stub).score(respond("crimson automobile"), {"domain": "vqa", "answer": "a red car"})
    assert not v.correct and v.reward == 0.0
    assert (v.judge == 0.0) if reply == "NO" else (v.judge is None and "judge unavailable" in v.reason)


def test_judge_is_off_by_default_and_limited_to_its_domains(stub, respond) -> None:
    assert RewardSystem().judge is None
    rs = _system(stub, domains=["vqa"])
    rs.score(respond("4"), {"domain": "math", "answer": "5"})
    rs.score("no format at all", {"domain": "vqa", "answer": "yes"})
    assert _Stub.requests == []  # other domains and format failures never reach the judge


def test_unreachable_judge_leaves_the_rule_verdict(respond) -> None:
    cfg = {"enabled": True, "base_url": "http://127.0.0.1:9/v1", "timeout_s": 2}
    rs = RewardSystem({"limits": {"isolation": "none"}, "judge": cfg})
    v = rs.score(respond("yes"), {"domain": "vqa", "answer": "yes"})
    assert v.correct and v.reward == 1.0 and v.judge is None
