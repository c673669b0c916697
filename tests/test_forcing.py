"""Forced answering is one module: every engine asks it whether a thought was cut and splices the answer with it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from thinkvl.model import tokens as T
from thinkvl.model.forcing import finish_reason, force_marker_text, marker_ids, splice, thought_cut
from thinkvl.model.tokenizer import build_tokenizer

SRC = Path(__file__).resolve().parents[1] / "src" / "thinkvl"
CALLERS = ("model/generate.py", "model/vllm_engine.py", "integrations/verl/agent_loop.py", "eval/endpoint.py")


@pytest.mark.parametrize(
    ("response", "finish", "cut"),
    [
        ([5, 6, 7], "length", True),  # at the budget, thought open
        ([5, 9, 7], "length", False),  # thought closed: answering, just long
        ([5, 6, 2], "stop", False),  # ended its turn
        ([5, 6], None, False),  # the server ended it short of the budget
        ([5, 6, 7], "abort", False),
    ],
)
def test_a_thought_is_cut_only_at_the_budget_and_still_open(response, finish, cut):
    assert thought_cut(response, finish, close=9) is cut
    text = "<think>" + "".join("x" if t != 9 else T.THINK_CLOSE for t in response)
    assert thought_cut(text, finish) is cut  # the endpoint's text gives the same answer


def test_token_engines_and_the_endpoint_agree():
    tok = build_tokenizer()
    close, stops = tok.convert_tokens_to_ids(T.THINK_CLOSE), {tok.convert_tokens_to_ids(T.END_OF_TEXT)}
    for text, budget in (("so the area is", 3), (f"so{T.THINK_CLOSE}{T.ANSWER_OPEN}4", 3), ("so", 8)):
        ids = tok.encode(text, add_special_tokens=False)
        from_tokens = thought_cut(ids, finish_reason(ids, budget=budget, stop_ids=stops), close=close)
        from_text = thought_cut(T.THINK_OPEN + text, "length" if len(ids) >= budget else "stop")
        assert from_tokens == from_text


def test_marker_ids_and_a_bad_marker():
    tok = build_tokenizer()
    assert marker_ids(tok, "end_of_solution") == [tok.convert_tokens_to_ids(T.END_OF_SOLUTION)]
    assert tok.decode(marker_ids(tok, "think_close")) == T.THINK_CLOSE + T.ANSWER_OPEN
    with pytest.raises(ValueError, match="force marker must be one of"):
        force_marker_text("close")


def test_splice_masks_only_the_marker():
    forced = splice([1, 2, 3], [9, 10], [4], [-0.1, -0.2, -0.3], [-0.4])
    assert forced.ids == [1, 2, 3, 9, 10, 4] and forced.mask == [1, 1, 1, 0, 0, 1]
    assert forced.logprobs == [-0.1, -0.2, -0.3, 0.0, 0.0, -0.4]
    assert splice([1], [9], [4], [-0.1], None).logprobs is None  # a pass without log-probs


@pytest.mark.parametrize("path", CALLERS)
def test_every_caller_uses_the_module_and_keeps_no_copy(path):
    source = (SRC / path).read_text(encoding="utf-8")
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom) and node.module}
    assert "thinkvl.model.forcing" in imported
    assert "thought_cut(" in source
    assert "FORCE_ANSWER_TEXT" not in source  # markers are named through force_marker_text / marker_ids
