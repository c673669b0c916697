"""Reading a value off a chart.

Level 0: one bar on a grid of 28-px unit rows (84x112); its value 1–4 is its height in rows. The bar is 14–40 px
wide anywhere across the chart, in one of 7 colours, on one of 8,000 pale backgrounds with grid lines in one of 36
greys, asked in one of 3 wordings. Space: 4 values x ~1,200 widths and positions x 7 x 8,000 x 36 x 3: over 10^10.
Level 1: three bars (red, green, blue) on a labelled 0–5 axis, 168x168; asked for one bar by colour; bar widths
and offsets and the background vary: over 10^12 items.
Level 2: a bar or line chart of 4–6 named categories on a 0–10/20/50/100 axis, values on half grid steps, 224x224,
7 colours, pale background: over 10^12 items.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext, join_words, phrase, tint
from thinkvl.data.synth.draw import BLACK, COLOURS, GRID, PRIMARY, font

LEVELS = 3
CATEGORIES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")


LEVEL0_QUESTIONS = (
    "Each grid row is 1 unit. What value does the bar show?",
    "The grid rows are 1 unit each. How tall is the bar?",
    "Each row of the grid counts as 1. What is the value of the bar?",
)


def level0(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    value = ctx.balanced([1, 2, 3, 4], "value")
    colour = rng.choice(list(COLOURS))
    w, h = 3 * CELL, 4 * CELL
    img = Image.new("RGB", (w, h), tint(rng))
    draw = ImageDraw.Draw(img)
    grey = rng.randint(180, 215)
    for k in range(1, 4):
        draw.line((0, k * CELL, w, k * CELL), fill=(grey, grey, grey))
    width = rng.randint(14, 40)
    x = rng.randint(2, w - 2 - width)
    draw.rectangle((x, h - value * CELL, x + width - 1, h - 1), fill=COLOURS[colour])
    return Sample(
        question=phrase(rng, LEVEL0_QUESTIONS),
        answer=value,
        answer_text="The bar shows",
        reasoning=f"The bar starts at the bottom and fills {value} of the 4 grid rows, so its value is {value}.",
        caption=f"A bar chart on a grid of 4 rows with a single {colour} bar of height {value}.",
        image=img,
        meta={"task": "bar", "values": {colour: value}},
    )


def _y_axis(
    draw: ImageDraw.ImageDraw, left: int, right: int, bottom: int, unit: float, top_value: int, step: int
) -> None:
    """Grid lines and labels every ``step`` from 0 to ``top_value``; ``unit`` is pixels per value."""
    for v in range(0, top_value + 1, step):
        y = round(bottom - v * unit)
        draw.line((left, y, right, y), fill=GRID if v else BLACK)
        draw.text((left - 3, y), str(v), fill=BLACK, anchor="rm", font=font(11))
    draw.line((left, bottom - top_value * unit, left, bottom), fill=BLACK)


def level1(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    asked = ctx.balanced(PRIMARY, "colour")
    value = ctx.balanced([1, 2, 3, 4, 5], "value")
    order = rng.sample(PRIMARY, 3)
    values = {c: (value if c == asked else rng.randint(1, 5)) for c in order}
    size, left, bottom, unit = 6 * CELL, 28, 6 * CELL - 18, 26
    img = Image.new("RGB", (size, size), tint(rng))
    draw = ImageDraw.Draw(img)
    _y_axis(draw, left, size - 6, bottom, unit, 5, 1)
    for i, c in enumerate(order):
        x = left + 8 + i * 44 + rng.randint(0, 6)
        draw.rectangle((x, bottom - values[c] * unit, x + rng.randint(22, 30), bottom - 1), fill=COLOURS[c])
    listing = join_words([f"{c} {values[c]}" for c in order])
    return Sample(
        question=f"What is the value of the {asked} bar?",
        answer=value,
        answer_text=f"The {asked} bar shows",
        reasoning=f"The axis is marked 0 to 5. The {asked} bar's top is level with the {value} mark, so it is {value}.",
        caption=f"A bar chart with a 0–5 axis and three bars from left to right: {listing}.",
        image=img,
        meta={"task": "bar", "values": values},
    )


def level2(ctx: TaskContext) -> Sample:
    kind, sub = ctx.split(["bar", "line"])
    rng = ctx.rng
    top = sub.balanced([10, 20, 50, 100], "scale")
    half = top // 10
    k = rng.randint(4, 6)
    cats = CATEGORIES[:k]
    asked = cats[sub.balanced(range(6), "category") % k]
    value = sub.balanced([half * m for m in range(1, 11)], "value")
    values = {c: (value if c == asked else half * rng.randint(1, 10)) for c in cats}
    size, left, right, bottom, ytop = 8 * CELL, 34, 8 * CELL - 8, 8 * CELL - 20, 12
    unit = (bottom - ytop) / top
    colour = COLOURS[rng.choice(list(COLOURS))]
    img = Image.new("RGB", (size, size), tint(rng))
    draw = ImageDraw.Draw(img)
    _y_axis(draw, left, right, bottom, unit, top, 2 * half)
    slot = (right - left) / k
    points = []
    for i, c in enumerate(cats):
        cx = left + slot * (i + 0.5)
        y = bottom - values[c] * unit
        draw.text((cx, bottom + 3), c, fill=BLACK, anchor="ma", font=font(11))
        if kind == "bar":
            draw.rectangle((round(cx - slot * 0.3), round(y), round(cx + slot * 0.3), bottom - 1), fill=colour)
        points.append((cx, y))
    if kind == "line":
        draw.line(points, fill=colour, width=2)
        for cx, y in points:
            draw.ellipse((cx - 3, y - 3, cx + 3, y + 3), fill=colour)
    between = "on" if value % (2 * half) == 0 else "halfway between"
    lower = value - value % (2 * half)
    marks = f"the {value} grid line" if between == "on" else f"the {lower} and {lower + 2 * half} grid lines"
    thing = "bar" if kind == "bar" else "point"
    listing = join_words([f"{c} {values[c]}" for c in cats])
    return Sample(
        question=f"What is the value for {asked} in the {kind} chart?",
        answer=value,
        answer_text=f"The value for {asked} is",
        reasoning=(
            f"The y axis runs from 0 to {top} with grid lines every {2 * half}. "
            f"The {thing} for {asked} lies {between} {marks}, so the value is {value}."
        ),
        caption=f"A {kind} chart with a 0–{top} y axis over {k} months: {listing}.",
        image=img,
        meta={"task": kind, "values": values},
    )


GENERATORS = (level0, level1, level2)
