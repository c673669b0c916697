"""Streaming I/O: read records.jsonl in bounded chunks, write kept records as they come, report drops.

Nothing here holds more than one chunk of input, the dropped-record reservoirs (``dropped_samples`` per
filter) and counters, so memory does not grow with the dataset.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from thinkvl.data.loaders import RECORDS_FILE
from thinkvl.data.pipeline.base import reason_code, short

Line = tuple[int, bytes | None]  # (1-based line number, bytes without newline; None: over max_line_bytes)


def _read_line(f: BinaryIO, limit: int) -> tuple[bytes | None, int, bool]:
    """One line (without newline) or None if longer than ``limit``; bytes consumed; whether at EOF."""
    data = f.readline(limit + 1)
    if not data:
        return b"", 0, True
    consumed = len(data)
    if data.endswith(b"\n"):
        return data[:-1].rstrip(b"\r"), consumed, False
    if len(data) <= limit:  # last line without a newline
        return data, consumed, False
    while True:  # skip the rest of an over-long line without holding it
        more = f.readline(1 << 20)
        consumed += len(more)
        if not more or more.endswith(b"\n"):
            return None, consumed, False


def read_chunks(path: str | Path, chunk_size: int, max_line_bytes: int) -> Iterator[tuple[list[Line], int]]:
    """Chunks of (line number, line) with the bytes they took; blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {path.parent}")
    chunk: list[Line] = []
    used = 0
    with path.open("rb") as f:
        line_no = 0
        while True:
            line, consumed, eof = _read_line(f, max_line_bytes)
            if eof:
                break
            line_no += 1
            used += consumed
            if line is not None and not line.strip():
                continue
            chunk.append((line_no, line))
            if len(chunk) >= chunk_size:
                yield chunk, used
                chunk, used = [], 0
    if chunk or used:
        yield chunk, used


def place_media(src_root: Path, dst_root: Path, rel: str, mode: str) -> None:
    """Put one media file into the output dataset: hard link (copy if linking fails) or copy."""
    src, dst = src_root / rel, dst_root / rel
    if dst.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if mode == "link":
        try:
            os.link(src, dst)
            return
        except OSError:
            pass  # another filesystem, or links not allowed: copy instead
    shutil.copyfile(src, dst)


class DatasetWriter:
    """Appends records to ``out/records.jsonl`` and places their media beside it; flush per chunk."""

    def __init__(self, out_dir: str | Path, src_root: str | Path | None, media: str = "link", append: bool = False):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.src_root = None if src_root is None else Path(src_root)
        self.media = media
        self._f = (self.out_dir / RECORDS_FILE).open("ab" if append else "wb")
        self.count = 0

    def write(self, record: dict[str, Any], media: list[str] = ()) -> None:  # type: ignore[assignment]
        if self.src_root is not None:
            for rel in media:
                place_media(self.src_root, self.out_dir, rel, self.media)
        self._f.write(json.dumps(record, ensure_ascii=False).encode() + b"\n")
        self.count += 1

    def flush(self) -> None:
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            self._f.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class StageStats:
    """Drops of one filter: counts by reason code, and a uniform sample of the dropped records."""

    name: str
    seen: int = 0
    dropped: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def drop(self, reason: str, sample: dict[str, Any], k: int, rng: random.Random) -> None:
        self.dropped += 1
        self.reasons[reason_code(reason)] += 1
        if len(self.samples) < k:
            self.samples.append(sample)
        else:  # reservoir sampling: every dropped record is in the sample with probability k / dropped
            j = rng.randrange(self.dropped)
            if j < k:
                self.samples[j] = sample

    def summary(self) -> dict[str, Any]:
        return {
            "filter": self.name,
            "seen": self.seen,
            "dropped": self.dropped,
            "kept": self.seen - self.dropped,
            "reasons": dict(self.reasons.most_common()),
        }


class FilterReport:
    """Counts and dropped samples for every stage; written as report.json + dropped/<stage>.jsonl."""

    def __init__(self, stages: list[str], dropped_samples: int, seed: int = 0):
        self.stages = {name: StageStats(name) for name in stages}
        self.k = dropped_samples
        self.rng = random.Random(seed)
        self.records_in = 0
        self.records_out = 0
        self.seconds = 0.0
        # Time to the first finished chunk (worker start-up, model loading) and the records it held: the rest of
        # the run is the steady state, which is what throughput at scale looks like.
        self.startup_s = 0.0
        self.startup_records = 0
        self.extra: dict[str, Any] = {}

    def drop(self, stage: str, reason: str, line_no: int, record: dict[str, Any] | None, raw: str | None) -> None:
        sample: dict[str, Any] = {"line": line_no, "reason": short(reason, 500)}
        if record is not None:
            sample["id"] = record.get("id")
            sample["record"] = record
        else:
            sample["raw"] = short(raw or "", 500)
        self.stages[stage].drop(reason, sample, self.k, self.rng)

    def mark_startup(self, elapsed: float) -> None:
        if not self.startup_records:
            self.startup_s, self.startup_records = elapsed, self.records_in

    def summary(self) -> dict[str, Any]:
        rate = self.records_in / self.seconds if self.seconds > 0 else None
        steady_s = self.seconds - self.startup_s
        steady_n = self.records_in - self.startup_records
        return {
            "records_in": self.records_in,
            "records_out": self.records_out,
            "seconds": round(self.seconds, 3),
            "records_per_s": None if rate is None else round(rate, 1),
            "startup_s": round(self.startup_s, 3),
            "steady_records_per_s": round(steady_n / steady_s, 1) if steady_n and steady_s > 0 else None,
            "stages": [s.summary() for s in self.stages.values()],
            **self.extra,
        }

    def write(self, out_dir: str | Path) -> None:
        out_dir = Path(out_dir)
        (out_dir / "dropped").mkdir(parents=True, exist_ok=True)
        (out_dir / "report.json").write_text(json.dumps(self.summary(), indent=2) + "\n", encoding="utf-8")
        for stats in self.stages.values():
            path = out_dir / "dropped" / f"{stats.name}.jsonl"
            with path.open("w", encoding="utf-8") as f:
                for sample in sorted(stats.samples, key=lambda s: s["line"]):
                    f.write(json.dumps(sample, ensure_ascii=False) + "\n")

    def table(self) -> str:
        """A plain-text summary for the terminal."""
        rows = [f"{'stage':<14}{'seen':>10}{'dropped':>10}  top reasons"]
        for s in self.stages.values():
            top = ", ".join(f"{k} {v}" for k, v in s.reasons.most_common(4))
            rows.append(f"{s.name:<14}{s.seen:>10}{s.dropped:>10}  {top}")
        rows.append(f"kept {self.records_out} of {self.records_in} records in {self.seconds:.1f} s")
        return "\n".join(rows)
