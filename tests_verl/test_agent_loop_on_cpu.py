"""Forced answering as a verl agent loop, run through verl's single-turn loop with a stubbed LLM server."""

from __future__ import annotations

import asyncio

import pytest
from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import DictConfigWrap
from verl.workers.rollout.replica import TokenOutput

from thinkvl.integrations.verl.agent_loop import ForcedAnswerAgentLoop
from thinkvl.model import tokens as T


class StubServer:
    """Answers each request from a script: a list of (token ids, log-probs) in call order; records requests."""

    def __init__(self, script: list[list[int]]):
        self.script = list(script)
        self.requests: list[dict] = []

    async def generate(self, *, request_id, prompt_ids, sampling_params, **kwargs) -> TokenOutput:
        self.requests.append({"prompt_ids": list(prompt_ids), "max_tokens": sampling_params.get("max_tokens")})
        ids = self.script.pop(0)[: sampling_params["max_tokens"]]
        return TokenOutput(token_ids=ids, log_probs=[-0.5] * len(ids), stop_reason="completed")


def _loop(tokenizer, server, **budgets) -> ForcedAnswerAgentLoop:
    config = OmegaConf.create(
        {"actor_rollout_ref": {"rollout": {"prompt_length": 256, "response_length": 64}}, "data": {}}
    )
    return ForcedAnswerAgentLoop(
        trainer_config=DictConfigWrap(config),
        server_manager=server,
        tokenizer=tokenizer,
        processor=None,
        dataset_cls=None,
        data_config=DictConfigWrap(config.data),
        **budgets,
    )


def _run(loop: ForcedAnswerAgentLoop):
    return asyncio.get_event_loop().run_until_complete(
        loop.run({"temperature": 1.0, "top_p": 1.0}, raw_prompt=[{"role": "user", "content": "How many?"}])
    )


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def test_cut_thought_gets_the_marker_masked_and_an_answer(tokenizer) -> None:
    thought = _ids(tokenizer, "one two three four five six seven eight nine ten")[:8]
    answer = _ids(tokenizer, f"The answer is {T.BOX_OPEN}7{T.BOX_CLOSE}{T.ANSWER_CLOSE}") + [
        tokenizer.convert_tokens_to_ids(T.USER)
    ]
    server = StubServer([thought + [5, 6, 7], answer])
    out = _run(_loop(tokenizer, server, thinking_budget=8, answer_budget=32))
    marker = _ids(tokenizer, T.THINK_CLOSE + T.ANSWER_OPEN)
    assert out.response_ids == thought + marker + answer
    assert out.response_mask == [1] * 8 + [0] * len(marker) + [1] * len(answer)
    assert out.response_logprobs == [-0.5] * 8 + [0.0] * len(marker) + [-0.5] * len(answer)
    assert out.extra_fields["forced"] is True
    first, second = server.requests
    assert first["max_tokens"] == 8 and second["max_tokens"] == 32
    assert second["prompt_ids"] == first["prompt_ids"] + thought + marker  # continues the same sequence


def test_closed_thought_is_left_alone(tokenizer) -> None:
    text = f"{T.THINK_OPEN}ok{T.THINK_CLOSE}{T.ANSWER_OPEN}{T.BOX_OPEN}7{T.BOX_CLOSE}{T.ANSWER_CLOSE}"
    done = _ids(tokenizer, text) + [tokenizer.convert_tokens_to_ids(T.USER)]
    server = StubServer([done])
    out = _run(_loop(tokenizer, server, thinking_budget=64, answer_budget=8))
    assert out.response_ids == done and out.response_mask == [1] * len(done)
    assert out.extra_fields["forced"] is False and len(server.requests) == 1


def test_end_of_solution_marker_and_bad_settings(tokenizer) -> None:
    server = StubServer([[9] * 4, [10, 11]])
    out = _run(_loop(tokenizer, server, thinking_budget=4, answer_budget=2, marker="end_of_solution"))
    eos = tokenizer.convert_tokens_to_ids(T.END_OF_SOLUTION)
    assert out.response_ids == [9] * 4 + [eos] + [10, 11] and out.response_mask == [1] * 4 + [0] + [1, 1]
    with pytest.raises(ValueError, match="marker"):
        _loop(tokenizer, server, marker="stop")
    with pytest.raises(ValueError, match="budget"):
        _loop(tokenizer, server, thinking_budget=0)
