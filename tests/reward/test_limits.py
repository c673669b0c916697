"""Hard limits: pathological input fails fast; a stuck verification is killed on time, from any thread or process."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from thinkvl.reward import RewardSystem

PATHOLOGICAL = {
    "tower": "9^{9^{9^{9}}}",
    "huge": "1+" * 50_000 + "1",
    "nested": "{" * 5_000 + "1" + "}" * 5_000,
    "nested_short": "\\frac{" * 150 + "1" + "}{2}" * 150,
    "factorial": "(10^{6})!",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_math_fails_within_the_limit(isolated, respond, name: str) -> None:
    isolated.score(respond("1"), {"domain": "math", "answer": "1"})  # worker start-up is not part of the limit
    start = time.monotonic()
    v = isolated.score(respond(PATHOLOGICAL[name]), {"domain": "math", "answer": "2"})
    elapsed = time.monotonic() - start
    assert not v.correct and v.reward == 0.0
    assert elapsed < isolated.config.limits.time_limit_s, elapsed


def test_oversized_response_is_rejected_with_a_reason(inproc) -> None:
    v = inproc.score("x" * 300_000, {"domain": "math", "answer": "2"})
    assert not v.correct and "response too long" in v.reason


SPIN = """
from thinkvl.reward import Check, Verifier, register


@register
class Spin(Verifier):
    name = "test_spin"

    def verify(self, pred, answer, meta, *, lenient=False):
        if pred == "hang":
            while True:  # a verification that never returns (stands in for C-level big-number work)
                pass
        return Check(1.0, True, "quick")
"""


@pytest.fixture()
def spinning(tmp_path, monkeypatch):
    (tmp_path / "thinkvl_test_spin_plugin.py").write_text(SPIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {
        "plugins": ["thinkvl_test_spin_plugin"],
        "domains": {"spin": {"verifier": "test_spin"}},
        "limits": {"time_limit_s": 0.5},
    }
    rs = RewardSystem(config)
    rs.score("warm up", {"domain": "spin", "answer": "-"})  # start the worker outside the timed part
    yield rs
    rs.close()


@pytest.mark.slow
def test_stuck_verification_is_killed_and_the_worker_replaced(spinning, respond) -> None:
    target = {"domain": "spin", "answer": "-"}
    start = time.monotonic()
    v = spinning.score(respond("hang"), target)
    elapsed = time.monotonic() - start
    assert not v.correct and "time limit" in v.reason and v.extracted == "hang" and v.format_ok
    assert 0.5 <= elapsed < 2.5, elapsed  # the limit plus scheduling slack on a busy machine; the spin is endless
    assert spinning.score(respond("fine"), target).correct  # the replacement worker serves the next call


@pytest.mark.slow
def test_a_stuck_task_does_not_hold_up_the_rest_of_a_batch(spinning, respond) -> None:
    responses = [respond("hang" if k == 3 else f"ok{k}") for k in range(12)]
    verdicts = spinning.score_batch(responses, [{"domain": "spin", "answer": "-"}] * 12, workers=1)
    assert [v.correct for v in verdicts] == [k != 3 for k in range(12)]
    assert "time limit" in verdicts[3].reason


@pytest.mark.slow
def test_limit_holds_off_the_main_thread(spinning, respond) -> None:
    out = {}

    def run() -> None:
        start = time.monotonic()
        out["verdict"] = spinning.score(respond("hang"), {"domain": "spin", "answer": "-"})
        out["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert "time limit" in out["verdict"].reason and out["elapsed"] < 2.5


def _score_in_child(args: tuple[str, str]) -> tuple[bool, str]:
    response, answer = args
    with RewardSystem({"limits": {"time_limit_s": 2.0}}) as rs:
        v = rs.score(response, {"domain": "math", "answer": answer})
    return v.correct, v.reason


@pytest.mark.slow
def test_limit_holds_inside_a_daemonic_pool_worker(respond) -> None:
    """multiprocessing.Pool workers are daemonic (no multiprocessing children): our subprocess workers still run."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        results = pool.map(_score_in_child, [(respond("4"), "4"), (respond(PATHOLOGICAL["tower"]), "4")], chunksize=2)
    assert results[0][0] is True
    assert results[1][0] is False and "too large" in results[1][1]
