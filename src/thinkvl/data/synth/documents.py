"""Small synthetic sources for the interleaved and long-document builders, made offline: web pages in the
OBELICS layout (with the junk those builders must drop planted in) and PDFs with a real text layer.

The PDF writer is a few lines of the PDF format (Helvetica, one of the 14 fonts every reader has, so nothing is
embedded): pypdfium2 renders its pages and extracts their text like any PDF's.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from thinkvl.data.synth.draw import COLOURS, SHAPES, WHITE, draw_shape

PLACES = ("harbour", "garden", "market", "station", "library", "bridge", "forest", "village", "square", "museum")
WHAT = ("boats", "stalls", "trains", "shelves", "lamps", "trees", "houses", "bicycles", "benches", "statues")
ADJ = ("quiet", "busy", "old", "bright", "narrow", "wide", "grey", "warm", "windy", "crowded")
TIME = ("morning", "evening", "winter", "summer", "weekend", "night")
NAMES = ("Ana", "Tom", "Mei", "Ravi", "Olga", "Sam")
TEMPLATES = (
    "The {place} was {adj} this {time}, and {n} {what} stood by the {place2}.",
    "A {colour} {shape} caught my eye beside {n} {adj} {what}.",
    "We walked past the {place2} to reach the {adj} {place}.",
    "{name} says the {what} here are older than the {place2}.",
    "Later, {colour} light made every {shape} look {adj}.",
    "Nobody expected {n} {what} at the {place} on a {time}.",
)


def picture(seed: int, size: tuple[int, int] = (112, 84)) -> Image.Image:
    """A busy picture (a gradient per channel, each its own direction, and a few shapes): many colours, as a
    photo has."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    angles, lo, amp = rng.uniform(0, 2 * np.pi, 3), rng.uniform(0, 128, 3), rng.uniform(64, 127, 3)
    chans = [lo[c] + amp[c] * (np.cos(angles[c]) * xx + np.sin(angles[c]) * yy + 1) / 2 for c in range(3)]
    img = Image.fromarray(np.stack(chans, -1).clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x, y, s = int(rng.integers(w - 20)), int(rng.integers(h - 20)), int(rng.integers(12, 30))
        draw_shape(draw, SHAPES[int(rng.integers(len(SHAPES)))], (x, y, x + s, y + s), list(COLOURS.values())[s % 7])
    return img


def qr_like(seed: int, modules: int = 21, scale: int = 5) -> Image.Image:
    """Random black and white modules: what a QR code looks like to an image filter."""
    rng = random.Random(seed)
    img = Image.new("L", (modules, modules))
    img.putdata([rng.choice((0, 255)) for _ in range(modules * modules)])
    return img.resize((modules * scale, modules * scale), Image.Resampling.NEAREST).convert("RGB")


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def paragraph(seed: int, sentences: int = 3) -> str:
    """A few varied sentences about places and things (varied enough to pass the text-quality rules)."""
    rng = random.Random(seed)
    words = lambda: {  # noqa: E731
        "place": rng.choice(PLACES), "place2": rng.choice(PLACES), "what": rng.choice(WHAT), "adj": rng.choice(ADJ),
        "time": rng.choice(TIME), "name": rng.choice(NAMES), "colour": rng.choice(list(COLOURS)),
        "shape": rng.choice(SHAPES), "n": rng.randint(2, 12),
    }  # fmt: skip
    text = " ".join(rng.choice(TEMPLATES).format(**words()) for _ in range(sentences))
    return text[0].upper() + text[1:]


def web_documents(n: int, seed: int = 0) -> list[dict[str, list]]:
    """``n`` web pages as OBELICS rows (``texts`` / ``images`` parallel lists, image bytes), then one page of each
    kind of junk: a tiny icon, a logo, a banner ad, a QR code, an ad page, a copy of page 0, and a page reusing page 1's
    picture (with one of its own)."""
    docs = []
    for d in range(n):
        texts: list[str | None] = []
        images: list[bytes | None] = []
        for k in range(2 + d % 2):
            texts += [paragraph(seed * 1000 + d * 10 + k), None]
            images += [None, png(picture(seed * 1000 + d * 10 + k))]
        texts.append(paragraph(seed * 1000 + d * 10 + 9))
        images.append(None)
        docs.append({"texts": texts, "images": images})
    logo = Image.new("RGB", (96, 96), WHITE)
    ImageDraw.Draw(logo).ellipse((16, 16, 80, 80), fill=COLOURS["blue"])
    junk = [
        png(Image.new("RGB", (16, 16), WHITE)),
        png(logo),
        png(picture(seed * 1000 + 997, (728, 90))),
        png(qr_like(seed)),
    ]
    for j, img in enumerate(junk):  # a good picture beside each piece of junk: only the junk goes
        own = seed * 1000 + 990 + j  # seeds apart from the pages' own
        docs.append({"texts": [paragraph(own), None, None], "images": [None, img, png(picture(own))]})
    ad = "Buy now! Free shipping and 50% off, click here to order now, limited time only, best price guaranteed."
    docs.append({"texts": [ad, None], "images": [None, png(picture(seed * 1000 + 995))]})
    docs.append(dict(docs[0]))
    reuse = [None, docs[1]["images"][1], png(picture(seed * 1000 + 996))]
    docs.append({"texts": [paragraph(seed * 1000 + 996), None, None], "images": reuse})
    return docs


def write_web_documents(path: Path, n: int, seed: int = 0) -> Path:
    """`web_documents` as one parquet file, the layout `thinkvl.data.pipeline.interleaved` reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = web_documents(n, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"texts": [d["texts"] for d in docs], "images": [d["images"] for d in docs]})
    pq.write_table(table, path)
    return path


def _pdf_text(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_text_pdf(path: Path, pages: list[list[str]], size: tuple[int, int] = (420, 595), font_size: int = 12) -> Path:
    """A PDF whose pages hold the given lines of (latin-1) text, top to bottom, as a real text layer."""
    w, h = size
    n = len(pages)
    objs = {
        1: "<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{4 + 2 * i} 0 R' for i in range(n))}] /Count {n} >>",
        3: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    for i, lines in enumerate(pages):
        body = " ".join(f"({_pdf_text(line)}) Tj T*" for line in lines)
        stream = f"BT /F1 {font_size} Tf {font_size * 1.4:g} TL 36 {h - 48} Td {body} ET"
        objs[4 + 2 * i] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objs[5 + 2 * i] = f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for num in sorted(objs):
        offsets.append(len(out))
        out += f"{num} 0 obj\n{objs[num]}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path
