"""General VQA: MMBench (EN/CN), MMStar, BLINK, MUIRBench — all multiple choice, scored by the letter.

MMBench comes as VLMEvalKit's TSV (base64 images; a short numeric ``image`` cell names the row whose image it
shares) or as lmms-lab/MMBench parquet. Both hold CircularEval copies of each question with the options rotated,
numbered ``index + k * 1_000_000``; the metric groups them by ``index % 1_000_000``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from thinkvl.data.record import CHOICE_LETTERS, Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import Family, LoadContext, images_from_columns, missing_value
from thinkvl.eval.tables import first_existing, hf_rows, read_tsv

CIRCULAR_STRIDE = 1_000_000


# ------------------------------------------------------------------ MMBench
def _mmbench_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    tsv = first_existing(ctx.source, [ctx.option("tsv", "")]) if ctx.option("tsv") else None
    if tsv is not None:
        rows = read_tsv(tsv)
        by_index = {str(r.get("index")): r.get("image", "") for r in rows}
        for row in rows:
            image = row.get("image", "")
            if len(image) <= 64 and image.strip().isdigit():  # a reference to another row's image
                row = {**row, "image": by_index.get(image.strip(), ""), "_image_of": image.strip()}
            yield row
        return
    bench = ctx.bench
    yield from hf_rows(
        ctx.source,
        hf_id=bench.hf_id,
        split=bench.split,
        config=bench.hf_configs[0] if bench.hf_configs else None,
        download=ctx.download,
        what=bench.title,
    )


def _mmbench_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    index = int(float(row["index"]))
    rid = f"{ctx.bench.name}-{index}"
    options = [str(row[k]) for k in CHOICE_LETTERS if k in row and not missing_value(row[k])]
    image = row.get("image")
    key = f"{ctx.bench.name}-{row.get('_image_of') or index}"
    if isinstance(image, str):
        if missing_value(image):
            raise ctx.media.missing("has no image", rid)
        rel = ctx.media.base64_image(image, key, item=rid)
    else:
        rel = ctx.media.image(image, key, item=rid)
    hint = "" if missing_value(row.get("hint")) else str(row["hint"])
    meta = {
        "index": index,
        "circular_group": index % CIRCULAR_STRIDE,
        "category": row.get("category", ""),
        "l2_category": row.get("l2-category", row.get("L2-category", row.get("l2_category", ""))),
    }
    return prompts.mc_record(
        rid, [rel], str(row["question"]), options, prompts.strip_letter(row["answer"]), meta, hint=hint
    )


MMBENCH = Family(rows=_mmbench_rows, convert=_mmbench_convert)


# ------------------------------------------------------------------ MMStar
def _hf(ctx: LoadContext, config: str | None = None) -> Iterator[dict[str, Any]]:
    bench = ctx.bench
    return hf_rows(
        ctx.source, hf_id=bench.hf_id, split=bench.split, config=config, download=ctx.download, what=bench.title
    )


def split_inline_options(text: str, letters: str = "ABCDEF") -> tuple[str, list[str]] | None:
    """Split ``"stem\\nOptions: A: x, B: y, C: z"`` into the stem and its options, or None when it doesn't parse.

    Letters must appear in order, each at the start or after whitespace or a comma, so commas inside an option
    stay in it.

    >>> split_inline_options("What is it?\\nOptions: A: a cat, a dog, B: a bird, C: a fish")
    ('What is it?', ['a cat, a dog', 'a bird', 'a fish'])
    """
    head, sep, tail = text.rpartition("Options:")
    if not sep:
        return None
    starts: list[tuple[int, int]] = []
    pos = 0
    for letter in letters:
        m = re.compile(rf"(?:^|(?<=[\s,])){letter}[:.]\s").search(tail, pos)
        if not m:
            break
        starts.append((m.start(), m.end()))
        pos = m.end()
    if len(starts) < 2:
        return None
    options = []
    for i, (_, end) in enumerate(starts):
        stop = starts[i + 1][0] if i + 1 < len(starts) else len(tail)
        options.append(tail[end:stop].strip().rstrip(",").strip())
    return head.strip(), options


def _mmstar_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"mmstar-{row['index']}"
    rel = ctx.media.image(row.get("image"), rid, item=rid)
    question = str(row["question"])
    parsed = split_inline_options(question)
    meta = {"category": row.get("category", ""), "l2_category": row.get("l2_category", "")}
    if parsed is None:  # options we can't split out: keep the question whole and score the letter as a letter
        text = prompts.short_text(question, instruction=prompts.MC_INSTRUCTION)
        return prompts.user_record(
            rid, "choice", prompts.content([rel], text), prompts.strip_letter(row["answer"]), meta
        )
    stem, options = parsed
    return prompts.mc_record(rid, [rel], stem, options, prompts.strip_letter(row["answer"]), meta)


MMSTAR = Family(rows=lambda ctx: _hf(ctx), convert=_mmstar_convert)


# ------------------------------------------------------------------ BLINK
def _blink_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    present = [c for c in ctx.bench.hf_configs if (ctx.source / c).is_dir()]
    for config in ctx.option("subtasks") or present or ctx.bench.hf_configs:
        for row in _hf(ctx, config):
            yield {**row, "_subtask": config}


def _blink_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = str(row["idx"])
    images = images_from_columns(row, ctx, rid, [f"image_{i}" for i in range(1, 5)])
    meta = {"sub_task": row.get("sub_task") or row["_subtask"]}
    return prompts.mc_record(
        rid, images, str(row["question"]), list(row["choices"]), prompts.strip_letter(row["answer"]), meta
    )


BLINK = Family(rows=_blink_rows, convert=_blink_convert)


# ------------------------------------------------------------------ MUIRBench
def _muir_convert(row: dict[str, Any], ctx: LoadContext) -> Record:
    rid = f"muirbench-{row['idx']}"
    images = [ctx.media.image(img, f"{rid}-{i}", item=rid) for i, img in enumerate(row.get("image_list") or [])]
    if not images:
        raise ctx.media.missing("has no images", rid)
    meta = {"task": row.get("task", ""), "image_relation": row.get("image_relation", "")}
    # Options may be images themselves: their <image> tags take the images after the question's, in order.
    return prompts.mc_record(
        rid,
        images,
        str(row["question"]),
        list(row["options"]),
        prompts.strip_letter(row["answer"]),
        meta,
        interleave=True,
    )


MUIRBENCH = Family(rows=lambda ctx: _hf(ctx), convert=_muir_convert)
