"""Charts: ChartQAPro, ChartMuseum, and ChartQA (an extra: its human test split ships in shared/benchdata).

ChartQAPro rows hold lists: ``Question`` and ``Answer`` (one entry per turn of a conversational item; the last is
scored) and ``Year`` (per answer, "YES" when it is a year and must match exactly). Earlier turns become earlier
chat turns of the record.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import BadItemError, Family, LoadContext, missing_value
from thinkvl.eval.tables import DataNotFoundError, hf_rows, read_json

CHART_INSTRUCTION = "Answer with a single number, word or short phrase."


def _hf(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    b = ctx.bench
    return hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, download=ctx.download, what=b.title)


# ------------------------------------------------------------------ ChartQAPro
def _as_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [] if missing_value(value) else [str(value)]


def _chartqapro_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    for n, row in enumerate(_hf(ctx)):
        yield {**row, "_row": n}


def _chartqapro_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"chartqapro-{row['_row']}"
    image = ctx.media.image(row.get("image"), rid, item=rid)
    questions, answers = _as_list(row["Question"]), _as_list(row["Answer"])
    if not questions or len(answers) != len(questions):
        raise BadItemError(f"ChartQAPro {rid}: {len(questions)} questions but {len(answers)} answers")
    qtype = str(row.get("Question Type", ""))
    paragraph = "" if missing_value(row.get("Paragraph")) else str(row["Paragraph"]).strip()
    messages: list[dict[str, Any]] = []
    for turn, (question, answer) in enumerate(zip(questions, answers)):
        text = question if turn else (f"{paragraph}\n\n{question}" if paragraph else question)
        last = turn == len(questions) - 1
        parts: list[dict[str, Any]] = [{"type": "image", "image": image}] if turn == 0 else []
        parts.append({"type": "text", "text": prompts.short_text(text, instruction=CHART_INSTRUCTION if last else "")})
        messages.append({"role": "user", "content": parts})
        if not last:
            messages.append({"role": "assistant", "content": answer})
    year = _as_list(row.get("Year"))
    # Conversational items flag only the scored (last) answer's year-ness.
    year_flags = year[-1:] if qtype == "Conversational" else year
    meta = {"question_type": qtype, "year_flags": year_flags}
    record = Record(id=rid, domain="chart", messages=messages, answer=answers[-1], meta=meta)
    record.validate()
    return record


CHARTQAPRO = Family(rows=_chartqapro_rows, convert=_chartqapro_convert)


# ------------------------------------------------------------------ ChartMuseum
def _chartmuseum_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"chartmuseum-{row.get('hash') or row['_row']}"
    image = ctx.media.image(row.get("image"), rid, item=rid)
    meta = {
        "reasoning_type": row.get("reasoning_type", ""),
        "source": row.get("source", ""),
        "question": row["question"],
    }
    parts = prompts.content([image], prompts.short_text(str(row["question"]), instruction=CHART_INSTRUCTION))
    return prompts.user_record(rid, "chart", parts, str(row["answer"]), meta)


CHARTMUSEUM = Family(
    rows=_chartqapro_rows,  # same need: a stable row number for ids
    convert=_chartmuseum_convert,
    # The HF parquet stores image paths into the repository's images/ folder: reference them in place.
    media_root="source",
)


# ------------------------------------------------------------------ ChartQA
CHARTQA_SUBSETS = ("test_human", "test_augmented")


def chartqa_dir(source: Path) -> Path:
    return source / "test" if (source / "test").is_dir() else source


def _chartqa_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    base = chartqa_dir(ctx.source)
    found = False
    for subset in ctx.option("subsets") or CHARTQA_SUBSETS:
        path = base / f"{subset}.json"
        if not path.is_file():
            continue
        found = True
        for n, row in enumerate(read_json(path)):
            yield {**row, "_subset": subset, "_row": n}
    if not found:
        raise DataNotFoundError(f"ChartQA: no test_human.json / test_augmented.json under {base}")


def chartqa_record(row: dict[str, Any], image: str) -> Record:
    rid = f"chartqa-{row['_subset']}-{row['_row']}"
    parts = prompts.content([image], prompts.short_text(str(row["query"]), instruction=CHART_INSTRUCTION))
    return prompts.user_record(rid, "chart", parts, str(row["label"]), {"subset": row["_subset"]})


def _chartqa_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rel = (chartqa_dir(ctx.source) / "png" / str(row["imgname"])).relative_to(ctx.source).as_posix()
    return chartqa_record(row, ctx.media.reference(rel, item=f"chartqa {row['imgname']}"))


CHARTQA = Family(rows=_chartqa_rows, convert=_chartqa_convert, media_root="source")
