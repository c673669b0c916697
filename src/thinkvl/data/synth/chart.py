"""Reading a value off a chart.

Level 0: one bar on a grid of 28-px unit squares (84x112); its value 1–4 is its height in cells.
Level 1: three bars (red, green, blue) on a labelled 0–5 axis, 168x168; asked for one bar by colour.
Level 2: a bar or line chart of 4–6 named categories on a 0–10/20/50/100 axis, values on half grid steps, 224x224.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext, join_words
from thinkvl.data.synth.draw import BLACK, COLOURS, GRID, PRIMARY, WHITE, font

LEVELS = 3
CATEGORIES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun")


def level0(ctx: TaskContext) -> Sample:
    value = ctx.balanced([1, 2, 3, 4], "value")
    colour = ctx.balanced(PRIMARY, "colour")
    w, h = 3 * CELL, 4 * CELL
    img = Image.new("RGB", (w, h), WHITE)
    draw = ImageDraw.Draw(img)
    for k in range(1, 4):
        draw.line((0, k * CELL, w, k * CELL), fill=GRID)
    draw.rectangle((CELL, h - value * CELL, 2 * CELL - 1, h - 1), fill=COLOURS[colour])
    return Sample(
        question="Each grid row is 1 unit. What value does the bar show?",
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
    img = Image.new("RGB", (size, size), WHITE)
    draw = ImageDraw.Draw(img)
    _y_axis(draw, left, size - 6, bottom, unit, 5, 1)
    for i, c in enumerate(order):
        x = left + 10 + i * 44
        draw.rectangle((x, bottom - values[c] * unit, x + 28, bottom - 1), fill=COLOURS[c])
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
    img = Image.new("RGB", (size, size), WHITE)
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
