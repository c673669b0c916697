"""STEM: MMMU, MMMU-Pro, AI2D, MathVista, WeMath (VideoMMMU is with the video loaders).

MMMU stores ``options`` as a Python list literal and up to seven images referenced in the text as ``<image n>``;
open questions ("open") go to the short-answer path scored by MMMU's own rule. MathVista's multiple-choice gold is
the option text (records carry the letter and the text); free-form answers keep their answer type and precision
for the official normalisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.judge_protocols import mathvista_query
from thinkvl.eval.loaders.base import (
    BadItemError,
    Family,
    LoadContext,
    images_from_columns,
    literal_list,
    missing_value,
    option_list,
)
from thinkvl.eval.tables import hf_rows, read_json

MMMU_SUBJECTS: tuple[str, ...] = (
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory", "Basic_Medical_Science",
    "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Design", "Diagnostics_and_Laboratory_Medicine",
    "Economics", "Electronics", "Energy_and_Power", "Finance", "Geography", "History", "Literature", "Manage",
    "Marketing", "Materials", "Math", "Mechanical_Engineering", "Music", "Pharmacy", "Physics", "Psychology",
    "Public_Health", "Sociology",
)  # fmt: skip
IMAGE_COLUMNS = tuple(f"image_{i}" for i in range(1, 8))


def _hf(ctx: LoadContext, config: str | None = None) -> Iterator[dict[str, Any]]:
    b = ctx.bench
    return hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, config=config, download=ctx.download, what=b.title)


def _configs(ctx: LoadContext, every: tuple[str, ...]) -> list[str]:
    """The configs present on disk (all of them when none is, so the error or the download names them)."""
    return [c for c in every if (ctx.source / c).is_dir()] or list(every)


def mmmu_subject(item_id: str) -> str:
    """``validation_Art_Theory_12`` → ``Art_Theory``."""
    return "_".join(item_id.split("_")[1:-1])


def open_answer(value: Any) -> str | list[str]:
    """MMMU's open gold: a string, or a list literal of accepted strings (``"['24/7', '3.429']"``)."""
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            return [str(v) for v in literal_list(text, what="MMMU answer")]
        except ValueError:
            return text
    return text


def _mmmu_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = str(row["id"])
    images = images_from_columns(row, ctx, rid, IMAGE_COLUMNS)
    meta = {
        "subject": mmmu_subject(rid),
        "question_type": row.get("question_type", ""),
        "img_type": row.get("img_type"),
    }
    options = option_list(row.get("options") or "[]", what=f"MMMU {rid} options")
    question = str(row["question"])
    if row.get("question_type") == "multiple-choice" and options:
        return prompts.mc_record(
            rid, images, question, options, prompts.strip_letter(row["answer"]), meta, interleave=True
        )
    parts = prompts.content(images, prompts.short_text(question), interleave=True)
    return prompts.user_record(rid, "vqa", parts, open_answer(row["answer"]), meta)


def _mmmu_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    for subject in ctx.option("subjects") or _configs(ctx, MMMU_SUBJECTS):
        yield from _hf(ctx, subject)


MMMU = Family(rows=_mmmu_rows, convert=_mmmu_convert)


# ------------------------------------------------------------------ MMMU-Pro
VISION_PROMPT = (
    "The question and its options are in the image. Identify them, solve the problem, and answer with the letter "
    "of the correct option."
)


def _mmmu_pro_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    for config in ctx.option("subsets") or _configs(ctx, ctx.bench.hf_configs):
        for row in _hf(ctx, config):
            yield {**row, "_subset": "vision" if config == "vision" else "standard"}


def _mmmu_pro_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    subset = row["_subset"]
    rid = f"{subset}:{row['id']}"
    options = option_list(row["options"], what=f"MMMU-Pro {rid} options")
    meta = {"subset": subset, "subject": row.get("subject", "")}
    answer = prompts.strip_letter(row["answer"])
    if subset == "vision":
        image = ctx.media.image(row.get("image"), rid, item=rid)
        meta["choices"] = [str(o) for o in options]
        return prompts.user_record(rid, "choice", prompts.content([image], VISION_PROMPT), answer, meta)
    images = images_from_columns(row, ctx, rid, IMAGE_COLUMNS)
    return prompts.mc_record(rid, images, str(row["question"]), options, answer, meta, interleave=True)


MMMU_PRO = Family(rows=_mmmu_pro_rows, convert=_mmmu_pro_convert)


# ------------------------------------------------------------------ AI2D
def _ai2d_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    for n, row in enumerate(_hf(ctx)):
        yield {**row, "_row": n}


def _ai2d_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"ai2d-{row['_row']}"
    image = ctx.media.image(row.get("image"), rid, item=rid)
    options = list(row["options"])
    index = int(str(row["answer"]).strip())  # lmms-lab/ai2d stores the gold as the option index, "0".."3"
    if not 0 <= index < len(options):
        raise BadItemError(f"AI2D item {rid}: answer index {index} outside its {len(options)} options")
    return prompts.mc_record(rid, [image], str(row["question"]), options, prompts.letter_of(index))


