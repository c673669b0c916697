"""`ForcedAnswerAgentLoop`: RLCS forced answering as a verl agent loop.

When a rollout thinks for ``thinking_budget`` tokens without closing ``</think>`` (or stopping), the thought is
cut, the marker (``</think><answer>`` or ``<|end_of_solution|>``) is appended with ``response_mask`` 0 (the
policy did not sample it, so it takes no gradient) and log-prob 0, and the model answers within
``answer_budget`` more tokens. The reward is then earned by the answer instead of zeroed by truncation.

It is verl's single-turn agent loop with the server wrapped: the first request is capped at the thinking
budget, a cut thought gets a second request for the answer, and the marker's positions are masked afterwards.
Agent-loop config file (``actor_rollout_ref.rollout.agent.agent_loop_config_path``)::

    - name: thinkvl_forced_answer
      _target_: thinkvl.integrations.verl.agent_loop.ForcedAnswerAgentLoop
      thinking_budget: 2048
      answer_budget: 256
      marker: think_close          # or end_of_solution

and ``actor_rollout_ref.rollout.agent.default_agent_loop=thinkvl_forced_answer``.
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop
from verl.workers.rollout.replica import TokenOutput

from thinkvl.model import tokens as T
from thinkvl.model.bundle import stop_token_ids
from thinkvl.model.forcing import check_budgets, finish_reason, marker_ids, splice, thought_cut


class ForcingServer:
    """Wraps verl's server manager: ``generate`` thinks within the budget, then forces and answers if cut."""

    def __init__(self, server: Any, loop: ForcedAnswerAgentLoop):
        self.server, self.loop = server, loop  # the loop holds the budgets and token ids
        self.forced_at: int | None = None  # where the marker starts in the response, once forced

    def __getattr__(self, name: str) -> Any:  # everything else as the real server manager
        return getattr(self.server, name)

    async def generate(
        self, *, request_id: str, prompt_ids: list[int], sampling_params: dict[str, Any], **kwargs: Any
    ) -> TokenOutput:
        loop = self.loop
        first = await self.server.generate(
            request_id=request_id,
            prompt_ids=prompt_ids,
            sampling_params={**sampling_params, "max_tokens": loop.thinking_budget},
            **kwargs,
        )
        thought = list(first.token_ids)
        finish = finish_reason(thought, budget=loop.thinking_budget, stop_ids=loop.stop_ids)
        if first.stop_reason == "aborted" or not thought_cut(thought, finish, close=loop.close_id):
            return first
        second = await self.server.generate(
            request_id=f"{request_id}-answer",
            prompt_ids=list(prompt_ids) + thought + loop.marker_ids,
            sampling_params={**sampling_params, "max_tokens": loop.answer_budget},
            **kwargs,
        )
        self.forced_at = len(thought)
        forced = splice(thought, loop.marker_ids, second.token_ids, first.log_probs, second.log_probs)
        return TokenOutput(
            token_ids=forced.ids,
            log_probs=forced.logprobs,
            stop_reason=second.stop_reason,
            num_preempted=(first.num_preempted or 0) + (second.num_preempted or 0)
            if first.num_preempted is not None or second.num_preempted is not None
            else None,
            extra_fields={**first.extra_fields, **second.extra_fields},
        )


def mask_marker(output: AgentLoopOutput, start: int, marker: list[int]) -> None:
    """Set ``response_mask`` to 0 over the marker; refuses if the marker isn't where the rollout put it."""
    end = start + len(marker)
    if output.response_ids[start:end] != marker:
        if end > len(output.response_ids):  # cut by verl's response_length: the marker didn't fit
            output.response_mask[start:] = [0] * max(len(output.response_mask) - start, 0)
            return
        raise RuntimeError("forced-answer marker not found where it was inserted in the response")
    output.response_mask[start:end] = [0] * len(marker)


class ForcedAnswerAgentLoop(SingleTurnAgentLoop):
    """Single-turn rollouts with RLCS forced answering."""

    def __init__(
        self,
        *args: Any,
        thinking_budget: int = T.THINKING_BUDGET,
        answer_budget: int = T.ANSWER_BUDGET,
        marker: str = "think_close",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        check_budgets(thinking_budget, answer_budget)
        self.thinking_budget, self.answer_budget = int(thinking_budget), int(answer_budget)
        self.marker_ids = marker_ids(self.tokenizer, marker)
        self.close_id = self.tokenizer.convert_tokens_to_ids(T.THINK_CLOSE)
        self.stop_ids = stop_token_ids(self.tokenizer)  # the engines' stop tokens

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        server = self.server_manager
        forcing = ForcingServer(server, self)
        self.server_manager = forcing  # one agent loop object per trajectory (verl instantiates it per sample)
        try:
            output = await super().run(sampling_params, **kwargs)
        finally:
            self.server_manager = server
        if forcing.forced_at is not None:
            mask_marker(output, forcing.forced_at, self.marker_ids)
        output.extra_fields["forced"] = forcing.forced_at is not None
        return output
