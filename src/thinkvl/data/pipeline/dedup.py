"""De-duplication across the whole dataset: exact and near-duplicate images and texts, streaming.

Split in two so it scales: `dedup_keys` (pure, runs in any worker process or Ray task) reads the file bytes,
decodes the image and computes hashes and the MinHash signature; `DedupIndex.admit` (stateful, one per run, in
input order) keeps the first record of each duplicate group and remembers only what later records are compared
against — 64-bit keys, the kept images' perceptual hashes and the kept texts' signatures — in compact numpy
indexes (`thinkvl.data.pipeline.index`), never the raw data.

Near-duplicate lookup:
- images: a 64-bit perceptual hash within ``image_max_hamming`` bits; split into ``image_max_hamming + 1`` bit
  ranges, two such hashes agree exactly on at least one range (pigeonhole), so candidates come from exact
  lookups and are confirmed by the true Hamming distance;
- texts: MinHash LSH (bands of rows); candidates are confirmed by the estimated Jaccard similarity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from thinkvl.data.pipeline.base import Reason, Sample
from thinkvl.data.pipeline.config import DedupConfig
from thinkvl.data.pipeline.hashing import MinHasher, bytes_key, dhash, phash, split_bits, text_key
from thinkvl.data.pipeline.index import GrowingArray, KeyIndex, popcount64


@dataclass
class DedupKeys:
    """What the index needs from one record; small and JSON-able (for Ray)."""

    id_key: int
    file_key: int | None = None
    image_hash: int | None = None
    text_key: int | None = None
    minhash: np.ndarray | None = None  # uint32[num_perm]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id_key": str(self.id_key)}
        for name in ("file_key", "image_hash", "text_key"):
            value = getattr(self, name)
            out[name] = None if value is None else str(value)  # 64-bit ints don't survive JSON doubles
        out["minhash"] = None if self.minhash is None else self.minhash.tolist()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DedupKeys:
        def num(v: Any) -> int | None:
            return None if v is None else int(v)

        mh = data.get("minhash")
        return cls(
            id_key=int(data["id_key"]),
            file_key=num(data.get("file_key")),
            image_hash=num(data.get("image_hash")),
            text_key=num(data.get("text_key")),
            minhash=None if mh is None else np.asarray(mh, dtype=np.uint32),
        )


class DedupKeyer:
    """Computes `DedupKeys` for samples; stateless, safe to run in parallel."""

    name = "dedup"

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.minhasher = MinHasher(cfg.num_perm, cfg.ngram, cfg.shingle, cfg.bands, cfg.seed)
        self._hash = phash if cfg.image_hash == "phash" else dhash

    def keys(self, sample: Sample) -> DedupKeys | str:
        """The keys of one record, or a drop reason when what must be compared can't be read."""
        keys = DedupKeys(id_key=bytes_key(sample.record.id.encode()))
        if self.cfg.images and sample.media_paths:
            path = sample.image_path()
            assert path is not None
            try:
                keys.file_key = bytes_key(path.read_bytes())
                keys.image_hash = self._hash(sample.image())
            except (OSError, ValueError) as err:
                return str(err) if isinstance(err, ValueError) else f"missing_image: {err}"
        if self.cfg.texts:
            try:
                text = sample.text()
            except ValueError as err:
                return str(err)
            keys.text_key = text_key(text)
            keys.minhash = self.minhasher.signature(text)
        return keys


