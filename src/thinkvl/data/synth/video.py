"""Short videos whose question needs the frames *and* their time indices.

glm4v groups frames in pairs (temporal patch 2): frames 2k and 2k+1 make one step, shown to the LLM followed by
the integer timestamp of frame 2k. So every video has an even number of frames, each step's two frames are
identical, and "when" answers are those step timestamps (meta["step_seconds"]).

Sub-tasks (meta["video_task"]), cycled within each level:
- "direction": which way a named object moves ("left", "right", ... ; level 2 adds diagonals);
- "when": the second at which a named object first appears (a number);
- "order": the colours of objects in the order they appear ("red, green, blue").
Level 0: 112x112, 8 frames at 2 fps (steps at 0–3 s), one square 18–26 px inside a 28-px cell (order: a 46–56 px
square flashing in one of 9 places), on one of 8,000 pale backgrounds. Space per sub-task: direction 4 ways x 4
lanes x 7 colours x 9 sizes x 8,000; when 3 x 16 cells x 7 x 9 x 8,000; order 6 x 9 x 11 x 8,000: over 10^6 each.
Level 1: smaller objects off the grid, a static distractor, appearance possible at 0 s, 3 of 4 colours in order,
pale background: over 10^9 per sub-task.
Level 2: 1 or 2 fps (steps at 0–3 s or 0, 2, 4, 6 s), 14-px objects, moving/appearing distractors, 4 colours:
over 10^9 per sub-task.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext, a, cell_box, join_words, tint
from thinkvl.data.synth.draw import COLOURS, PRIMARY, SHAPES, WHITE, draw_shape

LEVELS = 3
SIDE = 4 * CELL
STEPS = 4  # temporal steps; 2 frames each
Box = tuple[int, int, int, int]
# Where a level-0 mover starts and ends, in words.
SIDES = {"left": "left", "right": "right", "up": "top", "down": "bottom"}
OPPOSITE = {"left": "right", "right": "left", "up": "down", "down": "up"}
DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
    "up-left": (-1, -1),
    "up-right": (1, -1),
    "down-left": (-1, 1),
    "down-right": (1, 1),
}


@dataclass
class Sprite:
    colour: str
    shape: str
    boxes: list[Box | None]  # one pixel box per step; None while not visible

    @property
    def name(self) -> str:
        return f"{self.colour} {self.shape}"


def step_seconds(fps: float, steps: int = STEPS) -> list[int]:
    """The integer timestamp glm4v shows after each step: that of the step's first frame (frame 2k)."""
    return [int(2 * k / fps) for k in range(steps)]


def _centre(box: Box) -> tuple[int, int]:
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


def _render(sprites: list[Sprite], fps: float, background=WHITE) -> tuple[list[Image.Image], str]:
    """Frames (each step twice) and a caption that says what is visible at each step's time."""
    frames, described, previous = [], [], None
    for k, t in enumerate(step_seconds(fps)):
        img = Image.new("RGB", (SIDE, SIDE), background)
        draw = ImageDraw.Draw(img)
        seen = []
        for s in sprites:
            if s.boxes[k] is not None:
                draw_shape(draw, s.shape, s.boxes[k], COLOURS[s.colour])
                seen.append(f"{a(s.name)} at {_centre(s.boxes[k])}")
        frames += [img, img.copy()]
        now = join_words(seen) if seen else "nothing"
        described.append(f"at {t} s {'the same' if now == previous else now}")
        previous = now
    caption = (
        f"{a(f'{len(frames)}-frame').capitalize()} {SIDE}x{SIDE} video at {fps:g} fps showing {'; '.join(described)}."
    )
    return frames, caption


def _video(
    question: str,
    answer,
    answer_text: str,
    reasoning: str,
    sprites: list[Sprite],
    fps: float,
    task: str,
    background=WHITE,
):
    """The sample; ``sprites[0]`` is the object asked about (direction, when)."""
    frames, caption = _render(sprites, fps, background)
    target = {} if task == "order" else {"target": sprites[0].name}
    return Sample(
        question=question,
        answer=answer,
        answer_text=answer_text,
        reasoning=reasoning,
        caption=caption,
        frames=frames,
        fps=fps,
        meta={"task": task, "video_task": task, "step_seconds": step_seconds(fps), **target},
    )


