"""Counting shapes.

Level 0: 1–3 squares of one of 7 colours, each 18–26 px inside its own 28-px cell of an 84x84 grid (one visual
token each), on one of 8,000 pale backgrounds, asked in one of 3 wordings. Space: 129 cell sets x 7 colours x
≥1,000 sizes and offsets per square x 8,000 backgrounds x 3 wordings: over 10^10 items.
Level 1: 1–5 shapes of one kind, mixed colours, smaller and jittered inside the cells of a 168x168 grid, pale
background: over 10^12 items.
Level 2: 1–6 targets of one colour *and* shape among 3–8 distractors that share one attribute, 224x224: over
10^15 items.
"""

from __future__ import annotations

import random
from collections import Counter

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext, a, join_words, phrase, plural, tint
from thinkvl.data.synth.draw import COLOURS, SHAPES, draw_shape

LEVELS = 3


def _jitter(rng: random.Random, row: int, col: int, size: int) -> tuple[int, int]:
    """Top-left of a ``size`` object placed at random inside cell (row, col), 1 px clear of the cell's edges,
    so objects in neighbouring cells never touch."""
    return col * CELL + 1 + rng.randint(0, CELL - 2 - size), row * CELL + 1 + rng.randint(0, CELL - 2 - size)


def _where(cells: list[tuple[int, int]]) -> str:
    return join_words([f"row {r + 1} column {c + 1}" for r, c in sorted(cells)])


def _count_up(n: int, noun: str) -> str:
    """Level 0's trace: counting one object at a time. It rests only on what the answer rests on (how many), so a
    tiny model that has learned to count can also write it; the row-by-row scan of the higher levels needs each
    object's row as well."""
    return f"I count the {noun}s one at a time: {', '.join(str(k) for k in range(1, n + 1))}. That makes {n}."


def _rows_reasoning(cells: list[tuple[int, int]], noun: str) -> str:
    rows = Counter(r for r, _ in cells)
    found = ", ".join(f"{rows[r]} in row {r + 1}" for r in sorted(rows))
    total = " + ".join(str(rows[r]) for r in sorted(rows))
    return f"I scan the grid row by row for {noun}s: {found}. In total {total} = {len(cells)}."


LEVEL0_QUESTIONS = (
    "How many squares are there in the image?",
    "Count the squares in the image.",
    "How many squares can you see?",
)


def level0(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    n = ctx.balanced([1, 2, 3], "count")
    colour = rng.choice(list(COLOURS))
    grid = 3
    cells = rng.sample([(r, c) for r in range(grid) for c in range(grid)], n)
    img = Image.new("RGB", (grid * CELL, grid * CELL), tint(rng))
    draw = ImageDraw.Draw(img)
    for r, c in cells:
        size = rng.randint(18, 26)  # always covers its cell's centre
        x, y = _jitter(rng, r, c, size)
        draw_shape(draw, "square", (x, y, x + size, y + size), COLOURS[colour])
    return Sample(
        question=phrase(rng, LEVEL0_QUESTIONS),
        answer=n,
        answer_text="The number of squares is",
        reasoning=_count_up(n, "square"),
        caption=f"A {grid}x{grid} grid on a pale background with {plural(n, colour + ' square')} at {_where(cells)}.",
        image=img,
        meta={"task": "count", "target": f"{colour} square"},
    )


def level1(ctx: TaskContext) -> Sample:
    n = ctx.balanced([1, 2, 3, 4, 5], "count")
    shape = ctx.balanced(SHAPES[:3], "shape")
    grid = 6
    rng = ctx.rng
    cells = rng.sample([(r, c) for r in range(grid) for c in range(grid)], n)
    img = Image.new("RGB", (grid * CELL, grid * CELL), tint(rng))
    draw = ImageDraw.Draw(img)
    described = []
    for r, c in cells:
        colour = rng.choice(list(COLOURS))
        size = rng.randint(16, 24)
        x, y = _jitter(rng, r, c, size)
        draw_shape(draw, shape, (x, y, x + size, y + size), COLOURS[colour])
        described.append(f"{a(colour)} {shape} near ({x + size // 2}, {y + size // 2})")
    return Sample(
        question=f"How many {shape}s are there in the image?",
        answer=n,
        answer_text=f"The number of {shape}s is",
        reasoning=_rows_reasoning(cells, shape),
        caption=f"A {grid * CELL}x{grid * CELL} pale image with {plural(n, shape)}: {join_words(described)}.",
        image=img,
        meta={"task": "count", "target": shape},
    )


def level2(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    n = ctx.balanced([1, 2, 3, 4, 5, 6], "count")
    colour = ctx.balanced(list(COLOURS), "colour")
    shape = ctx.balanced(SHAPES, "shape")
    grid = 8
    # Distractors share the colour or the shape with the target, so neither attribute alone gives the count.
    lookalikes = [(colour, s) for s in SHAPES if s != shape] + [(c, shape) for c in COLOURS if c != colour]
    distractors = [rng.choice(lookalikes) for _ in range(rng.randint(3, 8))]
    objects = [(colour, shape)] * n + distractors
    cells = rng.sample([(r, c) for r in range(grid) for c in range(grid)], len(objects))
    tint = tuple(rng.randint(235, 255) for _ in range(3))
    img = Image.new("RGB", (grid * CELL, grid * CELL), tint)
    draw = ImageDraw.Draw(img)
    target_cells = []
    for (col, shp), (r, c) in zip(objects, cells):
        size = rng.randint(11, 20)
        x, y = _jitter(rng, r, c, size)
        draw_shape(draw, shp, (x, y, x + size, y + size), COLOURS[col])
        if (col, shp) == (colour, shape):
            target_cells.append((r, c))
    others = len(objects) - n
    return Sample(
        question=f"How many {colour} {shape}s are there in the image?",
        answer=n,
        answer_text=f"The number of {colour} {shape}s is",
        reasoning=_rows_reasoning(target_cells, f"{colour} {shape}")
        + f" The other {plural(others, 'shape')} differ in colour or shape, so I do not count them.",
        caption=(
            f"A {grid * CELL}x{grid * CELL} image on a pale background with {len(objects)} small shapes: "
            f"{plural(n, colour + ' ' + shape)} at {_where(target_cells)}, and {others} other shapes "
            f"({join_words(sorted({f'{c} {s}' for c, s in distractors}))})."
        ),
        image=img,
        meta={"task": "count", "target": f"{colour} {shape}"},
    )


GENERATORS = (level0, level1, level2)