class DedupIndex:
    """Keeps the first of each duplicate group, in the order records are admitted."""

    name = "dedup"

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg
        self.minhasher = MinHasher(cfg.num_perm, cfg.ngram, cfg.shingle, cfg.bands, cfg.seed)
        self.kept_ids: list[str] = []  # for reasons that name the record a duplicate duplicates
        self._ids = KeyIndex(1)
        self._files = KeyIndex(1)
        self._image_bands = cfg.image_max_hamming + 1
        self._images = KeyIndex(self._image_bands)
        self._image_hashes = GrowingArray((), np.uint64)
        self._image_owner = GrowingArray((), np.uint32)  # image slot → kept item
        self._texts = KeyIndex(1)
        self._text_lsh = KeyIndex(cfg.bands)
        self._signatures = GrowingArray((cfg.num_perm,), np.uint32)
        self._text_owner = GrowingArray((), np.uint32)

    def admit(self, record_id: str, keys: DedupKeys) -> Reason:
        """None if the record is new (it is then remembered), else why it is a duplicate."""
        reason = self._duplicate(keys)
        if reason is None:
            self._remember(record_id, keys)
        return reason

    def _of(self, item: int) -> str:
        return repr(self.kept_ids[item])

    def _duplicate(self, keys: DedupKeys) -> Reason:
        if self.cfg.ids and len(hit := self._ids.candidates((keys.id_key,))):
            return f"duplicate_id: id already kept as item {int(hit[0])}"
        if keys.file_key is not None and len(hit := self._files.candidates((keys.file_key,))):
            return f"exact_image: same image bytes as {self._of(int(hit[0]))}"
        if keys.image_hash is not None:
            best = self._nearest_image(keys.image_hash)
            if best is not None:
                item, dist = best
                return f"near_image: {self.cfg.image_hash} within {dist} bits of {self._of(item)}"
        if keys.text_key is not None and len(hit := self._texts.candidates((keys.text_key,))):
            return f"exact_text: same normalised text as {self._of(int(hit[0]))}"
        if keys.minhash is not None:
            best_text = self._nearest_text(keys.minhash)
            if best_text is not None:
                item, sim = best_text
                return f"near_text: MinHash Jaccard ~{sim:.2f} with {self._of(item)}"
        return None

    def _nearest_image(self, h: int) -> tuple[int, int] | None:
        idx = self._images.candidates(split_bits(h, self._image_bands))
        if not len(idx):
            return None
        dists = popcount64(self._image_hashes[idx] ^ np.uint64(h))
        ok = np.flatnonzero(dists <= self.cfg.image_max_hamming)
        if not len(ok):
            return None
        j = ok[np.argmin(dists[ok])]
        return int(self._image_owner[int(idx[j])]), int(dists[j])

    def _nearest_text(self, sig: np.ndarray) -> tuple[int, float] | None:
        idx = self._text_lsh.candidates(self.minhasher.band_keys(sig))
        if not len(idx):
            return None
        sims = (self._signatures[idx] == sig[None, :]).mean(axis=1)
        j = int(np.argmax(sims))
        if sims[j] < self.cfg.text_threshold:
            return None
        return int(self._text_owner[int(idx[j])]), float(sims[j])

    def _remember(self, record_id: str, keys: DedupKeys) -> None:
        item = len(self.kept_ids)
        self.kept_ids.append(record_id)
        if self.cfg.ids:
            self._ids.add((keys.id_key,), item)
        if keys.file_key is not None:
            self._files.add((keys.file_key,), item)
        if keys.image_hash is not None:
            slot = self._image_hashes.append(keys.image_hash)
            self._image_owner.append(item)
            self._images.add(split_bits(keys.image_hash, self._image_bands), slot)
        if keys.text_key is not None:
            self._texts.add((keys.text_key,), item)
        if keys.minhash is not None:
            slot = self._signatures.append(keys.minhash)
            self._text_owner.append(item)
            self._text_lsh.add(self.minhasher.band_keys(keys.minhash), slot)

    @property
    def nbytes(self) -> int:
        """Approximate bytes of index state (numpy parts; kept ids are Python strings on top)."""
        parts = (self._ids, self._files, self._images, self._texts, self._text_lsh)
        arrays = (self._image_hashes, self._image_owner, self._signatures, self._text_owner)
        return sum(p.nbytes for p in parts) + sum(a.nbytes for a in arrays)
