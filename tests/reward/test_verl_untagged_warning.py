"""The verl adapter says so when responses arrive stripped of their format tags (verl's own decoding)."""

from __future__ import annotations

import pytest

from thinkvl.reward import adapters


def test_warns_once_about_stripped_tags(monkeypatch, respond) -> None:
    monkeypatch.setattr(adapters, "_warned_untagged", False)
    fn = adapters.make_verl_compute_score({"limits": {"isolation": "none"}})
    with pytest.warns(RuntimeWarning, match="ThinkvlRewardManager"):
        out = fn("counting", "count them The answer is 7", "7")
    assert out["score"] == 0.0 and out["format_ok"] is False
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn("counting", "still no tags", "7")  # only once per process
        assert fn("counting", respond("7"), "7")["score"] == 1.0
