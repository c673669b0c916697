"""Whole `thinkvl eval --endpoint` runs over the real MathVista loader (testmini.json from shared/benchdata, images
synthesised): the scores equal those of replaying the same responses, and a run killed mid-way resumes without
sending a finished item again."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from thinkvl.cli import main
from thinkvl.eval.registry import get_benchmark
from thinkvl.eval.runner import predictions_path, read_predictions
from thinkvl.eval.stub_server import Reply, StubServer, chat_reply

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def mathvista(tmp_path_factory, kit, benchdata):
    """MathVista's real testmini.json with one distinct synthetic image per item, Bard's answers as responses, and
    a map from image bytes to item, which is how the stub knows which item a request is for."""
    bench = benchdata / "mathvista"
    root = tmp_path_factory.mktemp("mv") / "data"
    (root / "mathvista").mkdir(parents=True)
    items = json.loads((bench / "testmini.json").read_text())
    (root / "mathvista" / "testmini.json").write_text(json.dumps(items))
    by_image = {}
    for pid, item in items.items():
        n = int(pid)
        png = kit.png((n % 256, n // 256, 99), (8, 8))
        path = root / "mathvista" / item["image"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
        by_image[png] = pid
    bard = json.loads((bench / "output_bard.json").read_text())
    responses = {pid: kit.respond(str(row["extraction"])) for pid, row in bard.items()}
    reward = root / "reward.yaml"
    reward.write_text("limits:\n  isolation: none\n")
    return {"root": root, "by_image": by_image, "responses": responses, "reward": str(reward)}


def _pid(mv: dict, body: dict) -> str:
    url = next(p["image_url"]["url"] for p in body["messages"][0]["content"] if p["type"] == "image_url")
    return mv["by_image"][base64.b64decode(url.split(",", 1)[1])]


def _args(mv: dict, out: Path, limit: int, *source: str) -> list[str]:
    common = ["--tasks", "mathvista", "--data-dir", str(mv["root"]), "--limit", str(limit)]
    return ["eval", *source, *common, "--out", str(out), "--reward-config", mv["reward"], "--quiet"]


def test_served_run_scores_equal_replaying_the_same_responses(mathvista, tmp_path):
    mv = mathvista
    tries: dict[str, int] = {}
    lock = threading.Lock()

    def reply(path: str, body: dict) -> Reply:
        pid = _pid(mv, body)
        with lock:
            tries[pid] = tries.get(pid, 0) + 1
        if int(pid) % 7 == 0 and tries[pid] == 1:  # some items are turned away once: retries change nothing
            return Reply(429, {"error": "rate limited"}, headers={"Retry-After": "0"})
        return chat_reply(mv["responses"][pid])

    served, replayed = tmp_path / "served", tmp_path / "replayed"
    with StubServer(reply) as server:
        endpoint = ["--endpoint", server.url, "--served-model", "bard", "--concurrency", "8"]
        assert main(_args(mv, served, 200, *endpoint)) == 0
    assert len(tries) == 200 and sum(tries.values()) == 200 + sum(int(p) % 7 == 0 for p in tries)
    saved = tmp_path / "responses.jsonl"
    saved.write_text(
        "".join(json.dumps({"id": f"mathvista-{p}", "response": mv["responses"][p]}) + "\n" for p in tries)
    )
    assert main(_args(mv, replayed, 200, "--responses", str(saved))) == 0

    a = json.loads((served / "results.json").read_text())["benchmarks"]["mathvista"]["budgets"]["none"]
    b = json.loads((replayed / "results.json").read_text())["benchmarks"]["mathvista"]["budgets"]["none"]
    assert a == b and a["n"] == 200 and 0 < a["value"] < 100
    assert a["breakdown"]["skills"] == b["breakdown"]["skills"]
    bench = get_benchmark("mathvista")
    rows_a, rows_b = (
        read_predictions(predictions_path(served, bench, None)),
        read_predictions(predictions_path(replayed, bench, None)),
    )
    assert {k: (r["response"], r["correct"]) for k, r in rows_a.items()} == {
        k: (r["response"], r["correct"]) for k, r in rows_b.items()
    }
    assert json.loads((served / "run.json").read_text())["endpoint"]["served_model"] == "bard"


@pytest.mark.slow
def test_a_killed_run_resumes_without_sending_a_finished_item_again(mathvista, tmp_path):
    mv, limit = mathvista, 60
    sent: list[str] = []
    lock = threading.Lock()

    def reply(path: str, body: dict) -> Reply:
        pid = _pid(mv, body)
        with lock:
            sent.append(pid)
        return chat_reply(mv["responses"][pid], delay=0.15)

    out = tmp_path / "run"
    path = predictions_path(out, get_benchmark("mathvista"), None)
    with StubServer(reply) as server:
        endpoint = ["--endpoint", server.url, "--served-model", "bard", "--concurrency", "4"]
        env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "thinkvl.cli", *_args(mv, out, limit, *endpoint)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 180
            while not (path.is_file() and len(path.read_text().splitlines()) >= 12):
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                assert time.monotonic() < deadline, "the run wrote nothing in 180 s"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        time.sleep(0.3)  # let the server finish the replies the dead client no longer reads
        finished = {rid.removeprefix("mathvista-") for rid in read_predictions(path)}
        before = len(sent)
        assert 12 <= len(finished) < limit
        assert main(_args(mv, out, limit, *endpoint)) == 0
    again = sent[before:]
    assert not finished & set(again)  # no finished item is sent twice
    assert all(sent.count(pid) == 1 for pid in finished)
    assert set(again) | finished == set(sent) and len(set(sent)) == limit
    rows = read_predictions(path)
    assert len(rows) == limit and not any("error" in r for r in rows.values())
