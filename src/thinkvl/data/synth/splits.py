"""Content identity of records, so that splits can be made and checked disjoint by what a model sees.

Two records are the same item when their pixels (every image or video frame, decoded), question text and answer
are equal: a different id, seed or file encoding does not make a held-out item new. Seeds alone guarantee nothing
(small generator spaces repeat items across seeds), so the writer excludes by these keys and the demo reports them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from thinkvl.data.record import Record, open_image


def content_key(pictures: Sequence[Image.Image], question: str, answer: Any) -> str:
    """SHA-256 of the decoded pixels (size and RGB bytes of each picture, in order), the question and the answer."""
    h = hashlib.sha256()
    for picture in pictures:
        rgb = picture.convert("RGB")
        h.update(f"{rgb.width}x{rgb.height}:".encode())
        h.update(rgb.tobytes())
    h.update(b"\x00question:" + question.encode())
    h.update(b"\x00answer:" + json.dumps(answer, sort_keys=True).encode())
    return h.hexdigest()


def record_key(record: Record, root: str | Path) -> str:
    """The content key of a record whose media files lie under ``root``."""
    pictures = [open_image(Path(root) / rel) for _, rel in record.media()]
    return content_key(pictures, record.question, record.answer)


def dataset_keys(path: str | Path) -> dict[str, str]:
    """Record id -> content key for every record of the dataset at ``path``.

    Cached per records file (path, size, modification time): the demo compares its held-out set and RL pool with
    the same training set four times, and hashing its 14,000 decoded images once is enough. The writer replaces
    records.jsonl last, so a rewritten dataset is hashed again."""
    from thinkvl.data.loaders import resolve_source

    stats = [(shard, Path(shard).stat()) for shard in resolve_source(path).shards]
    stamp = tuple((str(Path(shard).resolve()), st.st_size, st.st_mtime_ns) for shard, st in stats)
    return dict(_cached_keys(str(path), stamp))


@functools.lru_cache(maxsize=8)
def _cached_keys(path: str, _stamp: tuple) -> tuple[tuple[str, str], ...]:
    from thinkvl.data.loaders import load_records

    dataset = load_records(path)
    return tuple((r.id, record_key(r, dataset.root)) for r in dataset.records)


def split_stats(path: str | Path, reference: str | Path | Iterable[str | Path]) -> dict[str, dict[str, Any]]:
    """Per domain (and ``"all"``) of the dataset at ``path``, compared with the reference dataset(s) (training):
    items, distinct items, items identical to a reference item, and the share of items whose answer also occurs
    as an answer in the reference (expected for small answer sets such as colours; reported, not hidden)."""
    from thinkvl.data.loaders import load_records

    refs = [reference] if isinstance(reference, (str, Path)) else list(reference)
    ref_keys: set[str] = set()
    ref_answers: dict[str, set[str]] = {}
    for ref in refs:
        ref_keys |= set(dataset_keys(ref).values())
        for r in load_records(ref).records:
            ref_answers.setdefault(r.domain, set()).add(json.dumps(r.answer, sort_keys=True))
    keys = dataset_keys(path)
    rows: dict[str, list[tuple[str, bool]]] = {}
    for r in load_records(path).records:
        answer_seen = json.dumps(r.answer, sort_keys=True) in ref_answers.get(r.domain, set())
        rows.setdefault(r.domain, []).append((keys[r.id], answer_seen))
    rows = dict(sorted(rows.items()))
    rows["all"] = [row for domain_rows in list(rows.values()) for row in domain_rows]
    out = {}
    for domain, items in rows.items():
        counts = Counter(k for k, _ in items)
        out[domain] = {
            "items": len(items),
            "distinct": len(counts),
            "identical_to_reference": sum(k in ref_keys for k, _ in items),
            "answers_in_reference": sum(seen for _, seen in items) / len(items) if items else 0.0,
        }
    return out


def format_split_stats(name: str, stats: dict[str, dict[str, Any]]) -> str:
    """A markdown table of `split_stats` for the log and the report."""
    lines = [
        f"| {name} | items | distinct | identical to a training item | answers also in training |",
        "|---|---|---|---|---|",
    ]
    for domain, row in stats.items():
        lines.append(
            f"| {domain} | {row['items']} | {row['distinct']} | {row['identical_to_reference']} "
            f"| {row['answers_in_reference']:.0%} |"
        )
    return "\n".join(lines)
