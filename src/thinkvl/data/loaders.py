"""Read and write record datasets: JSON lines, Parquet, and Hugging Face datasets saved to disk.

A dataset is a directory (or a file inside one); image paths in records are relative to that directory.
In Parquet and HF datasets, ``messages``, ``answer`` and ``meta`` are stored as JSON text columns, because
answers mix types across domains (a count, a box, a string) and a columnar schema can't hold that.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinkvl.data.record import Record, RecordError, validate_media

JSON_COLUMNS = ("messages", "answer", "meta")
RECORDS_FILE = "records.jsonl"


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


def _resolve(path: str | Path) -> tuple[Path, Literal["jsonl", "parquet", "hf"]]:
    path = Path(path)
    if path.is_dir():
        if (path / RECORDS_FILE).is_file():
            return path / RECORDS_FILE, "jsonl"
        if (path / "dataset_info.json").is_file() or (path / "state.json").is_file():
            return path, "hf"
        parquets = sorted(path.glob("*.parquet"))
        if len(parquets) == 1:
            return parquets[0], "parquet"
        raise FileNotFoundError(f"{path}: no {RECORDS_FILE}, single .parquet file or saved HF dataset found")
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.suffix == ".parquet":
        return path, "parquet"
    return path, "jsonl"


def _raw_rows(path: Path, kind: str) -> Iterator[tuple[str, Any]]:
    """(location, parsed row) pairs; a row that isn't valid JSON yields an exception as its value."""
    if kind == "jsonl":
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    yield f"{path.name}:{n}", json.loads(line)
                except json.JSONDecodeError as err:
                    yield f"{path.name}:{n}", err
        return
    if kind == "parquet":
        import pyarrow.parquet as pq

        rows: Iterable[dict[str, Any]] = pq.read_table(path).to_pylist()
    else:
        from datasets import load_from_disk

        rows = load_from_disk(str(path))
    for n, row in enumerate(rows):
        row = dict(row)
        try:
            for col in JSON_COLUMNS:
                if isinstance(row.get(col), str):
                    row[col] = json.loads(row[col])
        except json.JSONDecodeError as err:
            yield f"{path.name}[{n}]", err
            continue
        yield f"{path.name}[{n}]", row


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
    file, kind = _resolve(path)
    root = file.parent if kind != "hf" else file
    records, errors, seen = [], [], set()
    for where, row in _raw_rows(file, kind):
        try:
            if isinstance(row, Exception):
                raise RecordError(where, "<json>", f"not valid JSON: {row}")
            record = Record.from_dict(row)
            if record.id in seen:
                raise RecordError(record.id, "id", f"duplicate id (at {where})")
            validate_media(record, root, open_files=check_media)
        except RecordError as err:
            if on_error == "raise":
                raise
            errors.append(f"{where}: {err}")
            continue
        seen.add(record.id)
        records.append(record)
    return Dataset(records=records, root=root, errors=errors)


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
