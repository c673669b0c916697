"""RewardSystem end to end: verdict fields, reward mapping, errors, batching, custom verifiers."""

from __future__ import annotations

import pytest

from thinkvl.data.record import Record
from thinkvl.reward import Check, RewardError, RewardSystem, Verifier, register


def test_verdict_fields(inproc, respond) -> None:
    v = inproc.score(respond("\\frac{1}{2}"), {"domain": "math", "answer": "0.5"})
    assert (v.reward, v.correct, v.extracted, v.format_ok, v.domain, v.penalties) == (
        1.0,
        True,
        "\\frac{1}{2}",
        True,
        "math",
        {},
    )
    wrong = inproc.score(respond("3"), {"domain": "math", "answer": "0.5"})
    assert (wrong.reward, wrong.correct, wrong.extracted) == (0.0, False, "3")
    bad = inproc.score("<think>x</think>0.5", {"domain": "math", "answer": "0.5"})
    assert not bad.format_ok and bad.extracted is None and "format" in bad.reason


def test_records_and_dicts_are_both_accepted(inproc, respond) -> None:
    record = Record("q1", "counting", [{"role": "user", "content": "How many?"}], 3)
    assert inproc.score(respond("3"), record).correct
    assert inproc.score(respond("3"), record.to_dict()).correct


def test_unknown_and_unverifiable_domains_are_errors(inproc, respond) -> None:
    with pytest.raises(RewardError, match="unknown domain 'astrology'"):
        inproc.score(respond("x"), {"domain": "astrology", "answer": "x"})
    with pytest.raises(RewardError, match="not verifiable"):
        inproc.score(respond("a cat"), {"domain": "caption", "answer": "a cat on a mat"})
    with pytest.raises(RewardError, match="bad ground truth"):
        inproc.score(respond("B"), {"domain": "choice", "answer": "maybe", "meta": {}})
    with pytest.raises(RewardError, match="2 responses but 1 records"):
        inproc.score_batch(["a", "b"], [{"domain": "math", "answer": "1"}])


def test_reward_range_weight_and_format_reward(respond) -> None:
    rs = RewardSystem(
        {
            "reward_range": [-1, 1],
            "format_reward": -2,
            "limits": {"isolation": "none"},
            "domains": {"ocr": {"weight": 0.5}},
        }
    )
    assert rs.score(respond("4"), {"domain": "math", "answer": "4"}).reward == 1.0
    assert rs.score(respond("5"), {"domain": "math", "answer": "4"}).reward == -1.0
    assert rs.score("no format", {"domain": "math", "answer": "4"}).reward == -2
    half = rs.score(respond("hello wrld"), {"domain": "ocr", "answer": "hello world"})
    assert half.reward == pytest.approx(0.5 * (-1 + 2 * (1 - 1 / 11)))


def test_penalties_are_reported_and_subtracted(inproc, respond) -> None:
    looping = respond("4", thinking="2+2 is 4. " + "Wait, let me recheck. " * 30)
    v = inproc.score(looping, {"domain": "math", "answer": "4"})
    assert v.correct and v.penalties and v.reward == pytest.approx(max(0.0, 1.0 - sum(v.penalties.values())))


def test_batch_in_workers_keeps_order(isolated, respond) -> None:
    records = [{"domain": "counting", "answer": k % 7} for k in range(300)]
    responses = [respond(str(k % 7 if k % 3 else k % 7 + 1)) for k in range(300)]
    verdicts = isolated.score_batch(responses, records, workers=2)
    assert [v.correct for v in verdicts] == [bool(k % 3) for k in range(300)]
    assert [v.extracted for v in verdicts] == [str(k % 7 if k % 3 else k % 7 + 1) for k in range(300)]


def test_isolated_and_in_process_agree(isolated, inproc, respond) -> None:
    cases = [
        (respond("[0, 0, 10, 10]"), {"domain": "grounding", "answer": [0, 0, 10, 10]}),
        (
            respond("[0, 0, 9, 9], [20, 20, 30, 30]"),
            {"domain": "grounding", "answer": [[20, 20, 30, 30], [0, 0, 10, 10]]},
        ),
        (respond("green"), {"domain": "choice", "answer": "B", "meta": {"choices": ["red", "green"]}}),
        (respond("x^2-1"), {"domain": "math", "answer": "(x-1)(x+1)"}),
        ("garbage", {"domain": "vqa", "answer": "yes"}),
    ]
    a = isolated.score_batch([c[0] for c in cases], [c[1] for c in cases], workers=2)
    b = inproc.score_batch([c[0] for c in cases], [c[1] for c in cases])
    assert a == b


class Palindrome(Verifier):
    name = "test_palindrome"

    def verify(self, pred, answer, meta, *, lenient=False):
        ok = pred == pred[::-1]
        return Check(float(ok), ok, "palindrome" if ok else "not a palindrome")


def test_custom_verifier_in_process(respond) -> None:
    register(Palindrome)
    rs = RewardSystem({"domains": {"words": {"verifier": "test_palindrome"}}, "limits": {"isolation": "none"}})
    assert rs.score(respond("level"), {"domain": "words", "answer": "-"}).correct
    assert not rs.score(respond("levels"), {"domain": "words", "answer": "-"}).correct


PLUGIN = """
from thinkvl.reward import Check, Verifier, register


@register
class Reverse(Verifier):
    name = "test_reverse"

    def verify(self, pred, answer, meta, *, lenient=False):
        ok = pred[::-1] == answer
        return Check(float(ok), ok, "reversed")
"""


def test_custom_verifier_from_a_plugin_module_runs_in_workers(tmp_path, monkeypatch, respond) -> None:
    (tmp_path / "thinkvl_test_reverse_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = {"plugins": ["thinkvl_test_reverse_plugin"], "domains": {"rev": {"verifier": "test_reverse"}}}
    with RewardSystem(config) as rs:
        assert rs.score(respond("olleh"), {"domain": "rev", "answer": "hello"}).correct
        assert not rs.score(respond("hello"), {"domain": "rev", "answer": "hello"}).correct


def test_a_verifier_in_main_is_refused_for_workers() -> None:
    class Local(Verifier):
        name = "test_local"

    Local.__module__ = "__main__"
    register(Local)
    rs = RewardSystem({"domains": {"loc": {"verifier": "test_local"}}})
    with pytest.raises(RewardError, match="__main__"):
        rs.score("x", {"domain": "loc", "answer": "x"})
