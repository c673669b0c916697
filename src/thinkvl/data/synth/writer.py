"""Write a synthetic dataset: image files plus ``records.jsonl`` (paths relative to the dataset directory).

``n`` is per domain, spread over the chosen levels in turn (record i of a domain is at levels[i % len(levels)]);
levels may be one list for every domain or a mapping from domain to its own list. Records are interleaved across
domains (slot 0 of every domain, then slot 1, ...): a reader that streams the file in order, as the training loader
does with a bounded buffer, sees every domain from the start instead of one domain after another.
records.jsonl is written last, to a temporary file then renamed, and any earlier one is removed first: a run
that dies part-way leaves no records.jsonl, never one that looks complete but points at half-written images.

No two records of a dataset are the same item (pixels + question + answer, `splits.content_key`), and
``exclude`` names datasets whose items must not occur at all (training, when writing a held-out set): a slot
whose item is taken is re-drawn (``attempt`` 1, 2, ... of the same slot: deterministic, same answer class), so the
dataset still has exactly ``n`` records per domain.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from rich.progress import track

from thinkvl.data.loaders import RECORDS_FILE, write_jsonl
from thinkvl.data.record import Record
from thinkvl.data.synth.base import Sample
from thinkvl.data.synth.registry import FAMILIES, family, generate, record_id, to_record
from thinkvl.data.synth.splits import content_key, dataset_keys

Levels = Sequence[int] | Mapping[str, Sequence[int]] | None
MAX_ATTEMPTS = 200  # re-draws of one slot before giving up: only a level with a tiny space ever gets near it


def plan(domains: Sequence[str] | None, n: int, levels: Levels) -> list[tuple[str, int, int]]:
    """(domain, level, slot) of every record to make, checking the request first.

    ``levels``: None for all of each domain's levels, one list for every domain, or ``{domain: list}`` (a domain
    missing from the mapping gets all its levels)."""
    if n < 1:
        raise ValueError(f"n (records per domain) must be >= 1, got {n}")
    domains = list(domains) if domains else list(FAMILIES)
    if len(set(domains)) != len(domains):
        raise ValueError(f"a domain is listed twice: {domains}")
    if isinstance(levels, Mapping):
        unknown = sorted(set(levels) - set(domains))
        if unknown:
            raise ValueError(f"levels given for domain(s) not asked for: {unknown}")
        per_domain = {d: levels.get(d) for d in domains}
    else:
        per_domain = {d: levels for d in domains}
    per_domain_jobs: dict[str, list[tuple[str, int, int]]] = {}
    for domain in domains:
        available = len(family(domain).levels)
        mine = per_domain[domain]
        if mine is not None and not mine:
            raise ValueError(f"levels of domain {domain!r} must not be empty")
        chosen = sorted(set(mine)) if mine is not None else list(range(available))
        bad = [lv for lv in chosen if not 0 <= lv < available]
        if bad:
            raise ValueError(f"domain {domain!r} has levels 0–{available - 1}; asked for {bad}")
        per_domain_jobs[domain] = [(domain, chosen[i % len(chosen)], i // len(chosen)) for i in range(n)]
    return [per_domain_jobs[domain][i] for i in range(n) for domain in domains]


def _media_paths(domain: str, level: int, slot: int, frames: int) -> list[str]:
    rid = record_id(domain, level, slot)
    if frames:
        return [f"videos/{rid}/{k:02d}.png" for k in range(frames)]
    return [f"images/{rid}.png"]


def draw_samples(
    jobs: Sequence[tuple[str, int, int]], seed: int, taken: set[str] | None = None, progress: bool = False
) -> Iterator[tuple[tuple[str, int, int], Sample, str]]:
    """(job, sample, content key) of each job, in order, re-drawing a slot while its item is in ``taken``.

    ``taken`` holds the content keys no sample may have (the excluded datasets'); each sample's key is added to it,
    so the samples never repeat an item either."""
    taken = set() if taken is None else taken
    for job in track(jobs, description="synthesising", disable=not progress):
        domain, level, slot = job
        for attempt in range(MAX_ATTEMPTS):
            sample = generate(domain, level, slot, seed, attempt)
            key = content_key(sample.frames or [sample.image], sample.question, sample.answer)
            if key not in taken:
                break
        else:
            raise ValueError(
                f"{domain} level {level}, slot {slot}: all {MAX_ATTEMPTS} re-draws are taken (by an excluded "
                "dataset or this one); the level's space is too small for this request"
            )
        taken.add(key)
        if attempt:
            sample.meta["redraw"] = attempt
        yield job, sample, key


def iter_records(
    out_dir: str | Path,
    jobs: Sequence[tuple[str, int, int]],
    seed: int,
    progress: bool = False,
    taken: set[str] | None = None,
) -> Iterator[Record]:
    """Draw each job (see `draw_samples`), save its pixels under ``out_dir`` and yield its record."""
    root = Path(out_dir)
    for (domain, level, slot), sample, _key in draw_samples(jobs, seed, taken, progress):
        pictures = sample.frames or [sample.image]
        paths = _media_paths(domain, level, slot, len(sample.frames))
        for rel, picture in zip(paths, pictures):
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            picture.save(target, format="PNG", compress_level=1)
        yield to_record(sample, domain, level, slot, paths)


def write_dataset(
    out_dir: str | Path,
    domains: Sequence[str] | None = None,
    n: int = 100,
    seed: int = 0,
    levels: Levels = None,
    progress: bool = False,
    exclude: Sequence[str | Path] = (),
) -> list[Record]:
    """Write ``n`` records per domain (all domains and all levels by default) to ``out_dir``; return them.

    No record is the same item as a record of a dataset in ``exclude`` (directories or records files), nor as
    another record written here."""
    jobs = plan(domains, n, levels)
    root = Path(out_dir)
    taken: set[str] = set()
    for other in exclude:
        if Path(other).resolve() == root.resolve():
            raise ValueError(f"cannot exclude the dataset being written: {other}")
        taken |= set(dataset_keys(other).values())
    root.mkdir(parents=True, exist_ok=True)
    final = root / RECORDS_FILE
    final.unlink(missing_ok=True)
    records = list(iter_records(root, jobs, seed, progress, taken))
    write_jsonl(records, final)  # temp file + os.replace
    return records
