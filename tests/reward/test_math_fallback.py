"""math-verify as the math verifier's fallback: asked only where our parser gives no verdict, only in worker
processes, under its own time budget, and never turning a labelled near miss or a real refusal into a pass."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from thinkvl.reward import RewardSystem, math_fallback
from thinkvl.reward.mathexpr import math_equal

from .conftest import make_response

PAIRS = [json.loads(line) for line in (Path(__file__).parent / "math_pairs.jsonl").read_text().splitlines()]
FLOOR = make_response("\\lfloor 3.5 \\rfloor")  # our grammar has no \lfloor: no verdict of its own


def test_worker_asks_math_verify_where_our_parser_gives_no_verdict(isolated) -> None:
    assert math_equal("3", "\\lfloor 3.5 \\rfloor")[1].startswith("unparseable answer")
    verdict = isolated.score(FLOOR, {"domain": "math", "answer": "3"})
    assert verdict.correct and verdict.reason.startswith("math-verify: equivalent")
    wrong = isolated.score(make_response("\\lfloor 4.5 \\rfloor"), {"domain": "math", "answer": "3"})
    assert not wrong.correct


def test_never_in_the_main_process(inproc) -> None:
    verdict = inproc.score(FLOOR, {"domain": "math", "answer": "3"})
    assert not verdict.correct and "math-verify" not in verdict.reason
    assert not math_fallback.enabled()  # scoring in this process did not switch it on
    assert math_fallback.equal("3", "\\lfloor 3.5 \\rfloor", 1.0) is None


def test_option_turns_it_off() -> None:
    with RewardSystem({"domains": {"math": {"options": {"fallback": False}}}}) as rs:
        assert not rs.score(FLOOR, {"domain": "math", "answer": "3"}).correct


def test_a_decided_verdict_is_never_reopened(isolated) -> None:
    # Our text comparison says \text{B} is not b; math-verify would call them equal (case folded).
    assert math_equal("\\text{B}", "b") == (False, "different text")
    assert not isolated.score(make_response("b"), {"domain": "math", "answer": "\\text{B}"}).correct


def test_no_false_positive_on_the_labelled_near_misses(isolated) -> None:
    records = [{"domain": "math", "answer": p["gold"]} for p in PAIRS]
    verdicts = isolated.score_batch([make_response(p["pred"]) for p in PAIRS], records)
    false_pos = [(p["gold"], p["pred"]) for p, v in zip(PAIRS, verdicts) if v.correct and not p["equal"]]
    assert not false_pos
    assert sum(v.correct == p["equal"] for p, v in zip(PAIRS, verdicts)) == len(PAIRS)


def test_real_extractions_keep_zero_false_positives(benchdata, isolated) -> None:
    """Bard's MathVista free-form answers as GPT-4 extracted them, against the official verdicts. Measured: 58 of
    460 are undecided by our parser (mostly refusals such as "Sorry, I can't help with images of people yet."),
    math-verify credits none of them; agreement 459/460 with and without the fallback (the one difference is a
    float the official scorer rounds to the item's precision)."""
    data = json.loads((benchdata / "mathvista" / "output_bard.json").read_text())
    rows = [r for r in data.values() if r["question_type"] == "free_form"]
    records = [{"domain": "math", "answer": r["answer"]} for r in rows]
    verdicts = isolated.score_batch([make_response(str(r["extraction"])) for r in rows], records)
    assert not [r["pid"] for r, v in zip(rows, verdicts) if v.correct and not r["true_false"]]
    assert sum(v.correct == r["true_false"] for r, v in zip(rows, verdicts)) >= 459


def test_budget_stops_a_slow_reader(monkeypatch) -> None:
    """A reader that overruns its budget is cut off by the alarm and gives no opinion."""
    pytest.importorskip("math_verify")

    def slow_parse(*args, **kwargs):
        time.sleep(5)
        return ["x"]

    monkeypatch.setitem(math_fallback._state, "enabled", True)
    monkeypatch.setitem(math_fallback._state, "api", (slow_parse, lambda g, p, **kw: True, []))
    start = time.monotonic()
    assert math_fallback.equal("3", "3", 0.2) is None
    assert time.monotonic() - start < 2


def test_deliberate_refusals_are_not_reopened() -> None:
    """A power tower or a huge expression is refused by our parser on purpose; math-verify is not asked about it."""
    ok, reason = math_equal("4", "9^{9^{9^{9}}}")
    assert not ok and not math_fallback.undecided(reason)
    assert math_fallback.undecided(math_equal("3", "\\lfloor 3.5 \\rfloor")[1])
