"""Perceptual image hashes and MinHash text signatures, in numpy.

- ``phash``: DCT of a 32x32 grey thumbnail, low 8x8 frequencies compared to their median. Survives
  re-encoding, resizing and small shifts (they change high frequencies, not the coarse layout).
- ``dhash``: signs of horizontal gradients on a 9x8 thumbnail; cheaper, a little less robust.
- ``MinHasher``: MinHash over character or word shingles of normalised text; permutation i is the splitmix64
  finaliser of ``crc32(shingle) ^ seed_i`` (a strong 64-bit mixer; a linear ``a*x + b mod p`` with 32-bit keys
  barely wraps and gives correlated permutations). A small numpy implementation instead of ``datasketch``: the
  signature is an array we store in our own compact index, and the pipeline gains no dependency for ~40 lines.

>>> m = MinHasher(num_perm=128, ngram=5)
>>> a = m.signature("A red circle on a white background")
>>> b = m.signature("a red circle on a white background!")
>>> float((a == b).mean())
1.0
>>> c = m.signature("A red circle on a grey background")
>>> 0.3 < float((a == c).mean()) < 0.9
True
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from functools import lru_cache

import numpy as np
from PIL import Image

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=4)
def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.astype(np.uint8).ravel()).tobytes(), "big")


def phash(img: Image.Image) -> int:
    """64-bit DCT perceptual hash."""
    grey = np.asarray(img.convert("L").resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    d = _dct_matrix(32)
    low = (d @ grey @ d.T)[:8, :8].ravel()
    return _bits_to_int(low > np.median(low[1:]))  # the DC term would dominate the median


def dhash(img: Image.Image) -> int:
    """64-bit difference hash."""
    grey = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int16)
    return _bits_to_int(grey[:, 1:] > grey[:, :-1])


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def normalise_text(text: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed: what 'the same text' means here."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def text_key(text: str) -> int:
    """64-bit key of the normalised text (exact text duplicates)."""
    return int.from_bytes(_blake(normalise_text(text).encode()), "big")


def _blake(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=8).digest()


def bytes_key(data: bytes) -> int:
    """64-bit content key (exact file duplicates, ids)."""
    return int.from_bytes(_blake(data), "big")


class MinHasher:
    """MinHash signatures (uint32 per permutation) and their LSH band keys."""

    def __init__(self, num_perm: int = 128, ngram: int = 5, shingle: str = "char", bands: int = 16, seed: int = 0):
        if num_perm % bands:
            raise ValueError(f"bands ({bands}) must divide num_perm ({num_perm})")
        rng = np.random.default_rng(seed)
        self.seeds = rng.integers(0, 1 << 63, num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.band_mult = rng.integers(1, 1 << 63, num_perm, dtype=np.uint64) | np.uint64(1)
        self.num_perm, self.ngram, self.shingle, self.bands = num_perm, ngram, shingle, bands

    def shingles(self, text: str) -> set[str]:
        norm = normalise_text(text)
        if self.shingle == "word":
            toks = norm.split()
            grams = [" ".join(toks[i : i + self.ngram]) for i in range(max(1, len(toks) - self.ngram + 1))]
        else:
            grams = [norm[i : i + self.ngram] for i in range(max(1, len(norm) - self.ngram + 1))]
        return {g for g in grams if g}

    def signature(self, text: str) -> np.ndarray:
        """uint32[num_perm]; an empty text gets all-max (it matches only other empty texts)."""
        grams = self.shingles(text)
        if not grams:
            return np.full(self.num_perm, 0xFFFFFFFF, dtype=np.uint32)
        x = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))
        z = self.seeds[:, None] ^ x[None, :]  # [num_perm, shingles]; uint64 arithmetic wraps, as intended
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        z ^= z >> np.uint64(31)
        return (z.min(axis=1) >> np.uint64(32)).astype(np.uint32)

    def band_keys(self, sig: np.ndarray) -> np.ndarray:
        """uint64[bands]: one key per band of rows; equal bands give equal keys."""
        rows = self.num_perm // self.bands
        prod = sig.astype(np.uint64) * self.band_mult  # wraps mod 2^64, as intended
        return prod.reshape(self.bands, rows).sum(axis=1, dtype=np.uint64)


@lru_cache(maxsize=16)
def _bit_ranges(parts: int) -> tuple[tuple[int, int], ...]:
    edges = np.linspace(0, 64, parts + 1).astype(int).tolist()
    return tuple((lo, (1 << (hi - lo)) - 1) for lo, hi in zip(edges[:-1], edges[1:], strict=True))


def split_bits(h: int, parts: int) -> list[int]:
    """Split a 64-bit hash into ``parts`` bit ranges; if two hashes differ in < parts bits, one range is equal."""
    return [(h >> lo) & mask for lo, mask in _bit_ranges(parts)]
