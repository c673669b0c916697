"""Benchmark loaders: one small module per dataset family, all driven by `load_benchmark`.

Each module exposes a `Family` (``rows`` + ``convert``) per benchmark loader key; `LOADERS` maps the registry's
``loader`` names to them. `load_benchmark` reads rows, converts them to validated records, applies ``limit``,
and either stops at the first item whose media are missing (``on_missing="error"``, the default) or skips and
lists such items (``"skip"``). Items malformed in the dataset itself (`BadItemError`, `RecordError`) are always
skipped and listed, so one bad row doesn't block a benchmark and is still reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinkvl.data.record import Record, RecordError
from thinkvl.eval.loaders import chart, coding, docs, general, gui, ocr, refcoco, stem, synth, video
from thinkvl.eval.loaders.base import BadItemError, Family, LoadContext
from thinkvl.eval.media import MediaStore, MissingMediaError
from thinkvl.eval.registry import Benchmark, get_benchmark

LOADERS: dict[str, Family] = {
    "mmbench": general.MMBENCH,
    "mmstar": general.MMSTAR,
    "blink": general.BLINK,
    "muirbench": general.MUIRBENCH,
    "mmmu": stem.MMMU,
    "mmmu_pro": stem.MMMU_PRO,
    "ai2d": stem.AI2D,
    "mathvista": stem.MATHVISTA,
    "wemath": stem.WEMATH,
    "chartqapro": chart.CHARTQAPRO,
    "chartmuseum": chart.CHARTMUSEUM,
    "chartqa": chart.CHARTQA,
    "ocrbench": ocr.OCRBENCH,
    "mmlongbench": docs.MMLONGBENCH,
    "refcoco": refcoco.REFCOCO,
    "refcoco_avg": refcoco.REFCOCO_AVG,
    "osworld": gui.OSWORLD,
    "androidworld": gui.ANDROIDWORLD,
    "webvoyager": gui.WEBVOYAGER,
    "webquest": gui.WEBQUEST,
    "design2code": coding.DESIGN2CODE,
    "flame": coding.FLAME,
    "videomme": video.VIDEOMME,
    "videommmu": video.VIDEOMMMU,
    "mmvu": video.MMVU,
    "lvbench": video.LVBENCH,
    "motionbench": video.MOTIONBENCH,
    "synth": synth.SYNTH,
}


@dataclass
class LoadedBenchmark:
    """A benchmark's records, the directory their media paths are relative to, and the items skipped (why)."""

    bench: Benchmark
    records: list[Record]
    root: Path
    skipped: list[str] = field(default_factory=list)


def load_benchmark(
    bench: Benchmark | str,
    data_dir: str | Path | None,
    cache_dir: str | Path,
    *,
    limit: int | None = None,
    on_missing: Literal["error", "skip"] = "error",
    download: bool = False,
    options: dict[str, Any] | None = None,
) -> LoadedBenchmark:
    """Load up to ``limit`` records of a benchmark from ``data_dir/<local_dir>``; embedded media go to
    ``cache_dir/<name>``. Works for every benchmark, including those that can't be scored offline."""
    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip', got {on_missing!r}")
    family = LOADERS[bench.loader]
    source = Path(data_dir) / bench.local_dir if data_dir is not None else Path(cache_dir) / bench.name / "source"
    cache = Path(cache_dir) / bench.name
    root = source if family.root_kind(source) == "source" else cache
    ctx = LoadContext(
        bench=bench,
        source=source,
        media=MediaStore(root, source, benchmark=bench.title, hint=bench.media),
        download=download,
        options={**bench.options, **(options or {})},
    )
    records: list[Record] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for row in family.rows(ctx):
        if limit is not None and len(records) >= limit:
            break
        try:
            out = family.convert(row, ctx)
        except MissingMediaError as err:
            if on_missing == "error":
                raise
            skipped.append(str(err))
            continue
        except (BadItemError, RecordError) as err:  # malformed in the dataset itself: listed, never silent
            skipped.append(f"{bench.title}: {err}")
            continue
        for record in out if isinstance(out, list) else [out]:
            if record.id in seen:
                raise RecordError(record.id, "id", f"duplicate id in {bench.title}")
            seen.add(record.id)
            records.append(record)
    if limit is not None:
        records = records[:limit]
    return LoadedBenchmark(bench=bench, records=records, root=root, skipped=skipped)


__all__ = ["LOADERS", "BadItemError", "Family", "LoadContext", "LoadedBenchmark", "load_benchmark"]
