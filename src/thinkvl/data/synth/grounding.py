"""Grounding: the box of a described object, as [x1, y1, x2, y2] in 0–1000 coordinates of the image.

Level 0: one square of one of 7 colours, 40–56 px, anywhere inside one quadrant of a 112x112 image, on one of
8,000 pale backgrounds. Space: 4 quadrants x 2,109 sizes and positions x 7 x 8,000: over 10^8 items (and 8,436
distinct boxes).
Level 1: three objects of different colours and shapes, 1 or 2 cells wide, on the grid of a 168x168 image, pale
background: over 10^11 items.
Level 2: 4–7 objects anywhere, 14–56 px, distractors sharing the target's colour or shape, 224x224: over 10^15.
Pixel boxes are exclusive at the right and bottom; each coordinate is round(1000 * pixel / side).
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext, a, cell_box, join_words, tint
from thinkvl.data.synth.draw import COLOURS, SHAPES, draw_shape

LEVELS = 3
Box = tuple[int, int, int, int]


def to_1000(box: Box, width: int, height: int) -> list[int]:
    """Pixel box -> 0–1000 box of the image."""
    x1, y1, x2, y2 = box
    return [round(1000 * x1 / width), round(1000 * y1 / height), round(1000 * x2 / width), round(1000 * y2 / height)]


def _sample(
    ctx: TaskContext, name: str, box: Box, img: Image.Image, scene: list[str], quarter: str | None = None
) -> Sample:
    answer = to_1000(box, *img.size)
    x1, y1, x2, y2 = box
    w, h = img.size
    box_text = f"[{','.join(map(str, answer))}]"
    if quarter:  # level 0: short enough for the demo's 64-token budget (think + answer), numbers and all
        reasoning = f"In the {quarter} quarter: {box_text}."
    else:
        reasoning = (
            f"The {name} spans x {x1} to {x2} and y {y1} to {y2} pixels in a {w}x{h} image. "
            f"Scaled to 0-1000 that is {box_text}."
        )
    return Sample(
        question=f"Where is the {name}? Give its bounding box as [x1,y1,x2,y2] in 0-1000 coordinates.",
        answer=answer,
        answer_text=f"The {name} is at",
        reasoning=reasoning,
        caption=f"A {w}x{h} image with {join_words(scene)}.",
        image=img,
        meta={"task": "box", "target": name, **({"quarter": quarter} if quarter else {})},
    )


def level0(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    row, col = ctx.balanced([(r, c) for r in (0, 2) for c in (0, 2)], "position")  # the four quadrants
    colour = rng.choice(list(COLOURS))
    img = Image.new("RGB", (4 * CELL, 4 * CELL), tint(rng))
    size = rng.randint(40, 2 * CELL)
    x, y = col * CELL + rng.randint(0, 2 * CELL - size), row * CELL + rng.randint(0, 2 * CELL - size)
    box = (x, y, x + size, y + size)
    draw_shape(ImageDraw.Draw(img), "square", box, COLOURS[colour])
    quarter = f"{'top' if row == 0 else 'bottom'}-{'left' if col == 0 else 'right'}"
    return _sample(ctx, f"{colour} square", box, img, [f"one {colour} square covering pixels {box}"], quarter)


def level1(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    grid = 6
    colours = rng.sample(list(COLOURS), 3)
    shapes = rng.sample(SHAPES, 3)
    taken: set[tuple[int, int]] = set()
    boxes: list[Box] = []
    for _ in range(3):
        while True:
            span = rng.choice((1, 2))
            r, c = rng.randrange(grid - span + 1), rng.randrange(grid - span + 1)
            cells = {(r + i, c + j) for i in range(span) for j in range(span)}
            if not cells & taken:
                taken |= cells
                boxes.append(cell_box(r, c, span=span))
                break
    img = Image.new("RGB", (grid * CELL, grid * CELL), tint(rng))
    draw = ImageDraw.Draw(img)
    for colour, shape, box in zip(colours, shapes, boxes):
        draw_shape(draw, shape, box, COLOURS[colour])
    scene = [f"{a(c)} {s} covering pixels {b}" for c, s, b in zip(colours, shapes, boxes)]
    return _sample(ctx, f"{colours[0]} {shapes[0]}", boxes[0], img, scene)


def _overlaps(a: Box, b: Box, gap: int) -> bool:
    return not (a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1])


def level2(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    side = 8 * CELL
    colour = ctx.balanced(list(COLOURS), "colour")
    shape = ctx.balanced(SHAPES, "shape")
    lookalikes = [(colour, s) for s in SHAPES if s != shape] + [(c, shape) for c in COLOURS if c != colour]
    objects = [(colour, shape)] + rng.sample(lookalikes, rng.randint(3, 6))
    boxes: list[Box] = []
    for _ in objects:
        for _attempt in range(200):
            size = rng.randint(14, 56)
            x, y = rng.randint(0, side - size), rng.randint(0, side - size)
            box = (x, y, x + size, y + size)
            if not any(_overlaps(box, b, 3) for b in boxes):
                boxes.append(box)
                break
        else:  # a crowded draw: keep the objects placed so far
            break
    objects = objects[: len(boxes)]
    img = Image.new("RGB", (side, side), tuple(rng.randint(235, 255) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(1, 3)):  # thin grey clutter, never in a shape's colour
        grey = rng.randint(160, 210)
        draw.line([(rng.randint(0, side), rng.randint(0, side)) for _ in range(2)], fill=(grey,) * 3)
    for (c, s), box in zip(objects, boxes):
        draw_shape(draw, s, box, COLOURS[c])
    scene = [f"{a(c)} {s} covering pixels {b}" for (c, s), b in zip(objects, boxes)]
    return _sample(ctx, f"{colour} {shape}", boxes[0], img, scene)


GENERATORS = (level0, level1, level2)
