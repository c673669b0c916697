"""Coding from screenshots: Design2Code (HTML/CSS) and Flame-React (React components).

Their scores come from rendering the generated code and comparing it visually with the reference design, which
needs a browser (and for React a Node.js build); records hold the screenshot prompt and the reference code.
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
FLAME_PROMPT = "Write a self-contained React component (JSX) that renders this design. Put the code in the box."


def _rows(ctx: LoadContext) -> Iterator[dict[str, Any]]:
    b = ctx.bench
    for n, row in enumerate(hf_rows(ctx.source, hf_id=b.hf_id, split=b.split, download=ctx.download, what=b.title)):
        yield {**row, "_row": n}


def _code_record(row: dict[str, Any], ctx: LoadContext, name: str, prompt: str, code_keys: tuple[str, ...]) -> Record:
    rid = f"{name}-{row.get('id', row['_row'])}"
    image = ctx.media.image(row.get("image"), rid, item=rid)
    code = next((str(row[k]) for k in code_keys if row.get(k)), None)
    if code is None:
        raise BadItemError(f"{ctx.bench.title} {rid}: no reference code in columns {code_keys}")
    return prompts.user_record(rid, "vqa", prompts.content([image], prompt), code, {"reference_chars": len(code)})


DESIGN2CODE = Family(
    rows=_rows, convert=lambda row, ctx: _code_record(row, ctx, "design2code", DESIGN2CODE_PROMPT, ("text",))
)
FLAME = Family(
    rows=_rows, convert=lambda row, ctx: _code_record(row, ctx, "flame", FLAME_PROMPT, ("code", "component", "text"))
)
