"""verl and TRL adapters, called exactly as those libraries call a reward function."""

from __future__ import annotations

import json

import numpy as np
import pytest

from thinkvl.reward import RewardError, compute_score, make_trl_reward, make_verl_compute_score


def test_verl_compute_score_keyword_call(respond) -> None:
    # verl's NaiveRewardManager: compute_score(data_source=..., solution_str=..., ground_truth=..., extra_info=...)
    out = compute_score(data_source="math", solution_str=respond("\\frac{1}{2}"), ground_truth="0.5", extra_info=None)
    assert out["score"] == 1.0 and out["acc"] is True and out["format_ok"] is True
    assert set(out) == {"score", "acc", "format_ok", "penalty"}  # same keys every call (reward_extra_info lists)


def test_verl_domains_and_structured_ground_truth(respond) -> None:
    fn = make_verl_compute_score({"limits": {"isolation": "none"}})
    box = fn("thinkvl/grounding", respond("[0, 0, 10, 10]"), "[0, 0, 10, 10]", {"index": 3})
    assert box["acc"]
    choice = fn("mmmu", respond("C"), "C", {"domain": "choice", "choices": ["a", "b", "c"]})
    assert choice["acc"]
    gui = fn("aitw", respond("click(5, 5)"), json.dumps({"action": "click", "box": [0, 0, 10, 10]}), {"domain": "gui"})
    assert gui["acc"]
    count = fn("counting", respond("7"), "7")
    assert count["acc"]
    with pytest.raises(RewardError, match="can't tell the domain"):
        fn("openai/gsm8k", respond("7"), "7")


def test_trl_reward_function_standard_and_conversational(respond) -> None:
    reward = make_trl_reward({"limits": {"isolation": "none"}})
    assert reward.__name__ == "thinkvl_reward"
    prompts = ["How many?", "Which colour?"]
    # GRPOTrainer: reward_func(prompts=prompts, completions=completions, completion_ids=ids, **reward_kwargs)
    # where reward_kwargs are the other dataset columns (lists) plus trainer_state.
    completions = [respond("3"), respond("B")]
    columns = {
        "domain": ["counting", "choice"],
        "answer": [3, "B"],
        "meta": [None, {"choices": ["red", "green"]}],
        "trainer_state": object(),
    }
    out = reward(prompts=prompts, completions=completions, completion_ids=[[1], [2]], **columns)
    assert out == [1.0, 1.0]
    conversational = [[{"role": "assistant", "content": respond("4")}], [{"role": "assistant", "content": "x"}]]
    out = reward(prompts=prompts, completions=conversational, completion_ids=[[1], [2]], **columns)
    assert out == [0.0, 0.0]


def test_trl_missing_columns_is_an_error(respond) -> None:
    reward = make_trl_reward({"limits": {"isolation": "none"}})
    with pytest.raises(RewardError, match="'domain' column"):
        reward(prompts=["q"], completions=[respond("1")], answer=["1"])


def test_numpy_values_from_parquet_backed_datasets(respond) -> None:
    reward = make_trl_reward({"limits": {"isolation": "none"}})
    columns = {
        "domain": ["counting", "grounding", "choice"],
        "answer": [np.int64(3), np.array([0, 0, 10, 10]), "B"],
        "meta": [None, None, {"choices": np.array(["red", "green"])}],
    }
    completions = [respond("3"), respond("[0, 0, 10, 10]"), respond("green")]
    assert reward(prompts=["a", "b", "c"], completions=completions, **columns) == [1.0, 1.0, 1.0]


def test_trl_reward_redecodes_completion_ids_keeping_the_tags(tiny_bundle) -> None:
    """TRL's own decoding drops special tokens; with the tokenizer the tags survive and the answer scores."""
    from thinkvl.reward import make_trl_reward

    tok = tiny_bundle.tokenizer
    text = "<think>2+2=4</think><answer><|begin_of_box|>4<|end_of_box|></answer>"
    ids = tok.encode(text, add_special_tokens=False)
    stripped = tok.decode(ids, skip_special_tokens=True)  # what TRL passes as `completions`
    columns = {"domain": ["math"], "answer": ["4"]}
    plain = make_trl_reward({"limits": {"isolation": "none"}})
    assert plain(prompts=["q"], completions=[stripped], completion_ids=[ids], **columns) == [0.0]
    keeping = make_trl_reward({"limits": {"isolation": "none"}}, tokenizer=tok)
    assert keeping(prompts=["q"], completions=[stripped], completion_ids=[ids], **columns) == [1.0]