# --- direction -------------------------------------------------------------------------------------------------


def _path(ctx: TaskContext, d: tuple[int, int], size: int, step: int) -> list[Box]:
    """Boxes of an object moving ``step`` px per temporal step along ``d``, staying inside the frame."""
    span = step * (STEPS - 1)
    lo = [span if v < 0 else 0 for v in d]
    hi = [SIDE - size - (span if v > 0 else 0) for v in d]
    x0, y0 = (ctx.rng.randint(lo[i], hi[i]) for i in range(2))
    return [(x0 + d[0] * step * k, y0 + d[1] * step * k, x0 + d[0] * step * k + size, y0 + d[1] * step * k + size)
            for k in range(STEPS)]  # fmt: skip


def _direction(ctx: TaskContext, level: int) -> Sample:
    rng = ctx.rng
    names = list(DIRECTIONS)[: 8 if level == 2 else 4]
    way = ctx.balanced(names, "direction")
    fps = 2.0 if level < 2 else ctx.balanced([1.0, 2.0], "fps")
    if level == 0:
        colour, shape = rng.choice(list(COLOURS)), "square"
        d = DIRECTIONS[way]
        lane = rng.randrange(4)
        cells = [(k if d[0] > 0 else 3 - k, lane) if d[0] else (lane, k if d[1] > 0 else 3 - k) for k in range(4)]
        inset = rng.randint(1, 5)
        boxes = [cell_box(r, c, inset=inset) for c, r in cells]
        sprites = [Sprite(colour, shape, boxes)]
    else:
        size, step = (18, rng.randint(18, 24)) if level == 1 else (14, rng.randint(14, 18))
        colour, other_colour = rng.sample(list(COLOURS), 2)
        shape, other_shape = rng.sample(SHAPES, 2)
        sprites = [Sprite(colour, shape, _path(ctx, DIRECTIONS[way], size, step))]
        if level == 1:  # a static distractor, placed away from the mover's path
            box = _free_box(ctx, size, sprites[0].boxes)
            sprites.append(Sprite(other_colour, other_shape, [box] * STEPS))
        else:  # a distractor moving another way, never overlapping the target
            other = rng.choice([n for n in names if n != way])
            for _ in range(200):
                path = _path(ctx, DIRECTIONS[other], size, step)
                if all(_apart(a, b) for a, b in zip(path, sprites[0].boxes)):
                    sprites.append(Sprite(other_colour, other_shape, path))
                    break
    target = sprites[0]
    times = step_seconds(fps)
    first, last = _centre(target.boxes[0]), _centre(target.boxes[-1])
    if level == 0:  # short enough for the demo's thinking budget
        reasoning = f"It starts at the {SIDES[OPPOSITE[way]]} and ends at the {SIDES[way]}, so it moves {way}."
    else:
        reasoning = (
            f"At {times[0]} s the {target.name} is centred at {first}; at {times[-1]} s it is at {last}. "
            f"x changes by {last[0] - first[0]} and y by {last[1] - first[1]} (y grows downwards), so it moves {way}."
        )
    return _video(
        f"Which way does the {target.name} move? Answer with one of: {', '.join(names)}.",
        way,
        f"The {target.name} moves",
        reasoning,
        sprites,
        fps,
        "direction",
        tint(rng),
    )


def _apart(a: Box, b: Box, gap: int = 4) -> bool:
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def _free_box(ctx: TaskContext, size: int, taken: list[Box]) -> Box:
    for _ in range(500):
        x, y = ctx.rng.randint(0, SIDE - size), ctx.rng.randint(0, SIDE - size)
        box = (x, y, x + size, y + size)
        if all(_apart(box, b) for b in taken):
            return box
    raise RuntimeError("could not place an object; the frame is too crowded")


# --- when -----------------------------------------------------------------------------------------------------


