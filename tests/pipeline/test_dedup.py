"""De-duplication: hashes, MinHash estimates, and the streaming index against brute force."""

from __future__ import annotations

import itertools
import random

import numpy as np
from PIL import Image
from pipeline_testdata import scene_image

from thinkvl.data.pipeline.config import DedupConfig
from thinkvl.data.pipeline.dedup import DedupIndex, DedupKeys
from thinkvl.data.pipeline.hashing import MinHasher, dhash, hamming, phash, split_bits
from thinkvl.data.pipeline.index import KeyIndex


def variants(img: Image.Image) -> list[Image.Image]:
    import io

    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=60)
    shifted = Image.new("RGB", img.size)
    shifted.paste(img, (1, 1))
    w, h = img.size
    return [
        Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
        img.resize((w * 3 // 4, h * 3 // 4)),
        img.resize((w * 2, h * 2)),
        shifted,
        img.crop((3, 2, w, h)).resize((w, h)),
    ]


def test_perceptual_hashes_match_variants_and_separate_distinct_images() -> None:
    images = [scene_image(i) for i in range(60)]
    limit = DedupConfig().image_max_hamming
    for fn in (phash, dhash):
        dist = np.array([[hamming(fn(img), fn(v)) for v in variants(img)] for img in images])
        assert dist[:, :3].max() <= 4, fn.__name__  # re-encoded, shrunk, enlarged: a few bits at most
        assert (dist[:, 3:] <= limit).mean() >= 0.85, fn.__name__  # moved a pixel, re-framed by 3%: mostly
    distinct = [hamming(phash(a), phash(b)) for a, b in itertools.combinations(images, 2)]
    assert min(distinct) > limit


def test_split_bits_pigeonhole() -> None:
    rng = random.Random(0)
    for _ in range(200):
        h = rng.getrandbits(64)
        flips = rng.sample(range(64), rng.randint(0, 6))
        g = h
        for bit in flips:
            g ^= 1 << bit
        assert any(a == b for a, b in zip(split_bits(h, 7), split_bits(g, 7), strict=True))


def test_minhash_estimates_jaccard() -> None:
    m = MinHasher(num_perm=256, ngram=3, shingle="word")
    rng = random.Random(1)
    vocab = [f"w{i}" for i in range(400)]
    for _ in range(20):
        a = [rng.choice(vocab) for _ in range(60)]
        b = a[:]
        for _ in range(rng.randint(0, 30)):
            b[rng.randrange(len(b))] = rng.choice(vocab)
        sa, sb = m.shingles(" ".join(a)), m.shingles(" ".join(b))
        true = len(sa & sb) / len(sa | sb)
        est = float((m.signature(" ".join(a)) == m.signature(" ".join(b))).mean())
        assert abs(est - true) < 0.12, (est, true)


def test_key_index_finds_what_a_scan_finds() -> None:
    rng = np.random.default_rng(0)
    idx = KeyIndex(bands=3, buffer=16)  # small buffer: many sorted runs and merges
    stored = []
    for item in range(500):
        keys = rng.integers(0, 50, 3).tolist()
        idx.add(keys, item)
        stored.append(keys)
        if item % 37 == 0:
            probe = rng.integers(0, 50, 3).tolist()
            expect = [i for i, k in enumerate(stored) if any(a == b for a, b in zip(k, probe, strict=True))]
            assert idx.candidates(probe).tolist() == expect


def test_index_decisions_equal_brute_force() -> None:
    """Streaming decisions equal an O(n^2) scan over everything kept so far, on planted near-duplicates."""
    cfg = DedupConfig(image_max_hamming=6, text_threshold=0.7, num_perm=64, bands=16, shingle="word", ngram=2)
    index = DedupIndex(cfg)
    mh = MinHasher(cfg.num_perm, cfg.ngram, cfg.shingle, cfg.bands, cfg.seed)
    rng = random.Random(3)
    kept: list[tuple[int, np.ndarray]] = []
    base_texts = [" ".join(f"t{rng.randrange(10_000)}" for _ in range(12)) for _ in range(40)]
    hashes = [rng.getrandbits(64) for _ in range(40)]
    n_dups = 0
    for i in range(400):
        j = rng.randrange(40)
        h = hashes[j] if rng.random() < 0.5 else rng.getrandbits(64)
        for bit in rng.sample(range(64), rng.randint(0, 9)):
            h ^= 1 << bit
        words = base_texts[j].split() if rng.random() < 0.5 else [f"u{rng.randrange(10_000)}" for _ in range(12)]
        for _ in range(rng.randint(0, 3)):
            words[rng.randrange(12)] = f"x{rng.randrange(10_000)}"
        sig = mh.signature(" ".join(words))
        keys = DedupKeys(id_key=i, image_hash=h, minhash=sig)
        near_image = any(hamming(h, k) <= 6 for k, _ in kept)
        near_text = any((sig == s).mean() >= 0.7 for _, s in kept)
        reason = index.admit(f"r{i}", keys)
        # LSH can miss a pair whose estimate passes (it only finds pairs sharing a band), never invent one.
        if reason is None:
            assert not near_image
            kept.append((h, sig))
        else:
            n_dups += 1
            assert near_image or near_text
    assert n_dups > 100 and len(kept) == len(index.kept_ids)


def test_keys_survive_json() -> None:
    keys = DedupKeys(
        id_key=2**64 - 1, file_key=2**63 + 5, image_hash=12345, text_key=None, minhash=np.arange(8, dtype=np.uint32)
    )
    back = DedupKeys.from_json(keys.to_json())
    assert back.id_key == keys.id_key and back.file_key == keys.file_key and back.image_hash == 12345
    assert back.text_key is None and back.minhash.tolist() == list(range(8))
