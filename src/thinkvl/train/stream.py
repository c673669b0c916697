"""Training data at corpus scale: records streamed from their shards, encoded in DataLoader workers, packed on
the fly in a bounded buffer, split into data streams (one per process by default), resumable mid-epoch.

Order. Data stream ``s`` of ``S`` takes records ``s, s+S, s+2S, …`` of each epoch. Its W DataLoader workers take
turns (worker w encodes the stream's records w, w+W, …) and pad each epoch to the same count, so the DataLoader's
round robin hands the main process the stream's records in order. Packs therefore depend on the data, the
seed, ``S`` and ``pack_buffer``, never on the number of workers or processes.

Packing. A stream is cut into flushes of ``pack_buffer`` records. A flush is weighted (`oversample`), packed
first-fit-decreasing by `thinkvl.train.packing.pack` (the isolation guarantees live there and in
`collate_packed`) and its packs go out in a seeded permutation. When one flush holds a whole epoch this is
exactly the in-memory path — one `pack` over every sample, a fresh permutation per epoch — and later epochs
reuse the packs instead of re-encoding.

Resume. `PackStream.state_dict` is (epoch, first record of the current flush, packs of it handed out);
`load_state_dict` re-reads and re-encodes that flush — a reproducible reconstruction — and skips those packs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from thinkvl.data.loaders import DataError, Source, raw_rows, to_record
from thinkvl.data.record import RecordError
from thinkvl.train.packing import Overflow, PackingStats, pack
from thinkvl.train.samples import Sample, Skipped, Stage, build_sample

log = logging.getLogger(__name__)


def shard_order(source: Source, seed: int, epoch: int) -> list[str]:
    """The shards of one epoch, in a seeded order that changes every epoch."""
    shards = list(source.shards)
    if len(shards) > 1:
        random.Random(f"{seed}:shards:{epoch}").shuffle(shards)
    return shards


# ---------------------------------------------------------------------------------------------- workers


@dataclass
class Encoder:
    """Record → Sample in a DataLoader worker (inherited by fork: the model supplies only `get_rope_index`)."""

    root: Path
    processor: Any
    model: Any
    stage: Stage
    thinking: bool = True
    domains: Sequence[str] | None = None

    def __call__(self, where: str, raw: Any) -> tuple:
        name = where
        try:
            record = to_record(where, raw)
            name = record.id
            if self.domains and record.domain not in self.domains:
                return ("filtered",)
            sample = build_sample(record, self.root, self.processor, self.model, self.stage, thinking=self.thinking)
        except (RecordError, ValueError, OSError) as err:
            return ("skip", name, str(err))
        return ("sample", sample, record.domain)


class RecordStream(IterableDataset):
    """The encoded records of data stream ``stream`` from (epoch, start) on, forever, as
    ``(epoch, index, item)``; item is ("sample", Sample, domain), ("skip", id, error), ("filtered",), ("pad",),
    ("end",) after each epoch, or ("error", message) when a shard can't be read."""

    def __init__(
        self, source: Source, encoder: Encoder, *, stream: int, streams: int, seed: int, epoch: int, start: int
    ) -> None:
        self.source, self.encoder = source, encoder
        self.stream, self.streams, self.seed = stream, streams, seed
        self.epoch, self.start = epoch, start

    def __iter__(self) -> Iterator[tuple[int, int, tuple]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        epoch, start = self.epoch, self.start
        while True:
            seen = mine = 0  # this stream's records at index >= start; those this worker encoded
            try:
                for raw_index, (where, raw) in enumerate(
                    raw_rows(self.source, shard_order(self.source, self.seed, epoch))
                ):
                    if raw_index % self.streams != self.stream:
                        continue
                    index = raw_index // self.streams
                    if index < start:
                        continue
                    if seen % workers == worker:
                        yield epoch, index, self.encoder(where, raw)
                        mine += 1
                    seen += 1
            except DataError as err:
                yield epoch, -1, ("error", str(err))
                return
            for _ in range(-(-seen // workers) - mine):  # equal counts keep the round robin aligned
                yield epoch, -1, ("pad",)
            yield epoch, -1, ("end",)
            epoch, start = epoch + 1, 0


def _as_is(item: Any) -> Any:
    return item


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # encoding is per-record work; threads would only fight the trainer's


# ---------------------------------------------------------------------------------------------- packing


def check_domain_weights(weights: dict[str, float], present: Iterable[str]) -> None:
    unknown = sorted(set(weights) - set(present))
    if unknown:
        raise ValueError(f"domain_weights name domains with no samples: {unknown}; present: {sorted(set(present))}")


def oversample(
    samples: list[Sample],
    domain_of: dict[str, str],
    weights: dict[str, float],
    seed: int | str | None = None,
    *,
    rng: random.Random | None = None,
    check: bool = True,
) -> list[Sample]:
    """Draw each sample ``int(w) + Bernoulli(w - int(w))`` times, ``w`` its domain's weight: a larger share of the
    compute for the domains that learn slowest (and less for the easy ones), without duplicating files."""
    if check:
        check_domain_weights(weights, domain_of.values())
    rng = rng or random.Random(seed)
    out = []
    for sample in samples:
        weight = weights.get(domain_of[sample.id], 1.0)
        out.extend([sample] * (int(weight) + (rng.random() < weight - int(weight))))
    return out


def _seed64(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big") >> 1


@dataclass
class Flush:
    epoch: int
    start: int  # stream index of its first record
    last: bool  # it ends the epoch
    whole: bool  # it holds the whole epoch
    samples: list[tuple[Sample, str]]


class PackStream:
    """Packs of one data stream, forever (epochs end to end), with a data position to checkpoint."""

    def __init__(
        self,
        source: Source,
        encoder: Encoder,
        *,
        pack_len: int,
        overflow: Overflow = "truncate",
        buffer: int = 8192,
        seed: int = 0,
        stream: int = 0,
        streams: int = 1,
        num_workers: int = 0,
        domain_weights: dict[str, float] | None = None,
    ) -> None:
        self.source, self.encoder = source, encoder
        self.pack_len, self.overflow, self.buffer, self.seed = pack_len, overflow, buffer, seed
        self.stream, self.streams, self.num_workers = stream, streams, num_workers
        self.weights = domain_weights or {}
        self.position = {"epoch": 0, "start": 0, "emitted": 0}
        self.stats = PackingStats()
        self.skipped = Skipped()
        self.filtered = 0  # records outside `Encoder.domains` (counted to tell "no data" from "no wanted data")
        self.domains_seen: set[str] = set()
        self._first = (0, 0)  # where this run started reading: records before it come round again next epoch
        self._loader: Any = None

    # -- data position ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**self.position, "stream": self.stream, "streams": self.streams, "buffer": self.buffer}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key in ("stream", "streams", "buffer"):
            if state.get(key) != getattr(self, key):
                raise ValueError(
                    f"the checkpoint's data position is for {key}={state.get(key)}, this run has "
                    f"{getattr(self, key)}: resume with the same data_shards and pack_buffer"
                )
        self.position = {k: int(state[k]) for k in ("epoch", "start", "emitted")}

    # -- packs --------------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[list[Sample]]:
        epoch, start, skip = self.position["epoch"], self.position["start"], self.position["emitted"]
        self._first = (epoch, start)
        epoch_packs, full_epoch = 0, start == 0
        for flush in self._flushes(epoch, start):
            packs = self._pack(flush)
            epoch_packs += len(packs)
            if flush.last:
                if full_epoch and not epoch_packs:
                    why = self.skipped.describe() if self.skipped else "it holds no records (empty)"
                    if self.filtered and not self.skipped:
                        why = f"none of its {self.filtered} record(s) is in the domains trained on (check domains)"
                    if self.stats.dropped and not self.skipped:
                        why = (
                            f"every sample is longer than pack_len {self.pack_len} and overflow is 'drop': raise "
                            "pack_len or use overflow: truncate"
                        )
                    raise ValueError(f"no usable sample in {self._name()} (epoch {flush.epoch}): {why}")
                epoch_packs, full_epoch = 0, True
            if flush.whole:  # the whole epoch fits the buffer: the in-memory path from here on
                self.close()
                yield from self._cached(packs, flush.epoch, skip)
                return
            order = self._order(len(packs), flush)
            for j in range(skip, len(packs)):
                self.position = {"epoch": flush.epoch, "start": flush.start, "emitted": j + 1}
                yield packs[order[j]]
            skip = 0

    def _cached(self, packs: list[list[Sample]], epoch: int, skip: int) -> Iterator[list[Sample]]:
        """Every epoch the same packs (nothing re-encoded) in that epoch's permutation."""
        while True:
            order = self._order(len(packs), Flush(epoch, 0, True, True, []))
            for j in range(skip, len(packs)):
                self.position = {"epoch": epoch, "start": 0, "emitted": j + 1}
                yield packs[order[j]]
            epoch, skip = epoch + 1, 0

    def _name(self) -> str:
        where = ", ".join(self.source.shards[:2]) + (" …" if len(self.source.shards) > 2 else "")
        return where if self.streams == 1 else f"data stream {self.stream} of {self.streams} ({where})"

    def _pack(self, flush: Flush) -> list[list[Sample]]:
        samples = [s for s, _ in flush.samples]
        domain_of = {s.id: d for s, d in flush.samples}
        self.domains_seen.update(domain_of.values())
        if self.weights and samples:
            if flush.whole:  # drawn once, like the in-memory path: every epoch gets these packs
                rng = random.Random(self.seed) if self.stream == 0 else random.Random(f"{self.seed}:{self.stream}")
            else:
                rng = random.Random(f"{self.seed}:{self.stream}:{flush.epoch}:{flush.start}")
            samples = oversample(samples, domain_of, self.weights, rng=rng, check=flush.whole)
        packs, stats = pack(samples, self.pack_len, self.overflow)
        for key in ("samples", "packs", "truncated", "dropped", "real_tokens", "slot_tokens"):
            setattr(self.stats, key, getattr(self.stats, key) + getattr(stats, key))
        return packs

    def _order(self, n: int, flush: Flush) -> list[int]:
        """The in-memory path's permutation for a whole epoch; a flush-specific one otherwise."""
        if flush.whole:
            seed = self.seed * 100_003 + flush.epoch + 1_000_000_007 * self.stream
        else:
            seed = _seed64(self.seed, self.stream, flush.epoch, flush.start)
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()

    def _flushes(self, epoch: int, start: int) -> Iterator[Flush]:
        dataset = RecordStream(
            self.source,
            self.encoder,
            stream=self.stream,
            streams=self.streams,
            seed=self.seed,
            epoch=epoch,
            start=start,
        )
        self._loader = iter(
            DataLoader(
                dataset,
                batch_size=None,
                num_workers=self.num_workers,
                collate_fn=_as_is,
                worker_init_fn=_worker_init if self.num_workers else None,
            )
        )
        flush = Flush(epoch, start, False, False, [])
        for ep, index, item in self._loader:
            kind = item[0]
            if kind == "error":
                raise DataError(item[1])
            if kind == "pad" or ep < flush.epoch:  # pads, and the other workers' end markers
                continue
            if kind == "end":
                flush.last, flush.whole = True, flush.start == 0
                yield flush
                if ep == 0 and self.weights and not flush.whole:
                    missing = sorted(set(self.weights) - self.domains_seen)
                    if missing:
                        log.warning("domain_weights name domains not seen in data stream %d: %s", self.stream, missing)
                flush = Flush(ep + 1, 0, False, False, [])
                continue
            if kind == "sample":
                sample = item[1] if not self.num_workers else _own_memory(item[1])
                flush.samples.append((sample, item[2]))
            elif kind == "skip" and self._first_pass(ep, index):
                self.skipped.add(item[1], item[2])
            elif kind == "filtered":
                self.filtered += 1
            if index == flush.start + self.buffer - 1:
                yield flush
                flush = Flush(ep, index + 1, False, False, [])

    def _first_pass(self, epoch: int, index: int) -> bool:
        """Whether this run meets record ``index`` for the first time: a bad record is counted once, not once per
        epoch."""
        first_epoch, first_start = self._first
        return epoch == first_epoch or (epoch == first_epoch + 1 and index < first_start)

    def close(self) -> None:
        """Stop the DataLoader workers."""
        loader, self._loader = self._loader, None
        if loader is not None and hasattr(loader, "_shutdown_workers"):
            loader._shutdown_workers()


def _own_memory(sample: Sample) -> Sample:
    """A sample from a worker, copied out of shared memory. Each shared tensor holds a file descriptor for as long
    as it lives, and a buffer (or a whole cached epoch) holds thousands of them: the demo's pre-training ran out
    of descriptors ("Too many open files") before copying."""
    tensors = {
        f.name: value.clone()
        for f in dataclasses.fields(sample)
        if isinstance(value := getattr(sample, f.name), torch.Tensor) and value.is_shared()
    }
    return dataclasses.replace(sample, **tensors) if tensors else sample