def _when(ctx: TaskContext, level: int) -> Sample:
    rng = ctx.rng
    if level == 2:
        fps, step = ctx.balanced([(f, s) for f in (2.0, 1.0) for s in (1, 2, 3)], "fps-step")
    else:
        fps, step = 2.0, ctx.balanced([1, 2, 3] if level == 0 else [0, 1, 2, 3], "step")
    times = step_seconds(fps)
    if level == 0:
        r, c = rng.randrange(4), rng.randrange(4)
        box = cell_box(r, c, inset=rng.randint(1, 5))
        sprites = [Sprite(rng.choice(list(COLOURS)), "square", [None] * step + [box] * (STEPS - step))]
    else:
        size = 20 if level == 1 else 14
        pairs = rng.sample([(c, s) for c in COLOURS for s in SHAPES], 3 if level == 1 else 4)
        taken: list[Box] = []
        sprites = []
        for i, (c, s) in enumerate(pairs):
            box = _free_box(ctx, size, taken)
            taken.append(box)
            # Level 1 distractors are there from the start; level 2 distractors appear at random steps too.
            start = step if i == 0 else (0 if level == 1 else rng.randrange(STEPS))
            sprites.append(Sprite(c, s, [None] * start + [box] * (STEPS - start)))
    target = sprites[0]
    t = times[step]
    before = f"it is not there at {join_words([f'{x} s' for x in times[:step]])}; " if step else ""
    if level == 0:
        reasoning = f"The {target.name} is missing before {t} s and first visible at {t} s."
    else:
        reasoning = (
            f"The steps are at {', '.join(f'{x} s' for x in times)}. Looking for the {target.name}: "
            f"{before}it is first visible at {t} s."
        )
    return _video(
        f"At what second does the {target.name} first appear? Answer with the number of seconds.",
        t,
        f"The {target.name} first appears at second",
        reasoning,
        sprites,
        fps,
        "when",
        tint(rng),
    )


# --- order ----------------------------------------------------------------------------------------------------


def _order(ctx: TaskContext, level: int) -> Sample:
    rng = ctx.rng
    fps = 2.0 if level < 2 else rng.choice([1.0, 2.0])
    times = step_seconds(fps)
    if level == 0:
        colours = list(ctx.balanced(list(permutations(PRIMARY)), "order"))
        r, c = rng.randrange(3), rng.randrange(3)
        box = cell_box(r, c, inset=rng.randint(0, 5), span=2)
        # Each colour flashes for one step (steps 1–3); step 0 is empty.
        sprites = [
            Sprite(c, "square", [box if k == i + 1 else None for k in range(STEPS)]) for i, c in enumerate(colours)
        ]
        starts = [1, 2, 3]
        question = "Coloured squares flash one at a time. List their colours in order, separated by commas."
    else:
        palette = [*PRIMARY, "yellow"] if level == 1 else list(COLOURS)
        count = 3 if level == 1 else 4
        if level == 1:
            colours = list(ctx.balanced(list(permutations(palette, count)), "order"))
        else:
            colours = rng.sample(palette, count)
        starts = list(range(STEPS - count, STEPS))
        size = 24 if level == 1 else 14
        taken: list[Box] = []
        sprites = []
        for c, start in zip(colours, starts):
            box = _free_box(ctx, size, taken)
            taken.append(box)
            shape = "square" if level == 1 else rng.choice(SHAPES)
            sprites.append(Sprite(c, shape, [None] * start + [box] * (STEPS - start)))
        question = "Shapes appear one at a time and stay. List their colours in order of appearance, comma-separated."
    answer = ", ".join(colours)
    seen = "; ".join(f"at {times[s]} s the {c} one" for c, s in zip(colours, starts))
    if level == 0:
        reasoning = f"First {colours[0]}, then {colours[1]}, then {colours[2]}. So the order is {answer}."
    else:
        reasoning = f"Going through the steps in time: {seen}. So the order is {answer}."
    return _video(question, answer, "The order is", reasoning, sprites, fps, "order", tint(rng))


def _level(level: int):
    def generate(ctx: TaskContext) -> Sample:
        kind, sub = ctx.split(["direction", "when", "order"])
        return {"direction": _direction, "when": _when, "order": _order}[kind](sub, level)

    generate.__name__ = f"level{level}"
    generate.__doc__ = f"A level-{level} video task (direction, when or order, in turn)."
    return generate


GENERATORS = (_level(0), _level(1), _level(2))
