"""Multiple choice about the image; the answer is a letter and meta["choices"] the option texts.

Level 0: the colour of one circle 40–80 px wide anywhere in an 84x84 image, on one of 8,000 pale backgrounds,
asked in one of 3 wordings; the options are always "A. red  B. green  C. blue". Space: 3 colours x 14,000 sizes
and positions x 8,000 x 3: over 10^9 items.
Level 1: the colour or the shape of one shape (112x112); four options in shuffled order: over 10^10 items.
Level 2: a scene of 3–4 shapes (168x168); asks the colour of a shape, the shape of a colour, or which shape is
leftmost; five options in shuffled order: over 10^12 items.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from thinkvl.data.record import CHOICE_LETTERS
from thinkvl.data.synth.base import CELL, Sample, TaskContext, a, join_words, phrase, tint
from thinkvl.data.synth.draw import COLOURS, PRIMARY, SHAPES, draw_shape

LEVELS = 3


def _prompt(question: str, choices: Sequence[str]) -> str:
    options = "\n".join(f"{CHOICE_LETTERS[i]}. {c}" for i, c in enumerate(choices))
    return f"{question}\n{options}\nAnswer with the option's letter."


def _options(ctx: TaskContext, correct: str, pool: Sequence[str], k: int) -> tuple[list[str], str]:
    """k options holding ``correct`` at a balanced letter, the rest drawn from ``pool``."""
    index = ctx.balanced(range(k), "letter")
    others = ctx.rng.sample([p for p in pool if p != correct], k - 1)
    others.insert(index, correct)
    return others, CHOICE_LETTERS[index]


def _sample(question: str, choices: list[str], letter: str, why: str, caption: str, img: Image.Image) -> Sample:
    chosen = choices[CHOICE_LETTERS.index(letter)]
    return Sample(
        question=_prompt(question, choices),
        answer=letter,
        answer_text="The answer is",
        reasoning=f"{why} The option that says {chosen} is {letter}.",
        caption=caption,
        image=img,
        meta={"task": "choice", "choices": choices},
    )


LEVEL0_QUESTIONS = ("What colour is the circle?", "Which colour does the circle have?", "The circle is which colour?")


def level0(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    colour = ctx.balanced(PRIMARY, "colour")
    side = 3 * CELL
    img = Image.new("RGB", (side, side), tint(rng))
    size = rng.randint(40, side - 4)
    x, y = rng.randint(0, side - size), rng.randint(0, side - size)
    draw_shape(ImageDraw.Draw(img), "circle", (x, y, x + size, y + size), COLOURS[colour])
    choices = list(PRIMARY)
    letter = CHOICE_LETTERS[choices.index(colour)]
    return _sample(
        phrase(rng, LEVEL0_QUESTIONS),
        choices,
        letter,
        f"The circle is {colour}.",
        f"A {colour} circle {size} pixels wide on a pale square image.",
        img,
    )


def level1(ctx: TaskContext) -> Sample:
    kind, sub = ctx.split(["colour", "shape"])
    rng = ctx.rng
    colour = sub.balanced(list(COLOURS), "colour")
    shape = sub.balanced(SHAPES, "shape")
    side = 4 * CELL
    size = rng.randint(48, 84)
    x, y = rng.randint(0, side - size), rng.randint(0, side - size)
    img = Image.new("RGB", (side, side), tint(rng))
    draw_shape(ImageDraw.Draw(img), shape, (x, y, x + size, y + size), COLOURS[colour])
    caption = f"{a(colour).capitalize()} {shape} about {size} pixels wide on a pale background."
    if kind == "colour":
        choices, letter = _options(sub, colour, list(COLOURS), 4)
        return _sample("What colour is the shape?", choices, letter, f"The shape is {colour}.", caption, img)
    choices, letter = _options(sub, shape, SHAPES, 4)
    return _sample("What shape is shown?", choices, letter, f"The shape is a {shape}.", caption, img)


def level2(ctx: TaskContext) -> Sample:
    kind, sub = ctx.split(["colour_of_shape", "shape_of_colour", "leftmost"])
    rng = ctx.rng
    n = rng.randint(3, 4)
    colours, shapes = rng.sample(list(COLOURS), n), rng.sample(SHAPES, n)
    side, grid = 6 * CELL, 6
    # One object per column band, so "leftmost" is never a tie.
    columns = sorted(rng.sample(range(grid), n))
    order = rng.sample(range(n), n)
    img = Image.new("RGB", (side, side), tint(rng))
    draw = ImageDraw.Draw(img)
    placed = []
    for obj, col in zip(order, columns):
        size = rng.randint(18, 26)
        x = col * CELL + rng.randint(0, CELL - size)
        y = rng.randint(0, side - size)
        draw_shape(draw, shapes[obj], (x, y, x + size, y + size), COLOURS[colours[obj]])
        placed.append(obj)
    scene = join_words([a(f"{colours[o]} {shapes[o]}") for o in placed])
    caption = f"From left to right: {scene}, on a pale background."
    target = sub.balanced(range(n), "target") if kind != "leftmost" else placed[0]
    if kind == "colour_of_shape":
        choices, letter = _options(sub, colours[target], list(COLOURS), 5)
        why = f"The {shapes[target]} is {colours[target]}."
        return _sample(f"What colour is the {shapes[target]}?", choices, letter, why, caption, img)
    if kind == "shape_of_colour":
        choices, letter = _options(sub, shapes[target], [*SHAPES, "star"], 5)
        why = f"The {colours[target]} object is a {shapes[target]}."
        return _sample(f"What shape is the {colours[target]} object?", choices, letter, why, caption, img)
    names = [f"{colours[o]} {shapes[o]}" for o in placed]
    # Distractors: the other shapes in the scene, then colour-shape pairs that are not in it.
    absent = [f"{c} {s}" for c in COLOURS for s in SHAPES if f"{c} {s}" not in names]
    choices, letter = _options(sub, names[0], names[1:] + rng.sample(absent, 5 - n), 5)
    why = f"From left to right the shapes are {join_words(names)}, so the leftmost is the {names[0]}."
    return _sample("Which shape is furthest to the left?", choices, letter, why, caption, img)


GENERATORS = (level0, level1, level2)
