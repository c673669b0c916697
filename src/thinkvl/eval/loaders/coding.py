"""Coding from screenshots: Design2Code (HTML/CSS) and Flame-React (React components).

Their scores come from rendering the generated code and comparing it visually with the reference
(`thinkvl.eval.render`); records hold the screenshot prompt and the reference code (Design2Code's HTML, Flame's
component, whose style sheet is ``meta["style"]``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thinkvl.data.record import Record
from thinkvl.eval import prompts
from thinkvl.eval.loaders.base import BadItemError, Family, LoadContext
from thinkvl.eval.tables import hf_rows

DESIGN2CODE_PROMPT = (
    "Write one HTML file, with its CSS inline, that reproduces this web page screenshot as closely as possible. "
    "Put the code in the box."
)
FLAME_PROMPT = (
    "Write a self-contained React component (JSX) that renders this design: its CSS after a line '// CSS', then the "
    "component after a line '// JavaScript XML (JSX)', exported as default. Put the code in the box."
)


def _rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    b = ctx.bench
    for n, row in enumerate(hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, download=ctx.download, what=b.title)):
        yield {**row, "_row": n}


def _code_record(row: dict[str, Any], ctx: LoadContext, name: str, prompt: str, code_keys: tuple[str, ...]) -> Record:
    rid = f"{name}-{row.get('id', row.get('problem_id', row['_row']))}"
    image = ctx.media.image(row.get("image"), rid, item=rid)
    code = next((str(row[k]) for k in code_keys if row.get(k)), None)
    if code is None:
        raise BadItemError(f"{ctx.bench.title} {rid}: no reference code in columns {code_keys}")
    meta: dict[str, Any] = {"reference_chars": len(code)}
    if name == "flame":  # the reference's style sheet; the complexity level is Flame's breakdown
        meta["style"] = str(row.get("style") or "")
        if row.get("complexity_level") is not None:
            meta["complexity_level"] = str(row["complexity_level"])
    return prompts.user_record(rid, "vqa", prompts.content([image], prompt), code, meta)


DESIGN2CODE = Family(
    rows=_rows, convert=lambda row, ctx: _code_record(row, ctx, "design2code", DESIGN2CODE_PROMPT, ("text",))
)
FLAME = Family(
    rows=_rows, convert=lambda row, ctx: _code_record(row, ctx, "flame", FLAME_PROMPT, ("component", "code", "text"))
)
