"""Forced answering (GLM-4.1V-Thinking, arXiv 2507.01006, §5), stated once for every engine.

Why: a response that thinks past its ``thinking_budget`` would be truncated and scored zero, although its
reasoning may be sound. Instead its thought is cut, a marker (``</think><answer>`` or ``<|end_of_solution|>``) is
appended, and the model answers within ``answer_budget`` more tokens. The marker is not sampled by the policy, so
it takes log-prob 0 and mask 0. The transformers and vLLM engines, verl's agent loop and the endpoint client all
decide "was the thought cut?" and splice the forced response with these functions; only the requests differ.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

from thinkvl.model.tokens import FORCE_ANSWER_TEXT, THINK_CLOSE

Ids = Sequence[int]
LogProbs = Sequence[float] | None


def force_marker_text(marker: str) -> str:
    """The text a cut thought is closed with, by the marker's name.

    >>> force_marker_text("end_of_solution")
    '<|end_of_solution|>'
    """
    if marker not in FORCE_ANSWER_TEXT:
        raise ValueError(f"force marker must be one of {sorted(FORCE_ANSWER_TEXT)}, got {marker!r}")
    return FORCE_ANSWER_TEXT[marker]


def check_budgets(thinking_budget: int, answer_budget: int) -> None:
    """Both budgets are at least one token (a thinking budget of 0 would force before any thought)."""
    if thinking_budget < 1 or answer_budget < 1:
        raise ValueError(f"thinking_budget and answer_budget must be >= 1, got {thinking_budget} and {answer_budget}")


def marker_ids(tokenizer: Any, marker: str) -> list[int]:
    """The marker's token ids in this tokenizer (any object with a transformers-style ``encode``)."""
    return list(tokenizer.encode(force_marker_text(marker), add_special_tokens=False))


def finish_reason(ids: Ids, *, budget: int, stop_ids: Collection[int]) -> str | None:
    """Why a pass that reports only its tokens ended: ``"stop"`` on a stop token, ``"length"`` at the budget,
    None short of both (the server ended it).

    >>> [finish_reason(ids, budget=3, stop_ids={2}) for ids in ([4, 2], [4, 5, 6], [4, 5])]
    ['stop', 'length', None]
    """
    if ids and ids[-1] in stop_ids:
        return "stop"
    return "length" if len(ids) >= budget else None


def thought_cut(response: Ids | str, finish: str | None, *, close: int | str = THINK_CLOSE) -> bool:
    """Whether a first pass ended inside its thought: stopped by the thinking budget (``finish == "length"``)
    before ``</think>``. ``response`` is token ids (``close`` then the id of ``</think>``) or text.

    >>> thought_cut([5, 6, 7], "length", close=9), thought_cut([5, 9, 7], "length", close=9)  # 9 closes
    (True, False)
    >>> thought_cut("<think>so the area is", "length"), thought_cut("<think>so the area is", "stop")
    (True, False)
    """
    return finish == "length" and close not in response


class Forced(NamedTuple):
    """A forced response: the cut thought, the marker, the answer; log-probs and mask aligned with ``ids``."""

    ids: list[int]
    logprobs: list[float] | None  # None where either pass came without log-probs
    mask: list[int]  # 1: sampled by the policy; 0: the marker, appended by forcing


def splice(thought: Ids, marker: Ids, answer: Ids, thought_lp: LogProbs = None, answer_lp: LogProbs = None) -> Forced:
    """Join the two passes around the marker, which takes log-prob 0 and mask 0.

    >>> splice([5, 6], [9], [7], [-1.0, -2.0], [-0.5])
    Forced(ids=[5, 6, 9, 7], logprobs=[-1.0, -2.0, 0.0, -0.5], mask=[1, 1, 0, 1])
    """
    ids = [*thought, *marker, *answer]
    logprobs = None
    if thought_lp is not None and answer_lp is not None:
        logprobs = [*thought_lp, *[0.0] * len(marker), *answer_lp]
    return Forced(ids, logprobs, [1] * len(thought) + [0] * len(marker) + [1] * len(answer))
