"""RefCOCO (referring expression comprehension), lmms-lab/RefCOCO schema: one row per referred object with its
``bbox`` as [x, y, w, h] in pixels and ``answer`` the list of referring expressions. Each expression is one item;
the gold box is converted to [x1, y1, x2, y2] in 0–1000 coordinates of the image, as GLM-4.1V answers boxes.

RefCOCO-avg (the report's grounding figure) reads the eight splits of RefCOCO, RefCOCO+ and RefCOCOg (lmms-lab's
snapshots share the schema) and tags each item with its split as ``subset``; its metric is the mean of the
per-split accuracies. Rows are taken from the splits in turn, so ``--limit`` still samples every split.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import BadItemError, Family, LoadContext
from thinkvl.eval.media import image_size
from thinkvl.eval.tables import hf_rows


def xywh_to_norm1000(bbox: list[float], width: int, height: int) -> list[float]:
    """[x, y, w, h] in pixels → [x1, y1, x2, y2] in 0–1000, clipped to the image.

    >>> xywh_to_norm1000([10, 20, 30, 40], 100, 200)
    [100.0, 100.0, 400.0, 300.0]
    """
    if len(bbox) != 4 or width <= 0 or height <= 0:
        raise BadItemError(f"bad box {bbox} for a {width}x{height} image")
    x, y, w, h = (float(v) for v in bbox)

    def clip(v: float) -> float:
        return round(min(max(v, 0.0), 1000.0), 1)

    return [
        clip(x / width * 1000),
        clip(y / height * 1000),
        clip((x + w) / width * 1000),
        clip((y + h) / height * 1000),
    ]


def _rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    b = ctx.bench
    yield from hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, download=ctx.download, what=b.title)


def _convert(row: dict[str, Any], ctx: LoadContext) -> list[Record]:
    qid = str(row["question_id"])
    subset = row.get("_subset")
    if subset:  # one of RefCOCO-avg's splits: ids and media keys carry it (question ids repeat across datasets)
        qid = f"{subset.replace(' ', '-').replace('+', 'plus')}-{qid}"
    image = ctx.media.image(row.get("image"), f"refcoco-{qid}", item=qid)
    width, height = image_size(ctx.media.root, image)
    box = xywh_to_norm1000(list(row["bbox"]), width, height)
    expressions = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
    records = []
    for k, expr in enumerate(expressions):
        parts = prompts.content([image], prompts.GROUNDING_TEMPLATE.format(expr=str(expr).strip()))
        meta = {"file_name": row.get("file_name", ""), "expression": str(expr), "image_size": [width, height]}
        if subset:
            meta["subset"] = subset
        records.append(prompts.user_record(f"refcoco-{qid}-{k}", "grounding", parts, box, meta))
    return records


REFCOCO = Family(rows=_rows, convert=_convert)


def _avg_rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    """Rows of every split, one split after another in turn, each tagged with its subset name."""

    def split_rows(subset: str, hf_id: str, folder: str, split: str) -> Iterator[dict[str, Any]]:
        source = ctx.source.parent / folder
        for row in hf_rows(source, hf_id=hf_id, split=split, download=ctx.download, what=f"RefCOCO-avg: {subset}"):
            yield {**row, "_subset": subset}

    streams = [split_rows(*spec) for spec in ctx.option("splits")]
    for batch in zip_longest(*streams):
        yield from (row for row in batch if row is not None)


REFCOCO_AVG = Family(rows=_avg_rows, convert=_convert)
