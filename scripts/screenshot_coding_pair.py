"""Render a Design2Code-style reference page and an imperfect answer in headless Chromium, the way
`thinkvl.eval.render` scores them, and save the two screenshots side by side (docs/coding_pair.png).

Usage: python scripts/screenshot_coding_pair.py [--out docs/coding_pair.png]
Needs what the coding benchmarks need: Chromium and `pip install playwright` (docs/coding_benchmarks.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from thinkvl.eval.render.browser import Browser
from thinkvl.eval.render.design2code import block_scores

REFERENCE = """<html><head><style>
body { font-family: sans-serif; margin: 0; background: #fafafa; }
header { background: #003366; color: white; padding: 18px 28px; }
main { display: flex; gap: 24px; padding: 24px 28px; }
.card { flex: 1; padding: 16px; border: 1px solid #ccc; border-radius: 8px; background: white; color: #333; }
.card h2 { color: #003366; margin-top: 0; }
footer { color: #777; padding: 0 28px; }
</style></head><body>
<header><h1>Acme Tools</h1></header>
<main>
<div class="card"><h2>Hammers</h2><p>Strong steel hammers for every job.</p></div>
<div class="card"><h2>Saws</h2><p>Sharp saws that cut straight.</p></div>
<div class="card"><h2>Drills</h2><p>Cordless drills with two batteries.</p></div>
</main>
<footer>Copyright 2025 Acme</footer>
</body></html>"""
# A plausible model answer: the cards stacked instead of in a row, another header colour, one title misread.
ANSWER = (
    REFERENCE.replace("display: flex; gap: 24px;", "")
    .replace("#003366; color: white", "#225588; color: white")
    .replace("<h2>Saws</h2>", "<h2>Sows</h2>")
    .replace("margin-top: 0;", "margin: 0 0 4px 0;")
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/coding_pair.png")
    parser.add_argument("--width", type=int, default=900, help="width of the saved image, in pixels")
    args = parser.parse_args()
    with Browser(viewport=(1024, 640)) as browser:
        ref, gen = browser.render(REFERENCE), browser.render(ANSWER)
    assert ref.image is not None and gen.image is not None, (ref.error, gen.error)
    parts = block_scores(gen.blocks, ref.blocks, clip=float("nan"))
    labels = ["reference", f"answer: block {parts.block_match:.2f}, text {parts.text:.2f}, "
              f"position {parts.position:.2f}, colour {parts.color:.2f}"]  # fmt: skip
    height = max(ref.image.height, gen.image.height)
    pair = Image.new("RGB", (ref.image.width + gen.image.width + 16, height + 36), "white")
    draw = ImageDraw.Draw(pair)
    for k, (img, label) in enumerate(zip((ref.image, gen.image), labels)):
        x = k * (ref.image.width + 16)
        pair.paste(img, (x, 36))
        draw.text((x + 4, 10), label, fill="black")
    pair = pair.resize((args.width, round(pair.height * args.width / pair.width)), Image.LANCZOS)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pair.save(args.out, optimize=True)
    print(f"wrote {args.out} ({pair.width}x{pair.height}); answer scores {parts.as_dict()}")


if __name__ == "__main__":
    main()