AI2D = Family(rows=_ai2d_rows, convert=_ai2d_convert)


# ------------------------------------------------------------------ MathVista
MATHVISTA_META = ("category", "task", "context", "grade", "source", "language", "skills")


def mathvista_instruction(answer_type: str, precision: Any, unit: Any) -> str:
    unit_note = f" (unit: {unit})" if unit else ""
    if answer_type == "integer":
        return f"Answer with an integer{unit_note}."
    if answer_type == "float":
        places = int(precision) if precision is not None and not missing_value(precision) else 1
        return f"Answer with a number with {places} decimal place{'s' if places != 1 else ''}{unit_note}."
    if answer_type == "list":
        return "Answer with a Python list, e.g. [1, 2, 3]."
    return prompts.SHORT_INSTRUCTION


def _mathvista_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    path = ctx.source / "testmini.json"
    if path.is_file():
        data = read_json(path)
        yield from (data.values() if isinstance(data, dict) else data)
        return
    yield from _hf(ctx)


def mathvista_record(row: dict[str, Any], image: str) -> Record:
    """The record of one MathVista item (testmini.json or HF schema) whose image is stored at ``image``."""
    pid = str(row["pid"])
    choices = row.get("choices")
    metadata = row.get("metadata") or {}
    meta: dict[str, Any] = {
        "pid": pid,
        "question_type": row["question_type"],
        "answer_type": row["answer_type"],
        "precision": row.get("precision"),
        "unit": row.get("unit"),
        "answer_text": row["answer"],
        **{k: metadata.get(k) for k in MATHVISTA_META if k in metadata},
        # What the official answer extractor is shown (thinkvl.eval.judge_protocols); HF rows carry it.
        "query": row.get("query")
        or mathvista_query(str(row["question"]), choices, row.get("unit"), row.get("precision"), row["answer_type"]),
    }
    rid = f"mathvista-{pid}"
    if row["question_type"] == "multi_choice":
        choices = [str(c) for c in choices]
        if row["answer"] not in choices:
            raise BadItemError(f"MathVista {pid}: gold {row['answer']!r} is not one of its choices {choices}")
        letter = prompts.letter_of(choices.index(row["answer"]))
        return prompts.mc_record(rid, [image], str(row["question"]), choices, letter, meta)
    instruction = mathvista_instruction(row["answer_type"], row.get("precision"), row.get("unit"))
    parts = prompts.content([image], prompts.short_text(str(row["question"]), instruction=instruction))
    return prompts.user_record(rid, "math", parts, str(row["answer"]), meta)


def _mathvista_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    key = f"mathvista-{row['pid']}"
    decoded = row.get("decoded_image")
    image = ctx.media.image(decoded if decoded is not None else row.get("image"), key, item=key)
    return mathvista_record(row, image)


MATHVISTA = Family(
    rows=_mathvista_rows,
    convert=_mathvista_convert,
    media_root=lambda source: "source" if (source / "testmini.json").is_file() else "cache",
)


# ------------------------------------------------------------------ WeMath
_WEMATH_OPTION = re.compile(r"(?:^|;)\s*([A-H])\.\s*(.*?)\s*(?=;\s*[A-H]\.|$)", re.S)


def wemath_options(text: str) -> list[str]:
    """``"A. 3cm; B. 4cm; C. No correct answer"`` → ``["3cm", "4cm", "No correct answer"]``.

    >>> wemath_options("A. 3; B. 4.5; C. No correct answer")
    ['3', '4.5', 'No correct answer']
    """
    found = _WEMATH_OPTION.findall(text)
    letters = "".join(letter for letter, _ in found)
    if len(found) < 2 or letters != "ABCDEFGH"[: len(found)]:
        raise BadItemError(f"WeMath options don't parse as 'A. …; B. …': {text[:100]!r}")
    return [body for _, body in found]


def _wemath_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    path = ctx.source / "testmini.json"
    if path.is_file():
        yield from read_json(path)
        return
    yield from _hf(ctx)


def _wemath_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    key = str(row["key"])
    rid = f"wemath-{row['ID']}-{key}"
    steps, _, step = key.partition("_")
    value = row.get("image") if row.get("image") is not None else row.get("image_path")
    image = ctx.media.image(value, rid, item=rid)
    meta = {
        "group": str(row["ID"]),
        "key": key,
        "steps": steps,
        "step": step,
        "knowledge_concept": row.get("knowledge concept", ""),
    }
    return prompts.mc_record(
        rid, [image], str(row["question"]), wemath_options(str(row["option"])), str(row["answer"]), meta
    )


WEMATH = Family(
    rows=_wemath_rows,
    convert=_wemath_convert,
    media_root=lambda source: "source" if (Path(source) / "testmini.json").is_file() else "cache",
)
