"""Read benchmark annotation tables as plain row dicts, from wherever a benchmark's data was put.

Resolution order for a Hugging Face benchmark under ``<data-dir>/<local_dir>``: a ``save_to_disk`` directory, then
parquet files of a Hub snapshot (``huggingface-cli download --repo-type dataset ID --local-dir DIR`` gives
``<config>/<split>-00000-of-00001.parquet`` or ``data/<split>-*.parquet``), then, only when downloading is allowed,
``datasets.load_dataset`` from the Hub. Native files (TSV, JSON, JSONL) are read by the loaders that know them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

_SPLIT_NAMED = re.compile(r"(train|test|testmini|val|validation|dev)[-.]")


class DataNotFoundError(FileNotFoundError):
    """A benchmark's annotation files aren't where they should be; the message says what was looked for."""


def find_parquet(source: Path, split: str, config: str | None = None) -> list[Path]:
    """Parquet files of ``split`` (and ``config``) in a Hub snapshot directory, in name order."""
    if not source.is_dir():
        return []
    base = source
    if config:
        for cand in (source / config, source / "data" / config, source / config.replace(" ", "_")):
            if cand.is_dir():
                base = cand
                break
        else:
            return []
    named = sorted({*base.rglob(f"{split}-*.parquet"), *base.rglob(f"{split}.parquet")})
    if named:
        return named
    # A single-file snapshot may name the file after the dataset (MMStar: mmstar.parquet); files named after
    # another split are never taken for this one.
    unnamed = [p for p in base.rglob("*.parquet") if not _SPLIT_NAMED.match(p.name)]
    return unnamed if len(unnamed) == 1 else []


def read_parquet(paths: Sequence[Path], batch_size: int = 64) -> Iterator[dict[str, Any]]:
    """Rows of parquet files, batch by batch (image columns stay ``{"bytes", "path"}`` structs)."""
    import pyarrow.parquet as pq

    for path in paths:
        with pq.ParquetFile(path) as f:
            for batch in f.iter_batches(batch_size=batch_size):
                yield from batch.to_pylist()


def _saved(source: Path, split: str) -> Iterator[dict[str, Any]] | None:
    if not ((source / "dataset_info.json").is_file() or (source / "dataset_dict.json").is_file()):
        return None
    from datasets import DatasetDict, load_from_disk

    data = load_from_disk(str(source))
    if isinstance(data, DatasetDict):
        if split not in data:
            raise DataNotFoundError(f"{source}: saved dataset has splits {list(data)}, not {split!r}")
        data = data[split]
    return iter(data)


def hf_rows(
    source: Path,
    *,
    hf_id: str | None,
    split: str,
    config: str | None = None,
    download: bool = False,
    what: str = "",
) -> Iterator[dict[str, Any]]:
    """Rows of one config and split of a Hugging Face benchmark, from disk (or the Hub when allowed)."""
    saved = _saved(source / config if config and (source / config).is_dir() else source, split)
    if saved is not None:
        return saved
    files = find_parquet(source, split, config)
    if files:
        return read_parquet(files)
    if download and hf_id:
        from datasets import load_dataset

        return iter(load_dataset(hf_id, config, split=split))
    where = f"{source}/{config}" if config else str(source)
    fetch = (
        f"; fetch it with `huggingface-cli download --repo-type dataset {hf_id} --local-dir {source}`"
        " or pass --download"
        if hf_id
        else ""
    )
    raise DataNotFoundError(
        f"{what or hf_id}: no parquet files of split {split!r} or saved dataset under {where}{fetch}"
    )


def _exists(path: Path) -> None:
    if not path.is_file():
        raise DataNotFoundError(f"annotation file not found: {path}")


def read_json(path: Path) -> Any:
    _exists(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    _exists(path)
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{n}: not valid JSON ({err})") from None


def read_tsv(path: Path) -> list[dict[str, str]]:
    """A TSV as rows of strings (missing cells are empty strings, not NaN)."""
    import pandas as pd

    _exists(path)
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return frame.to_dict(orient="records")


def first_existing(source: Path, names: Sequence[str]) -> Path | None:
    for name in names:
        if (source / name).is_file():
            return source / name
    return None
