"""Forced answering is one module: every engine asks it whether a thought was cut and splices the answer with it."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinkvl.model import tokens as T
from thinkvl.model.forcing import check_budgets, finish_reason, force_marker_text, marker_ids, splice, thought_cut
from thinkvl.model.tokenizer import build_tokenizer

CALLERS = ("model/generate.py", "model/vllm_engine.py", "integrations/verl/agent_loop.py", "eval/endpoint.py")


@pytest.mark.parametrize("text", ["so the area is", f"so{T.THINK_CLOSE}{T.ANSWER_OPEN}4", "so"])
def test_tokens_and_text_give_the_same_verdict(text):
    """The engines judge token ids, the endpoint client text: both by `thought_cut`, with the same answer."""
    tok, budget = build_tokenizer(), 3
    ids = tok.encode(text, add_special_tokens=False)
    close, stops = tok.convert_tokens_to_ids(T.THINK_CLOSE), {tok.convert_tokens_to_ids(T.END_OF_TEXT)}
    from_ids = thought_cut(ids, finish_reason(ids, budget=budget, stop_ids=stops), close=close)
    from_text = thought_cut(T.THINK_OPEN + text, "length" if len(ids) >= budget else "stop")
    assert from_ids == from_text == (text == "so the area is")
    assert not thought_cut(ids + list(stops), "stop")  # ended its turn


def test_markers_budgets_and_the_splice():
    tok = build_tokenizer()
    assert marker_ids(tok, "end_of_solution") == [tok.convert_tokens_to_ids(T.END_OF_SOLUTION)]
    assert tok.decode(marker_ids(tok, "think_close")) == T.THINK_CLOSE + T.ANSWER_OPEN
    with pytest.raises(ValueError, match="force marker must be one of"):
        force_marker_text("close")
    with pytest.raises(ValueError, match="must be >= 1, got 0 and 8"):
        check_budgets(0, 8)
    forced = splice([1, 2], [9, 10], [4], [-0.1, -0.2], [-0.4])
    assert forced == ([1, 2, 9, 10, 4], [-0.1, -0.2, 0.0, 0.0, -0.4], [1, 1, 0, 0, 1])
    assert splice([1], [9], [4], [-0.1], None).logprobs is None  # a pass without log-probs


@pytest.mark.parametrize("path", CALLERS)
def test_every_caller_uses_the_module_and_keeps_no_copy(path):
    source = (Path(__file__).resolve().parents[1] / "src" / "thinkvl" / path).read_text(encoding="utf-8")
    assert "from thinkvl.model.forcing import" in source and "thought_cut(" in source
    assert "FORCE_ANSWER_TEXT" not in source  # markers are named through force_marker_text / marker_ids
