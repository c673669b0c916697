"""OCRBench (v1): 1000 items in 10 categories; the GitHub release is OCRBench.json plus OCRBench_Images/.

``answers`` is a string or a list of accepted strings; scoring is OCRBench's own containment rule (see
`thinkvl.eval.verifiers`), and the metric is the count of correct items out of 1000.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import Family, LoadContext
from thinkvl.eval.tables import hf_rows, read_json

IMAGE_DIRS = ("OCRBench_Images", "")


def _rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    path = ctx.source / "OCRBench.json"
    if path.is_file():
        yield from read_json(path)
        return
    b = ctx.bench
    for n, row in enumerate(hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, download=ctx.download, what=b.title)):
        # HF schema (echo840/OCRBench): dataset, question, question_type, answer (list), image
        yield {
            "id": n,
            "dataset_name": row.get("dataset"),
            "question": row["question"],
            "answers": row["answer"],
            "type": row.get("question_type"),
            "image": row.get("image"),
        }


def ocrbench_id(row: dict[str, Any]) -> str:
    """Item ids repeat across OCRBench's source datasets (113 ids occur more than once); with the dataset they
    are unique."""
    return f"ocrbench-{row.get('dataset_name')}-{row['id']}"


def ocrbench_record(row: dict[str, Any], image: str) -> Record:
    answers = row["answers"]
    answer = [str(a) for a in answers] if isinstance(answers, list) else str(answers)
    meta = {"type": row.get("type", ""), "dataset_name": row.get("dataset_name", "")}
    parts = prompts.content([image], prompts.short_text(str(row["question"]), instruction="Answer with the text only."))
    return prompts.user_record(ocrbench_id(row), "ocr", parts, answer, meta)


def _convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    item = ocrbench_id(row)
    if row.get("image") is not None:
        return ocrbench_record(row, ctx.media.image(row["image"], item, item=item))
    rel = str(row["image_path"])
    for base in IMAGE_DIRS:
        candidate = f"{base}/{rel}" if base else rel
        if (ctx.source / candidate).is_file():
            return ocrbench_record(row, ctx.media.reference(candidate, item=item))
    raise ctx.media.missing(f"image {rel} not found under {ctx.source}/OCRBench_Images", item)


OCRBENCH = Family(rows=_rows, convert=_convert, media_root="source")
