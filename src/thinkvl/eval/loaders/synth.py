"""The built-in synthetic suite as a benchmark: `thinkvl.data.synth` tasks drawn on a held-out seed.

Training data is made with small seeds (the demo uses 0 and its neighbours); evaluating on `HELDOUT_SEED` gives
images and answers the model has never seen, at every difficulty level, so per-domain and per-level accuracy
measure generalisation rather than recall.
"""

from __future__ import annotations

from collections.abc import Iterator

from thinkvl.data.record import Record
from thinkvl.eval.loaders.base import Family, LoadContext

HELDOUT_SEED = 90_210


def _rows(ctx: LoadContext) -> Iterator[Record]:
    from thinkvl.data.synth import write_dataset

    yield from write_dataset(
        ctx.media.root,
        domains=ctx.option("domains"),
        n=int(ctx.option("n", 20)),
        seed=int(ctx.option("seed", HELDOUT_SEED)),
        levels=ctx.option("levels"),
    )


def _convert(record: Record, ctx: LoadContext) -> Record:
    record.meta = {**record.meta, "level": record.difficulty}
    return record


SYNTH = Family(rows=_rows, convert=_convert)
