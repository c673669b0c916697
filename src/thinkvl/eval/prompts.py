"""Prompt templates and record building shared by the loaders.

Every prompt ends with one instruction saying what goes in the box, so a thinking model's final answer lands
where the reward system reads it (the box tokens), whichever benchmark it comes from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from thinkvl.data.record import CHOICE_LETTERS, Record

MC_INSTRUCTION = "Answer with the letter of the correct option."
SHORT_INSTRUCTION = "Answer the question with a single word, number or phrase."
GROUNDING_TEMPLATE = (
    'Locate "{expr}" in the image. Answer with its bounding box [x1, y1, x2, y2] in coordinates normalised to 0-1000.'
)
_IMAGE_TAG = re.compile(r"<image\s*(\d*)>")


def options_block(options: Sequence[str]) -> str:
    """``A. first\\nB. second`` — the letters are the ones `thinkvl.data.record` accepts as answers."""
    if len(options) > len(CHOICE_LETTERS):
        raise ValueError(f"{len(options)} options; at most {len(CHOICE_LETTERS)} are supported")
    return "\n".join(f"{CHOICE_LETTERS[i]}. {str(opt).strip()}" for i, opt in enumerate(options))


def mc_text(question: str, options: Sequence[str], *, hint: str = "", instruction: str = MC_INSTRUCTION) -> str:
    head = f"Hint: {hint.strip()}\n" if hint and hint.strip() else ""
    return f"{head}{question.strip()}\nOptions:\n{options_block(options)}\n{instruction}"


def short_text(question: str, *, instruction: str = SHORT_INSTRUCTION) -> str:
    return f"{question.strip()}\n{instruction}" if instruction else question.strip()


def content(images: Sequence[str], text: str, *, interleave: bool = False) -> list[dict[str, Any]]:
    """Message content: images first, then the text; with ``interleave``, ``<image n>`` / ``<image>`` tags in the
    text are replaced by the images they name (MMMU numbers them, MUIRBench doesn't), unreferenced ones go first."""
    if not interleave or not _IMAGE_TAG.search(text):
        return [*({"type": "image", "image": p} for p in images), {"type": "text", "text": text}]
    parts: list[dict[str, Any]] = []
    used: set[int] = set()
    pos, sequential = 0, 0
    for m in _IMAGE_TAG.finditer(text):
        idx = int(m.group(1)) - 1 if m.group(1) else sequential
        sequential += 1
        if not 0 <= idx < len(images):
            continue  # a tag without an image stays as text
        if m.start() > pos:
            parts.append({"type": "text", "text": text[pos : m.start()]})
        parts.append({"type": "image", "image": images[idx]})
        used.add(idx)
        pos = m.end()
    if pos < len(text):
        parts.append({"type": "text", "text": text[pos:]})
    lead = [{"type": "image", "image": p} for i, p in enumerate(images) if i not in used]
    return lead + parts


def user_record(
    rid: str,
    domain: str,
    parts: list[dict[str, Any]],
    answer: Any,
    meta: dict[str, Any] | None = None,
) -> Record:
    """A one-turn record, validated (a malformed answer is an error naming the item)."""
    record = Record(
        id=rid, domain=domain, messages=[{"role": "user", "content": parts}], answer=answer, meta=meta or {}
    )
    record.validate()
    return record


def mc_record(
    rid: str,
    images: Sequence[str],
    question: str,
    options: Sequence[str],
    answer_letter: str,
    meta: dict[str, Any] | None = None,
    *,
    hint: str = "",
    interleave: bool = False,
) -> Record:
    options = [str(o) for o in options]
    text = mc_text(question, options, hint=hint)
    meta = {**(meta or {}), "choices": options}
    return user_record(rid, "choice", content(images, text, interleave=interleave), answer_letter, meta)


def letter_of(index: int) -> str:
    return CHOICE_LETTERS[index]


def strip_letter(answer: Any) -> str:
    """``"(A)"``, ``"A."``, ``" a "`` → ``"A"``; anything else is returned stripped as is."""
    text = str(answer).strip()
    m = re.fullmatch(r"\(?\s*([A-Ja-j])\s*[).:]?", text)
    return m.group(1).upper() if m else text
