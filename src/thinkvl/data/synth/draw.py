"""Drawing primitives shared by the generators: a palette of strongly distinct colours, shapes, and text.

Only Pillow's built-in font is used (`ImageFont.load_default(size=...)`, bundled with Pillow >= 10.1), so the
tasks render identically offline on every machine. It has no glyph for '×', so `draw_glyph` draws one.
"""

from __future__ import annotations

from functools import lru_cache

from PIL import ImageDraw, ImageFont

RGB = tuple[int, int, int]

# Far apart in hue and brightness, so even a downscaled patch keeps its colour class.
COLOURS: dict[str, RGB] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 70, 225),
    "yellow": (240, 200, 0),
    "purple": (140, 50, 190),
    "orange": (245, 125, 0),
    "cyan": (0, 190, 205),
}
PRIMARY = ("red", "green", "blue")
SHAPES = ("square", "circle", "triangle", "diamond")
WHITE: RGB = (255, 255, 255)
BLACK: RGB = (0, 0, 0)
GRID: RGB = (215, 215, 215)


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font at ``size`` pixels."""
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], colour: RGB) -> None:
    """Fill ``shape`` inside the pixel box (x1, y1, x2, y2), x2/y2 exclusive; it touches all four sides."""
    x1, y1, x2, y2 = box
    r, b = x2 - 1, y2 - 1  # Pillow's coordinates are inclusive
    if shape == "square":
        draw.rectangle((x1, y1, r, b), fill=colour)
    elif shape == "circle":
        draw.ellipse((x1, y1, r, b), fill=colour)
    elif shape == "triangle":
        draw.polygon([((x1 + r) / 2, y1), (r, b), (x1, b)], fill=colour)
    elif shape == "diamond":
        cx, cy = (x1 + r) / 2, (y1 + b) / 2
        draw.polygon([(cx, y1), (r, cy), (cx, b), (x1, cy)], fill=colour)
    else:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def draw_glyph(
    draw: ImageDraw.ImageDraw, cell: tuple[int, int, int, int], char: str, size: int, fill: RGB, bold: int = 0
) -> None:
    """Draw one character centred in the pixel box ``cell``, its strokes thickened by ``bold`` pixels;
    '×' is drawn as two strokes (the font lacks it)."""
    x1, y1, x2, y2 = cell
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    if char == "×":
        h = size * 0.28
        width = max(2, size // 10) + 2 * bold
        draw.line((cx - h, cy - h, cx + h, cy + h), fill=fill, width=width)
        draw.line((cx - h, cy + h, cx + h, cy - h), fill=fill, width=width)
        return
    draw.text((cx, cy), char, font=font(size), fill=fill, anchor="mm", stroke_width=bold, stroke_fill=fill)


def draw_text(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, size: int, fill: RGB, anchor: str = "la"
) -> None:
    """Draw a run of text with the bundled font; ``anchor`` is "la" (left, top) or "mm" (centre)."""
    if anchor not in ("la", "mm"):
        raise ValueError(f"anchor must be 'la' or 'mm', got {anchor!r}")
    if "×" not in text:
        draw.text(xy, text, font=font(size), fill=fill, anchor=anchor)
        return
    # Lay the run out by advance widths, drawing '×' ourselves in the space of an 'x'.
    f = font(size)
    ascent, descent = f.getmetrics()
    x, y = xy
    if anchor == "mm":
        x -= text_width(text, size) / 2
        baseline = y + (ascent - descent) / 2
    else:
        baseline = y + ascent
    x_height = -f.getbbox("x", anchor="ls")[1]
    for c in text:
        w = f.getlength("x" if c == "×" else c)
        if c == "×":
            box = (int(x), int(baseline - x_height), int(x + w), int(baseline))
            draw_glyph(draw, box, c, int(x_height / 0.6), fill)
        else:
            draw.text((x, baseline), c, font=f, fill=fill, anchor="ls")
        x += w


def text_width(text: str, size: int) -> float:
    """Advance width of ``text`` in pixels at ``size``."""
    return font(size).getlength(text.replace("×", "x"))
