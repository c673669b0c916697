"""Small datasets made on the spot with Pillow: clean pairs plus every kind of bad and duplicated record."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (40, 60, 220),
    "yellow": (235, 215, 40),
    "purple": (140, 40, 170),
    "orange": (245, 140, 20),
}
SHAPES = ("circle", "square", "triangle")
NOUNS = "dog cat boat house tree car bird horse bridge tower lamp chair river mountain garden street".split()
PLACES = "park beach city forest kitchen harbour village desert field market station library".split()
ADJ = "old small bright quiet busy wooden tall narrow sunny snowy rusty modern".split()


def shape_image(colour: str, shape: str, size: int, rng: random.Random, background=(255, 255, 255)) -> Image.Image:
    """One coloured shape, random position and size, on a plain background."""
    img = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(img)
    r = rng.randint(size // 5, size // 3)
    cx, cy = rng.randint(r, size - r - 1), rng.randint(r, size - r - 1)
    fill = COLOURS[colour]
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return img


def scene_image(seed: int, size: tuple[int, int] = (96, 96)) -> Image.Image:
    """A distinct busy picture: a random gradient and random shapes (stands in for a web photo)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.zeros((h, w, 3))
    for c in range(3):
        a, b, d = rng.uniform(-2, 2, 3)
        base[..., c] = 128 + 100 * np.sin(a * xx / w * 3 + b * yy / h * 3 + d)
    img = Image.fromarray(base.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, max(1, w - 10))), int(rng.integers(0, max(1, h - 10)))
        x1, y1 = x0 + int(rng.integers(2, max(3, w // 2))), y0 + int(rng.integers(2, max(3, h // 2)))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    return img


def scene_caption(seed: int) -> str:
    rng = random.Random(seed)
    return (
        f"A {rng.choice(ADJ)} {rng.choice(NOUNS)} and a {rng.choice(ADJ)} {rng.choice(NOUNS)} "
        f"near the {rng.choice(PLACES)} in the {rng.choice(['morning', 'evening', 'rain', 'snow', 'sun'])}, "
        f"photo number {seed}."
    )


def pair_record(rid: str, image: str | None, caption: Any) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": "Describe the image."}]
    if image is not None:
        content.insert(0, {"type": "image", "image": image})
    meta = {} if caption is None else {"caption": caption}
    return {
        "id": rid,
        "domain": "caption",
        "messages": [{"role": "user", "content": content}],
        "answer": caption if isinstance(caption, str) and caption else "-",
        "meta": meta,
    }


class DatasetBuilder:
    """Writes images and records into a dataset directory; `finish` writes records.jsonl."""

    def __init__(self, root: Path):
        self.root = root
        (root / "images").mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = []
        self.expect: list[str | None] = []  # per line: the expected drop reason code, None if kept

    def image(self, name: str, img: Image.Image, **save: Any) -> str:
        rel = f"images/{name}"
        img.save(self.root / rel, **save)
        return rel

    def add(self, rid: str, image: str | None, caption: Any, expect: str | None = None) -> None:
        self.raw(json.dumps(pair_record(rid, image, caption)), expect)

    def raw(self, line: str, expect: str | None) -> None:
        self.lines.append(line)
        self.expect.append(expect)

    def expected_drops(self) -> dict[int, str]:
        """1-based line number → expected reason code."""
        return {i + 1: code for i, code in enumerate(self.expect) if code is not None}

    def expected_kept(self) -> list[str]:
        return [json.loads(line)["id"] for line, code in zip(self.lines, self.expect, strict=True) if code is None]

    def finish(self) -> Path:
        (self.root / "records.jsonl").write_text("\n".join(self.lines) + "\n", encoding="utf-8")
        return self.root


def build_messy_dataset(root: Path, clean: int = 20) -> DatasetBuilder:
    """Clean pairs, then one record of every problem the filters must catch, with the expected drop code."""
    b = DatasetBuilder(root)
    for i in range(clean):
        b.add(f"ok-{i}", b.image(f"ok-{i}.png", scene_image(i)), scene_caption(i))
    # image quality
    (root / "images" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    b.add("bad-corrupt", "images/corrupt.png", scene_caption(101), "corrupt")
    full = root / "images" / "ok-0.png"
    (root / "images" / "truncated.png").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    b.add("bad-truncated", "images/truncated.png", scene_caption(102), "corrupt")
    b.add("bad-missing", "images/nope.png", scene_caption(103), "missing_image")
    b.add("bad-tiny", b.image("tiny.png", scene_image(104, (12, 12))), scene_caption(104), "too_small")
    b.add("bad-thin", b.image("thin.png", scene_image(105, (3000, 10))), scene_caption(105), "too_small")
    b.add("bad-ratio", b.image("ratio.png", scene_image(106, (9600, 32))), scene_caption(106), "aspect_ratio")
    blank = Image.new("RGB", (96, 96), (250, 250, 250))
    ImageDraw.Draw(blank).point([(5, 5)], fill=(0, 0, 0))
    b.add("bad-blank", b.image("blank.png", blank), scene_caption(107), "near_blank")
    b.add("bad-noimage", None, scene_caption(108), "no_image")
    # text quality
    img = lambda n: b.image(f"t{n}.png", scene_image(200 + n))  # noqa: E731
    b.add("bad-ad", img(1), "Buy now! Huge discount on this lamp, free shipping today.", "ad")
    b.add("bad-urls", img(2), "see http://a.example.com www.b.example.org c.example.net photo", "urls")
    b.add("bad-short", img(3), "photo", "too_short")
    b.add("bad-symbols", img(4), "#### $$$ *** ~~~ ^^^ !!! ??? ### @@@", "symbols")
    b.add("bad-repeat", img(5), "nice nice nice nice nice nice nice nice nice nice nice nice", "repetition")
    b.add("bad-lang", img(6), "Красивый старый дом стоит у реки в солнечный день", "language")
    b.add("bad-nocaption", img(7), None, "no_text")
    b.add("bad-boiler", img(8), "Copyright 2024 example inc. all rights reserved, photo of a tower", "ad")
    # unreadable lines
    b.raw("{not json", "bad_json")
    b.raw(json.dumps({"id": "bad-schema", "domain": "nonsense", "messages": [], "answer": "x"}), "bad_record")
    b.raw(json.dumps(pair_record("bad-escape", "../../etc/passwd", scene_caption(300))), "bad_media_path")
    b.raw(json.dumps([1, 2, 3]), "bad_record")
    # duplicates of clean records (ok-1 … ok-5): the first occurrence is kept
    b.add("dup-exact", "images/ok-1.png", scene_caption(401), "exact_image")
    b.add("dup-jpeg", b.image("dup-jpeg.jpg", scene_image(2), quality=70), scene_caption(402), "near_image")
    b.add("dup-resized", b.image("dup-resized.png", scene_image(3).resize((72, 72))), scene_caption(403), "near_image")
    shifted = Image.new("RGB", (96, 96))
    shifted.paste(scene_image(4), (1, 1))  # moved by a pixel, black edge
    b.add("dup-shifted", b.image("dup-shifted.png", shifted), scene_caption(404), "near_image")
    reframed = scene_image(8).crop((3, 2, 96, 96)).resize((96, 96))  # cropped a little and scaled back
    b.add("dup-reframed", b.image("dup-reframed.png", reframed), scene_caption(405), "near_image")
    b.add("dup-text", img(9), scene_caption(5), "exact_text")
    b.add("dup-neartext", img(10), scene_caption(6) + " Wow.", "near_text")
    b.add("dup-textcase", img(11), scene_caption(7).upper().replace(",", " ;"), "exact_text")
    b.raw(json.dumps(pair_record("ok-8", img(12), scene_caption(412))), "duplicate_id")
    return b
