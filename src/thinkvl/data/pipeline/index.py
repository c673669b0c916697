"""Compact, append-only indexes for streaming de-duplication.

The de-duplication state must grow with the number of *kept* items only, and by a few bytes per key, not by a
Python object per key. `KeyIndex` keeps (key → item) pairs per band as sorted numpy runs: new pairs collect in
a small buffer, which is sorted into a run when full; runs of similar size are merged (a log-structured merge),
so inserting n items costs O(n log n) and a lookup is one binary search per run (O(log n) runs). Each pair costs
12 bytes (uint64 key + uint32 item).

>>> idx = KeyIndex(bands=2, buffer=2)
>>> for item, keys in enumerate([(1, 10), (2, 20), (3, 10), (1, 30)]):
...     idx.add(keys, item)
>>> idx.candidates((1, 99)).tolist(), idx.candidates((7, 10)).tolist()
([0, 3], [0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_BAND_STEP = 0x9E3779B97F4A7C15  # keys of band b are offset by b * this (mod 2^64): one sorted array for all bands
_MASK = (1 << 64) - 1


class KeyIndex:
    """Multi-band key → item index: ``candidates(keys)`` returns items sharing at least one band's key.

    All bands live in one sorted array per run (a key is tagged with its band by a fixed offset), so a lookup is
    two vectorised binary searches per run whatever the number of bands.
    """

    def __init__(self, bands: int, buffer: int = 4096):
        self.bands = bands
        self.buffer = buffer
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted uint64 tagged keys, uint32 items)
        self._pending: dict[int, list[int]] = {}
        self._pending_items = 0
        self._offsets = np.asarray([(b * _BAND_STEP) & _MASK for b in range(bands)], dtype=np.uint64)

    def _tagged(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.shape != (self.bands,):
            raise ValueError(f"expected {self.bands} band keys, got shape {keys.shape}")
        return keys + self._offsets  # wraps mod 2^64

    def add(self, keys: Sequence[int] | np.ndarray, item: int) -> None:
        for key in self._tagged(keys).tolist():
            self._pending.setdefault(key, []).append(item)
        self._pending_items += 1
        if self._pending_items >= self.buffer:
            self._flush()

    def candidates(self, keys: Sequence[int] | np.ndarray) -> np.ndarray:
        """Distinct items (uint32, ascending) that share at least one band's key with ``keys``."""
        probe = self._tagged(keys)
        pending = self._pending
        found = [np.asarray(pending[k], dtype=np.uint32) for k in probe.tolist() if k in pending]
        if self._runs:
            for run_keys, run_items in self._runs:
                lo = np.searchsorted(run_keys, probe, side="left")
                hi = np.searchsorted(run_keys, probe, side="right")
                for i in np.flatnonzero(hi > lo):
                    found.append(run_items[lo[i] : hi[i]])
        if not found:
            return np.empty(0, dtype=np.uint32)
        return np.unique(np.concatenate(found))

    def _flush(self) -> None:
        if not self._pending:
            return
        keys = np.fromiter((k for k, v in self._pending.items() for _ in v), dtype=np.uint64)
        items = np.fromiter((i for v in self._pending.values() for i in v), dtype=np.uint32)
        order = np.argsort(keys, kind="stable")
        runs = self._runs
        runs.append((keys[order], items[order]))
        while len(runs) >= 2 and len(runs[-2][0]) <= 2 * len(runs[-1][0]):
            (k2, i2), (k1, i1) = runs.pop(), runs.pop()
            k, i = np.concatenate([k1, k2]), np.concatenate([i1, i2])
            order = np.argsort(k, kind="stable")
            runs.append((k[order], i[order]))
        self._pending = {}
        self._pending_items = 0

    @property
    def nbytes(self) -> int:
        """Bytes held in sorted runs (the pending buffer is bounded by ``buffer`` items)."""
        return sum(k.nbytes + i.nbytes for k, i in self._runs)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Set bits per uint64."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(x)
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


class GrowingArray:
    """An append-only numpy array of fixed-shape rows (amortised doubling), e.g. kept MinHash signatures."""

    def __init__(self, row_shape: tuple[int, ...], dtype: np.dtype | type):
        self._data = np.empty((1024, *row_shape), dtype=dtype)
        self._n = 0

    def append(self, row: np.ndarray | int) -> int:
        if self._n == len(self._data):
            grown = np.empty((2 * len(self._data), *self._data.shape[1:]), dtype=self._data.dtype)
            grown[: self._n] = self._data
            self._data = grown
        self._data[self._n] = row
        self._n += 1
        return self._n - 1

    def __getitem__(self, i: int | np.ndarray) -> np.ndarray:
        return self._data[: self._n][i]

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        return self._data.nbytes
