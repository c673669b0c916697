"""The GLM-4.1V chat format: render conversations to prompts, parse responses into their parts.

A prompt looks like::

    [gMASK]<sop><|system|>\\n{system}<|user|>\\n<|begin_of_image|><|image|><|end_of_image|>{question}<|assistant|>\\n

and a thinking response like
``<think>{reasoning}</think><answer>{text} <|begin_of_box|>{final}<|end_of_box|></answer>``.
`parse_response` is the strict reader the reward system's format gate is built on: it never looks for an
answer in the thinking, and reports every structural problem by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from thinkvl.data.record import content_parts
from thinkvl.model import tokens as T

Role = Literal["system", "user", "assistant", "observation"]
ROLE_TOKENS: dict[str, str] = {
    "system": T.SYSTEM,
    "user": T.USER,
    "assistant": T.ASSISTANT,
    "observation": T.OBSERVATION,
}
IMAGE_PLACEHOLDER = T.BEGIN_OF_IMAGE + T.IMAGE + T.END_OF_IMAGE
VIDEO_PLACEHOLDER = T.BEGIN_OF_VIDEO + T.VIDEO + T.END_OF_VIDEO
# Prefilled after the assistant tag when thinking is off, so the model starts at <answer>.
EMPTY_THINK = T.THINK_OPEN + T.THINK_CLOSE


def render_content(content: str | list[dict[str, Any]]) -> str:
    """Text of one message, with one placeholder per image or video (the processor expands them)."""
    out = []
    for part in content_parts(content):
        kind = part.get("type")
        if kind == "text":
            out.append(part["text"])
        elif kind == "image":
            out.append(IMAGE_PLACEHOLDER)
        elif kind == "video":
            out.append(VIDEO_PLACEHOLDER)
        else:
            raise ValueError(f"unknown content part type {kind!r}")
    return "".join(out)


def render_prompt(
    messages: list[dict[str, Any]],
    *,
    add_generation_prompt: bool = True,
    thinking: bool = True,
) -> str:
    """Render a conversation to GLM-4.1V prompt text.

    With ``add_generation_prompt`` the text ends with the assistant tag, ready for generation; with
    ``thinking=False`` an empty ``<think></think>`` is prefilled so the model answers directly.
    """
    out = [T.GMASK, T.SOP]
    for message in messages:
        role = message.get("role")
        if role not in ROLE_TOKENS:
            raise ValueError(f"unknown role {role!r}; expected one of {sorted(ROLE_TOKENS)}")
        out.append(f"{ROLE_TOKENS[role]}\n{render_content(message['content'])}")
    if add_generation_prompt:
        out.append(f"{T.ASSISTANT}\n")
        if not thinking:
            out.append(EMPTY_THINK)
    return "".join(out)


def format_response(thinking: str | None, answer: str, box: str | None = None) -> str:
    """Build a well-formed assistant response: the target format SFT teaches.

    >>> format_response("2+2 is 4.", "The sum is", "4")
    '<think>2+2 is 4.</think><answer>The sum is <|begin_of_box|>4<|end_of_box|></answer>'
    """
    boxed = f"{T.BOX_OPEN}{box}{T.BOX_CLOSE}" if box is not None else ""
    body = f"{answer} {boxed}" if answer and boxed else (answer or boxed)
    head = f"{T.THINK_OPEN}{thinking}{T.THINK_CLOSE}" if thinking is not None else ""
    return f"{head}{T.ANSWER_OPEN}{body}{T.ANSWER_CLOSE}"


@dataclass
class ParsedResponse:
    """A response split into its parts, with every format problem found (empty when well formed)."""

    thinking: str | None = None
    answer: str | None = None
    boxes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def box(self) -> str | None:
        """The single boxed answer, or None when there is not exactly one."""
        return self.boxes[0] if len(self.boxes) == 1 else None

    @property
    def format_ok(self) -> bool:
        return not self.problems


_TAG = re.compile(
    "|".join(
        re.escape(t) for t in (T.THINK_OPEN, T.THINK_CLOSE, T.ANSWER_OPEN, T.ANSWER_CLOSE, T.BOX_OPEN, T.BOX_CLOSE)
    )
)
_TRAILING_STOP = re.compile("(?:" + "|".join(re.escape(t) for t in (*T.STOP_TOKENS, T.PAD)) + r")+\s*$")


def _boxes(answer: str, problems: list[str]) -> list[str]:
    """Contents of the boxes in an answer; nesting and unclosed boxes are problems."""
    boxes: list[str] = []
    depth, start = 0, 0
    for m in re.finditer(re.escape(T.BOX_OPEN) + "|" + re.escape(T.BOX_CLOSE), answer):
        if m.group() == T.BOX_OPEN:
            if depth:
                problems.append("nested box")
                return boxes
            depth, start = 1, m.end()
        else:
            if not depth:
                problems.append("box closed without opening")
                return boxes
            depth = 0
            boxes.append(answer[start : m.start()].strip())
    if depth:
        problems.append("unclosed box")
    return boxes


def parse_response(text: str, *, thinking: bool = True, require_box: bool = True) -> ParsedResponse:
    """Split a response into thinking, answer and boxes; record every deviation from the format.

    Expected: ``<think>…</think><answer>…</answer>`` with only whitespace around the blocks (trailing stop
    tokens are allowed), no tags nested inside either block, and, with ``require_box``, exactly one
    non-empty box in the answer. With ``thinking=False`` (``<think></think>`` was prefilled in the prompt),
    the response is the answer block alone.

    >>> p = parse_response("<think>a</think><answer>x <|begin_of_box|>4<|end_of_box|></answer>")
    >>> (p.thinking, p.box, p.format_ok)
    ('a', '4', True)
    >>> parse_response("<think>a</think>the answer is 4").problems
    ['missing <answer> block']
    """
    text = _TRAILING_STOP.sub("", text)
    result = ParsedResponse()
    problems = result.problems
    rest = text
    if thinking:
        head, sep, after = rest.partition(T.THINK_OPEN)
        if not sep:
            problems.append("missing <think> block")
        else:
            if head.strip():
                problems.append("text before <think>")
            inner, sep, after_close = after.partition(T.THINK_CLOSE)
            if not sep:
                problems.append("unclosed <think>")
                result.thinking = inner
                return result
            result.thinking = inner
            if T.THINK_OPEN in inner or T.ANSWER_OPEN in inner or T.ANSWER_CLOSE in inner:
                problems.append("tags nested inside <think>")
            rest = after_close
    head, sep, after = rest.partition(T.ANSWER_OPEN)
    if not sep:
        problems.append("missing <answer> block")
        return result
    if head.strip():
        problems.append("text between </think> and <answer>" if thinking else "text before <answer>")
    inner, sep, tail = after.partition(T.ANSWER_CLOSE)
    if not sep:
        problems.append("unclosed <answer>")
    result.answer = inner.strip()
    if tail.strip():
        problems.append("text after </answer>")
    if any(tag in inner for tag in (T.THINK_OPEN, T.THINK_CLOSE, T.ANSWER_OPEN)):
        problems.append("tags nested inside <answer>")
    if _TAG.search(tail):
        problems.append("several <think> or <answer> blocks")
    result.boxes = _boxes(inner, problems)
    if require_box:
        if not result.boxes and not any("box" in p for p in problems):
            problems.append("no box in answer")
        elif len(result.boxes) > 1:
            problems.append("several boxes")
        elif result.boxes and not result.boxes[0]:
            problems.append("empty box")
    return result
