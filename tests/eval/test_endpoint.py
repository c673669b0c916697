"""The endpoint model against a real HTTP server on 127.0.0.1 (`thinkvl.eval.stub_server`): request shape, thinking
budgets continued over HTTP, retries, hard timeouts, overlapping requests, error rows and resume."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path

import pytest

from thinkvl.data.record import Record
from thinkvl.eval.endpoint import EndpointModel
from thinkvl.eval.registry import get_benchmark
from thinkvl.eval.runner import EndpointConfig, EvalConfig, EvalError, predictions_path, run_eval
from thinkvl.eval.stub_server import Reply, StubServer, chat_reply, completion_reply
from thinkvl.model.chat import parse_response, render_prompt
from thinkvl.model.tokens import ANSWER_BUDGET

ANSWER = "<think>Short.</think><answer>It is <|begin_of_box|>4<|end_of_box|></answer>"


def _record(rid: str, parts: list[dict], answer: str = "4") -> Record:
    return Record(id=rid, domain="vqa", messages=[{"role": "user", "content": parts}], answer=answer)


def _text_records(n: int) -> list[Record]:
    return [_record(f"item-{k:03d}", [{"type": "text", "text": f"question {k:03d}"}]) for k in range(n)]


def _item_of(body: dict) -> str:
    """Which text record a request is for (the stub's view)."""
    return body["messages"][0]["content"][0]["text"].split()[-1]


def _model(server: StubServer, answer_budget: int = ANSWER_BUDGET, **kw) -> EndpointModel:
    return EndpointModel(EndpointConfig(server.url, "served-glm", **kw), answer_budget=answer_budget, backoff=0.01)


def _collect(model: EndpointModel, records: list[Record], root: Path, budget: int | None = None) -> dict:
    return {rec.id: g for chunk in model.stream(records, root, budget) for rec, g in chunk}


# ------------------------------------------------------------------ request shape
def test_request_carries_every_image_and_frame_in_record_order(tmp_path, kit, monkeypatch):
    """With ``video_via: frames`` (servers without video input) a video's frames go as loose images, in order."""
    colours = ["red", "green", "blue", "yellow", "white"]
    for c in colours:
        (tmp_path / f"{c}.png").write_bytes(kit.png(c))
    parts = [
        {"type": "image", "image": "red.png"},
        {"type": "text", "text": "Compare the first image"},
        {"type": "video", "video": ["green.png", "blue.png", "yellow.png"], "fps": 2.0},
        {"type": "text", "text": "with the clip, then this one:"},
        {"type": "image", "image": "white.png"},
    ]
    record = _record("shape-1", parts)
    monkeypatch.setenv("MY_KEY", "sk-test")
    with StubServer(lambda path, body: chat_reply(ANSWER)) as server:
        config = EndpointConfig(server.url, "glm", api_key_env="MY_KEY", temperature=0.6, top_p=0.9, video_via="frames")
        texts = EndpointModel(config)([record], tmp_path, None)
    assert texts == [ANSWER]
    (seen,) = server.requests
    assert seen.path == "/v1/chat/completions" and seen.headers["authorization"] == "Bearer sk-test"
    body = seen.body
    assert (body["model"], body["temperature"], body["top_p"]) == ("glm", 0.6, 0.9)
    assert "max_tokens" not in body  # null budget, null max_tokens: no cap sent
    assert body["skip_special_tokens"] is False  # the default request_extra keeps the box tokens
    content = body["messages"][0]["content"]
    assert [p["type"] for p in content] == ["image_url", "text", *["image_url"] * 3, "text", "image_url"]
    images = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert all(u.startswith("data:image/png;base64,") for u in images)
    decoded = [base64.b64decode(u.split(",", 1)[1]) for u in images]
    assert decoded == [(tmp_path / f"{c}.png").read_bytes() for c in colours]
    assert [p["text"] for p in content if p["type"] == "text"] == [parts[1]["text"], parts[3]["text"]]


def test_missing_api_key_variable_is_a_clear_error():
    config = EndpointConfig("http://127.0.0.1:9/v1", "m", api_key_env="THINKVL_NO_SUCH_VAR")
    with pytest.raises(ValueError, match="THINKVL_NO_SUCH_VAR"):
        EndpointModel(config)


def test_config_refuses_an_endpoint_without_a_model_name():
    with pytest.raises(ValueError, match="served_model"):
        EndpointConfig("http://localhost:8000/v1")


# ------------------------------------------------------------------ thinking budgets
def _budget_server(cut: str = "<think>Counting the dots one by one, first", answer_budget: int = 32):
    def reply(path: str, body: dict) -> Reply:
        if body.get("continue_final_message"):
            assert body["add_generation_prompt"] is False and body["max_tokens"] == answer_budget
            return chat_reply("It is <|begin_of_box|>4<|end_of_box|></answer>")
        return chat_reply(cut, "length")  # stopped at max_tokens inside the thought

    return reply


def test_budget_cut_inside_the_thought_is_continued_in_the_same_message(tmp_path):
    record = _text_records(1)[0]
    with StubServer(_budget_server(answer_budget=16)) as server:
        (got,) = _collect(_model(server, answer_budget=16), [record], tmp_path, budget=64).values()
    first, second = server.requests
    assert first.body["max_tokens"] == 64 and "continue_final_message" not in first.body
    cut = "<think>Counting the dots one by one, first"
    assert second.body["messages"][:-1] == first.body["messages"]
    assert second.body["messages"][-1] == {"role": "assistant", "content": cut + "</think><answer>"}
    assert got.text == cut + "</think><answer>It is <|begin_of_box|>4<|end_of_box|></answer>"
    assert parse_response(got.text).box == "4" and got.info["forced"] is True


def test_end_of_solution_marker_and_reasoning_parser_replies(tmp_path):
    """vLLM with --reasoning-parser returns the thought as reasoning_content; it is put back in its tags."""

    def reply(path: str, body: dict) -> Reply:
        if body.get("continue_final_message"):
            assert body["messages"][-1]["content"] == "<think>Hmm, let me see<|end_of_solution|>"
            return chat_reply("<answer><|begin_of_box|>4<|end_of_box|></answer>")
        return chat_reply(None, "length", reasoning_content="Hmm, let me see")

    with StubServer(reply) as server:
        model = _model(server, force_marker="end_of_solution")
        (text,) = model(_text_records(1), tmp_path, 8)
    assert text == "<think>Hmm, let me see<|end_of_solution|><answer><|begin_of_box|>4<|end_of_box|></answer>"


def test_no_continuation_when_the_thought_closed_or_there_is_no_budget(tmp_path):
    truncated_answer = "<think>Done.</think><answer>It is <|begin_of"
    with StubServer(lambda path, body: chat_reply(truncated_answer, "length")) as server:
        model = _model(server)
        assert model(_text_records(1), tmp_path, 64) == [truncated_answer]  # closed: not forced, just long
        assert model(_text_records(1), tmp_path, None) == [truncated_answer]  # no cap: nothing to force
    assert len(server.requests) == 2 and all("continue_final_message" not in s.body for s in server.requests)
    assert server.requests[0].body["max_tokens"] == 64 and "max_tokens" not in server.requests[1].body


def test_completions_path_continues_the_rendered_prompt(tmp_path):
    record = _text_records(1)[0]

    def reply(path: str, body: dict) -> Reply:
        assert path == "/v1/completions"
        if body["prompt"].endswith("</think><answer>"):
            return completion_reply("<|begin_of_box|>4<|end_of_box|></answer>")
        return completion_reply("<think>Long", "length")

    with StubServer(reply) as server:
        (text,) = _model(server, budget_via="completions")([record], tmp_path, 5)
    prompt = render_prompt(record.messages)  # the prompt the local engine renders
    assert [s.body["prompt"] for s in server.requests] == [prompt, prompt + "<think>Long</think><answer>"]
    assert text == "<think>Long</think><answer><|begin_of_box|>4<|end_of_box|></answer>"


def test_a_budget_the_server_cannot_enforce_is_refused_before_sending(tmp_path, kit):
    (tmp_path / "a.png").write_bytes(kit.png())
    with_image = _record("img-1", [{"type": "image", "image": "a.png"}, {"type": "text", "text": "?"}])
    with StubServer(lambda path, body: chat_reply(ANSWER)) as server:
        with pytest.raises(EvalError, match="use budget null"):
            _model(server, budget_via="refuse")(_text_records(1), tmp_path, 128)
        with pytest.raises(EvalError, match="without pixels, and item img-1"):
            _model(server, budget_via="completions")([with_image], tmp_path, 128)
        assert _model(server, budget_via="refuse")([with_image], tmp_path, None) == [ANSWER]  # no cap: fine
    assert len(server.requests) == 1


# ------------------------------------------------------------------ retries and timeouts
def test_429_and_5xx_are_retried_and_a_bad_request_is_not(tmp_path):
    tries: dict[str, int] = {}
    lock = threading.Lock()

    def reply(path: str, body: dict) -> Reply:
        item = _item_of(body)
        with lock:
            tries[item] = n = tries.get(item, 0) + 1
        if item == "000" and n <= 2:
            return Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"})
        if item == "001" and n == 1:
            return Reply(500, {"error": "oops"})
        if item == "002":
            return Reply(503, {"error": "overloaded"})
        if item == "003":
            return Reply(400, {"error": {"message": "image too large"}})
        if item == "004":
            return Reply(200, "not json at all")
        return chat_reply(ANSWER)

    with StubServer(reply) as server:
        got = _collect(_model(server, max_attempts=3), _text_records(6), tmp_path)
    assert got["item-000"].text == ANSWER and got["item-000"].info["attempts"] == 3
    assert got["item-001"].text == ANSWER and got["item-001"].info["attempts"] == 2
    assert got["item-002"].text is None and got["item-002"].error.startswith("HTTP 503")
    assert "gave up after 3 tries" in got["item-002"].error and tries["002"] == 3
    assert (
        got["item-003"].text is None
        and "HTTP 400" in got["item-003"].error
        and "image too large" in got["item-003"].error
    )
    assert tries["003"] == 1  # a bad request stays bad: not retried
    assert got["item-004"].text is None and "not JSON" in got["item-004"].error
    assert got["item-005"].text == ANSWER and got["item-005"].info["attempts"] == 1


def test_hard_timeout_retries_a_slow_reply_and_gives_up_on_a_stuck_one(tmp_path):
    tries: dict[str, int] = {}

    def reply(path: str, body: dict) -> Reply:
        item = _item_of(body)
        tries[item] = tries.get(item, 0) + 1
        if item == "000" and tries[item] == 1 or item == "001":
            return chat_reply(ANSWER, delay=3.0)
        return chat_reply(ANSWER)

    start = time.monotonic()
    with StubServer(reply) as server:
        got = _collect(_model(server, request_timeout=0.4, max_attempts=2), _text_records(2), tmp_path)
        elapsed = time.monotonic() - start
    assert got["item-000"].text == ANSWER and got["item-000"].info["attempts"] == 2
    assert got["item-001"].text is None and "no reply within 0.4 s" in got["item-001"].error
    assert elapsed < 2.5  # each try was cut at 0.4 s, not left to run for 3 s


# ------------------------------------------------------------------ concurrency
def test_requests_overlap_up_to_the_concurrency_and_no_further(tmp_path):
    records = _text_records(24)
    with StubServer(lambda path, body: chat_reply(ANSWER), latency=0.2) as server:
        start = time.monotonic()
        texts = _model(server, concurrency=8)(records, tmp_path, None)
        elapsed = time.monotonic() - start
    assert texts == [ANSWER] * 24 and server.max_in_flight == 8
    assert elapsed < 24 * 0.2 / 2  # sequential would take 4.8 s; 8 at a time, 3 rounds ≈ 0.6 s
    with StubServer(lambda path, body: chat_reply(ANSWER), latency=0.05) as server:
        _model(server, concurrency=1)(records[:6], tmp_path, None)
    assert server.max_in_flight == 1


# ------------------------------------------------------------------ through the runner
@pytest.fixture
def mathvista_data(data_dir, kit):
    kit.add_images(data_dir / "mathvista", ["images/1.jpg", "images/2.jpg", "images/3.jpg"])
    return data_dir


def test_failed_items_are_error_rows_left_out_of_the_score_and_retried_on_resume(
    mathvista_data, tmp_path, kit, reward_config
):
    from thinkvl.eval.loaders import load_benchmark

    records = load_benchmark(get_benchmark("mathvista"), mathvista_data, tmp_path / "m").records
    by_text = {json.dumps(r.messages[0]["content"][-1]["text"]): r for r in records}

    def model_reply(body: dict) -> Reply:
        record = by_text[json.dumps(body["messages"][0]["content"][-1]["text"])]
        return chat_reply(kit.respond(kit.box_of(record)))

    broken = {"mathvista-2"}

    def reply(path: str, body: dict) -> Reply:
        record = by_text[json.dumps(body["messages"][0]["content"][-1]["text"])]
        return Reply(502, {"error": "bad gateway"}) if record.id in broken else model_reply(body)

    out = tmp_path / "run"
    config = EvalConfig(tasks=["mathvista"], data_dir=str(mathvista_data))
    with StubServer(reply) as server:
        results = run_eval(config, _model(server, max_attempts=2), out, reward=reward_config, progress=False)
    result = results["benchmarks"]["mathvista"]["budgets"]["none"]
    assert result["n"] == 2 and result["value"] == 100.0  # the failed item is not scored as wrong
    assert result["extra"]["errors"] == 1 and "mathvista-2: HTTP 502" in result["extra"]["first_error"]
    rows = [json.loads(x) for x in predictions_path(out, get_benchmark("mathvista"), None).read_text().splitlines()]
    assert [r["id"] for r in rows if "error" in r] == ["mathvista-2"]

    broken.clear()
    with StubServer(reply) as server:
        results = run_eval(config, _model(server), out, reward=reward_config, progress=False)
    sent = [by_text[json.dumps(r.body["messages"][0]["content"][-1]["text"])].id for r in server.requests]
    assert sent == ["mathvista-2"]  # only the failed item is sent again
    result = results["benchmarks"]["mathvista"]["budgets"]["none"]
    assert result["n"] == 3 and result["value"] == 100.0 and "errors" not in result["extra"]


# ------------------------------------------------------------------ before anything is sent
def test_preflight_names_an_unreachable_server_a_refused_key_and_a_wrong_model(tmp_path):
    with StubServer(lambda path, body: chat_reply(ANSWER), models=["glm41v"]) as server:
        EndpointModel(EndpointConfig(server.url, "glm41v")).preflight()  # served: fine
        with pytest.raises(EvalError, match=r"serves glm41v, not 'qwen'"):
            EndpointModel(EndpointConfig(server.url, "qwen")).preflight()
    with StubServer(lambda path, body: chat_reply(ANSWER)) as server:
        EndpointModel(EndpointConfig(server.url, "anything")).preflight()  # no /models route: taken on trust
        url = server.url
    with pytest.raises(EvalError, match="can't reach the server"):
        EndpointModel(EndpointConfig(url, "m")).preflight()  # the server is gone


def test_cli_endpoint_errors_are_one_line(tmp_path, capsys):
    from thinkvl.cli import main

    assert main(["eval", "--endpoint", "localhost:8000", "--served-model", "m", "--out", str(tmp_path)]) == 2
    assert "endpoint: url must be an http(s) URL" in capsys.readouterr().err
    assert main(["eval", "--endpoint", "http://localhost:8000/v1", "--out", str(tmp_path)]) == 2
    assert "endpoint: served_model must name the model the server knows" in capsys.readouterr().err


def test_a_consumer_that_stops_early_cancels_what_is_in_flight(tmp_path):
    with StubServer(lambda path, body: chat_reply(ANSWER), latency=0.2) as server:
        stream = _model(server, concurrency=2).stream(_text_records(20), tmp_path, None)
        first = next(stream)
        stream.close()  # e.g. Ctrl-C while scoring: the background loop is cancelled
        time.sleep(0.1)  # a request already on the wire when close() returned may still reach the server
        sent = len(server.requests)
        time.sleep(0.6)  # without cancellation about six more would arrive here
        assert len(server.requests) == sent <= 4 and len(first) >= 1
