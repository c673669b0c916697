"""The GLM-4.1V special tokens, in one place.

Every tag of the chat and thinking format is a single token, so the policy can't produce a look-alike
of a tag one byte at a time, and the reward system can read structure by exact string match.
"""

from __future__ import annotations

from typing import Literal

GMASK = "[gMASK]"
SOP = "<sop>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
OBSERVATION = "<|observation|>"
BEGIN_OF_IMAGE = "<|begin_of_image|>"
IMAGE = "<|image|>"
END_OF_IMAGE = "<|end_of_image|>"
BEGIN_OF_VIDEO = "<|begin_of_video|>"
VIDEO = "<|video|>"
END_OF_VIDEO = "<|end_of_video|>"
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
BOX_OPEN = "<|begin_of_box|>"
BOX_CLOSE = "<|end_of_box|>"
END_OF_TEXT = "<|endoftext|>"
# Forced answering (report §5): appended when a thought runs over its budget.
END_OF_SOLUTION = "<|end_of_solution|>"
PAD = "<|pad|>"

SPECIAL_TOKENS: tuple[str, ...] = (
    END_OF_TEXT,
    PAD,
    GMASK,
    SOP,
    SYSTEM,
    USER,
    ASSISTANT,
    OBSERVATION,
    BEGIN_OF_IMAGE,
    END_OF_IMAGE,
    BEGIN_OF_VIDEO,
    END_OF_VIDEO,
    IMAGE,
    VIDEO,
    THINK_OPEN,
    THINK_CLOSE,
    ANSWER_OPEN,
    ANSWER_CLOSE,
    BOX_OPEN,
    BOX_CLOSE,
    END_OF_SOLUTION,
)

# Tokens that end an assistant turn during generation.
STOP_TOKENS: tuple[str, ...] = (END_OF_TEXT, USER, OBSERVATION)

# Placeholders and prompt-only tags must never be generated: a sampled <|image|> would ask the model for image
# features that don't exist when the response is read back. Every engine suppresses the same ones, and a served
# model is asked to (eval's request_extra: vLLM's bad_words).
NEVER_GENERATED: tuple[str, ...] = (
    IMAGE,
    VIDEO,
    BEGIN_OF_IMAGE,
    END_OF_IMAGE,
    BEGIN_OF_VIDEO,
    END_OF_VIDEO,
    GMASK,
    SOP,
    SYSTEM,
    PAD,
)


ForceAnswerMarker = Literal["think_close", "end_of_solution"]
# What forced answering appends to a thought cut at its budget.
FORCE_ANSWER_TEXT: dict[str, str] = {
    "think_close": THINK_CLOSE + ANSWER_OPEN,
    "end_of_solution": END_OF_SOLUTION,
}

# The budgets of forced answering, stated once: SamplingParams, chat, eval's uncapped default and RLConfig start
# from these (report §5 scale, for a real model; the CPU demo's configs set small ones).
THINKING_BUDGET = 2048  # tokens a response may think before its thought is cut and an answer forced
ANSWER_BUDGET = 256  # tokens it then has to answer
