"""Read and write record datasets: JSON lines, Parquet, and Hugging Face datasets (saved to disk or streamed).

A dataset is a directory (or a file inside one); image paths in records are relative to that directory.
Records are read one way everywhere: `resolve_source` finds the shards, `raw_rows` reads them, `to_record`
decodes a row; `load_records` (in memory) and the training stream (`thinkvl.train.stream`) are built on them.
In Parquet and HF datasets, ``messages``, ``answer`` and ``meta`` are stored as JSON text columns, because
answers mix types across domains (a count, a box, a string) and a columnar schema can't hold that.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinkvl.data.record import Record, RecordError, validate_media

log = logging.getLogger(__name__)
JSON_COLUMNS = ("messages", "answer", "meta")
RECORDS_FILE = "records.jsonl"  # a dataset directory's records, one JSON object a line
HF_PREFIX = "hf:"
SourceKind = Literal["jsonl", "parquet", "hf_disk", "hf_stream"]


@dataclass
class Dataset:
    """Records and the directory their media paths are relative to; `errors` lists records skipped."""

    records: list[Record]
    root: Path
    errors: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)


class DataError(ValueError):
    """The data can't be read (a missing dataset or an unreadable shard): one line naming it."""


@dataclass(frozen=True)
class Source:
    """Where records come from: shards of one kind, and the directory media paths are relative to."""

    kind: SourceKind
    shards: tuple[str, ...]
    root: Path
    split: str = "train"


def resolve_source(data: str | Path) -> Source:
    """``data`` is a records.jsonl / .parquet file, a directory holding records.jsonl, a saved HF dataset, or
    shards (*.jsonl / *.parquet), or ``hf:PATH[@split]`` for `datasets.load_dataset(PATH, streaming=True)`."""
    data = str(data)
    if data.startswith(HF_PREFIX):
        name, _, split = data[len(HF_PREFIX) :].partition("@")
        root = Path(name) if Path(name).is_dir() else Path.cwd()
        return Source("hf_stream", (name,), root, split or "train")
    path = Path(data)
    if path.is_file():
        return Source("parquet" if path.suffix == ".parquet" else "jsonl", (str(path),), path.parent)
    if not path.is_dir():
        raise DataError(f"dataset not found: {path}")
    if (path / RECORDS_FILE).is_file():
        return Source("jsonl", (str(path / RECORDS_FILE),), path)
    if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
        return Source("hf_disk", (str(path),), path)
    for kind, pattern in (("parquet", "*.parquet"), ("jsonl", "*.jsonl")):
        shards = sorted(str(p) for p in path.glob(pattern))
        if shards:
            return Source(kind, tuple(shards), path)  # type: ignore[arg-type]
    raise DataError(f"{path}: no {RECORDS_FILE}, *.parquet / *.jsonl shards or saved HF dataset found")


def check_source(source: Source) -> None:
    """Open every shard once up front (its first row), so an unreadable one fails before any work, with its name;
    an empty one is named in a warning (it adds nothing, which is likely a mistake)."""
    for shard in source.shards:
        with closing(raw_rows(source, [shard])) as rows:
            if next(rows, None) is None:
                log.warning("shard %s is empty: it adds no records", shard)


def raw_rows(source: Source, shards: Sequence[str] | None = None) -> Iterator[tuple[str, Any]]:
    """(location, raw row) for every record of ``shards`` (default: all, in order), undecoded, so that a reader
    skips others' rows cheaply: a JSON line as bytes, a columnar row as a dict. Blank lines are passed over."""
    for shard in source.shards if shards is None else shards:
        name = Path(shard).name
        try:
            if source.kind == "jsonl":
                with open(shard, "rb") as f:
                    for n, line in enumerate(f, 1):
                        if line.strip():
                            yield f"{name}:{n}", line
            elif source.kind == "parquet":
                import pyarrow.parquet as pq

                n = 0
                for batch in pq.ParquetFile(shard).iter_batches(batch_size=1024):
                    for row in batch.to_pylist():
                        yield f"{name}[{n}]", row
                        n += 1
            else:
                if source.kind == "hf_disk":
                    from datasets import load_from_disk

                    rows: Iterable[dict[str, Any]] = load_from_disk(shard)
                else:
                    from datasets import load_dataset

                    rows = load_dataset(shard, split=source.split, streaming=True)
                for n, row in enumerate(rows):
                    yield f"{name}[{n}]", row
        except Exception as err:  # noqa: BLE001 - I/O, arrow and datasets errors all mean "unreadable shard"
            raise DataError(f"cannot read shard {shard}: {type(err).__name__}: {err}".splitlines()[0]) from err


def to_record(where: str, raw: Any) -> Record:
    """Decode one raw row; a bad one raises `RecordError` naming where it is."""
    try:
        if isinstance(raw, (bytes, str)):
            row = json.loads(raw)
        else:  # columnar stores hold messages / answer / meta as JSON text
            row = dict(raw)
            for col in JSON_COLUMNS:
                if isinstance(row.get(col), str):
                    row[col] = json.loads(row[col])
    except (ValueError, TypeError, RecursionError) as err:
        raise RecordError(where, "<json>", f"not valid JSON: {err}") from err
    if not isinstance(row, dict):
        raise RecordError(where, "<json>", "not a JSON object")
    return Record.from_dict(row)


def iter_records(source: Source, domains: Sequence[str] | None = None) -> Iterator[Record]:
    """Every good record in shard order (bad ones skipped): e.g. a tokenizer's training text."""
    for where, raw in raw_rows(source):
        try:
            record = to_record(where, raw)
        except RecordError:
            continue
        if not domains or record.domain in domains:
            yield record


def load_records(
    path: str | Path,
    *,
    check_media: bool = False,
    on_error: Literal["raise", "skip"] = "raise",
) -> Dataset:
    """Load a dataset. Bad records raise `RecordError` (naming record and field), or are skipped and listed.

    Media paths that leave the dataset directory are always refused (`thinkvl.data.record.media_path`);
    ``check_media`` also opens every image to catch missing, corrupt or oversized files up front.
    """
    source = resolve_source(path)
    records, errors, seen = [], [], set()
    for where, raw in raw_rows(source):
        try:
            record = to_record(where, raw)
            if record.id in seen:
                raise RecordError(record.id, "id", f"duplicate id (at {where})")
            validate_media(record, source.root, open_files=check_media)
        except RecordError as err:
            if on_error == "raise":
                raise
            errors.append(f"{where}: {err}")
            continue
        seen.add(record.id)
        records.append(record)
    return Dataset(records=records, root=source.root, errors=errors)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file so that readers see the old content or the new, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(records: Iterable[Record], path: str | Path) -> None:
    atomic_write_text(path, "".join(json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records))


def _columnar(records: Iterable[Record]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {"id": [], "domain": [], "difficulty": [], **{c: [] for c in JSON_COLUMNS}}
    for r in records:
        cols["id"].append(r.id)
        cols["domain"].append(r.domain)
        cols["difficulty"].append(r.difficulty)
        for c in JSON_COLUMNS:
            cols[c].append(json.dumps(getattr(r, c), ensure_ascii=False))
    return cols


def write_parquet(records: Iterable[Record], path: str | Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.table(_columnar(records)), tmp)
    os.replace(tmp, path)


def write_hf_dataset(records: Iterable[Record], directory: str | Path) -> None:
    from datasets import Dataset as HFDataset

    HFDataset.from_dict(_columnar(records)).save_to_disk(str(directory))
