"""MMLongBench-Doc: questions over long PDFs; each record carries up to ``max_pages`` page images.

Annotations are samples.json (GitHub) or the HF parquet, with ``answer_format`` one of Str, Int, Float, List or
None (unanswerable: the gold is "Not answerable"). The official pipeline extracts a short answer with GPT-4o and
then scores it per format; we score the boxed answer with the same per-format rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import Family, LoadContext
from thinkvl.eval.tables import hf_rows, read_json

DOC_INSTRUCTION = (
    "Answer the question using the document pages above. If the document does not contain the answer, answer "
    '"Not answerable". Give a list answer as ["a", "b"].'
)


def _rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    path = ctx.source / "samples.json"
    if path.is_file():
        rows = read_json(path)
    else:
        b = ctx.bench
        rows = hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, download=ctx.download, what=b.title)
    for n, row in enumerate(rows):
        yield {**row, "_row": n}


def _convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"mmlongbench-{row['_row']}"
    doc = str(row["doc_id"])
    pages = ctx.media.pdf_pages(
        f"documents/{doc}", doc, max_pages=int(ctx.option("max_pages", 32)), dpi=int(ctx.option("dpi", 72)), item=rid
    )
    meta = {
        "answer_format": str(row.get("answer_format", "Str")),
        "doc_type": row.get("doc_type", ""),
        "doc_id": doc,
        "question": str(row["question"]),  # what the official answer extractor is shown
    }
    parts = prompts.content(pages, prompts.short_text(str(row["question"]), instruction=DOC_INSTRUCTION))
    return prompts.user_record(rid, "vqa", parts, str(row["answer"]), meta)


MMLONGBENCH = Family(rows=_rows, convert=_convert)
