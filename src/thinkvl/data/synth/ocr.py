"""Reading rendered text (OCR).

Level 0: one of six 3-letter words in bold capitals, one letter per 56x56 block (2x2 visual tokens), 168x56;
each letter 38–46 px, stroke 2–3 px, shifted up to 5 px in its block, in one of 64,000 dark inks on one of 8,000
pale backgrounds. Space: 6 words x (9 x 2 x 121)^3 letter renderings x 64,000 x 8,000: over 10^17 items (the
answer set stays six words, so every held-out answer also occurs in training: by design, for the tiny model).
Level 1: one lowercase word of 4–6 letters from a 40-word list, dark ink on a light ground, 224x56: over 10^12.
Level 2: two lines of one or two words each in mixed case, smaller type, with scratch lines, 224x112: over 10^15.
The answer is the text exactly as drawn; lines are joined by one space.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext, tint
from thinkvl.data.synth.draw import draw_glyph, font, text_width

LEVELS = 3
# Level 0: short words whose letters look unlike each other.
SHORT_WORDS = ("CAT", "DOG", "SUN", "BOX", "PIG", "HEN")
WORDS = (
    "apple", "river", "stone", "cloud", "green", "tiger", "house", "light", "water", "plant",
    "bread", "chair", "field", "music", "paper", "sugar", "train", "wheel", "zebra", "queen",
    "fox", "jump", "kite", "lamp", "moon", "nest", "ocean", "pearl", "quiz", "rose",
    "ship", "tree", "vivid", "wolf", "yard", "bike", "cake", "duck", "frog", "gold",
)  # fmt: skip


def _ink(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randint(0, 90) for _ in range(3))


def _paper(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randint(215, 255) for _ in range(3))


def glyph_row(rng: random.Random, text: str, block: int = 2 * CELL) -> Image.Image:
    """One bold character per ``block`` x ``block`` square, each with its own size, stroke and small shift, in one
    dark ink on a pale background."""
    img = Image.new("RGB", (block * len(text), block), tint(rng))
    draw = ImageDraw.Draw(img)
    ink = tuple(rng.randint(0, 60) for _ in range(3))
    for i, ch in enumerate(text):
        dx, dy = rng.randint(-5, 5), rng.randint(-5, 5)
        cell = (i * block + dx, dy, (i + 1) * block + dx, block + dy)
        draw_glyph(draw, cell, ch, rng.randint(38, 46), ink, bold=rng.randint(2, 3))
    return img


def level0(ctx: TaskContext) -> Sample:
    word = ctx.balanced(SHORT_WORDS, "word")
    img = glyph_row(ctx.rng, word)
    spelled = ", ".join(word)
    return Sample(
        question="What word is written in the image?",
        answer=word,
        answer_text="The word is",
        reasoning=f"There are {len(word)} large capital letters, read left to right: {spelled}. Together: {word}.",
        caption=f'The word "{word}" in large dark capital letters on a pale background, one letter per square.',
        image=img,
        meta={"task": "word"},
    )


def level1(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    word = ctx.balanced(WORDS, "word")
    size = rng.randint(26, 32)
    w, h = 8 * CELL, 2 * CELL
    img = Image.new("RGB", (w, h), _paper(rng))
    draw = ImageDraw.Draw(img)
    slack = max(0, int(w - text_width(word, size)) - 8)
    x = 4 + rng.randint(0, slack)
    y = h // 2 + rng.randint(-6, 6)
    draw.text((x, y), word, font=font(size), fill=_ink(rng), anchor="lm")
    return Sample(
        question="What word is written in the image?",
        answer=word,
        answer_text="The word is",
        reasoning=f"I read the letters from left to right: {', '.join(word)}. They spell {word}.",
        caption=f'The lowercase word "{word}" in dark letters on a light background.',
        image=img,
        meta={"task": "word"},
    )


def _styled(rng: random.Random, word: str) -> str:
    style = rng.choice(("lower", "title", "upper"))
    return {"lower": word.lower(), "title": word.title(), "upper": word.upper()}[style]


def level2(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    first = ctx.balanced(WORDS, "word")
    lines = [
        " ".join(_styled(rng, w) for w in [first] + rng.sample(WORDS, rng.randint(0, 1))),
        " ".join(_styled(rng, w) for w in rng.sample(WORDS, rng.randint(1, 2))),
    ]
    size = rng.randint(18, 22)
    w, h = 8 * CELL, 4 * CELL
    img = Image.new("RGB", (w, h), _paper(rng))
    draw = ImageDraw.Draw(img)
    for _ in range(rng.randint(2, 4)):  # scratches, lighter than the ink
        grey = rng.randint(150, 200)
        draw.line([(rng.randint(0, w), rng.randint(0, h)) for _ in range(2)], fill=(grey, grey, grey), width=1)
    ink = _ink(rng)
    for i, line in enumerate(lines):
        slack = max(0, int(w - text_width(line, size)) - 8)
        y = 18 + i * 52 + rng.randint(-4, 4)
        draw.text((4 + rng.randint(0, slack), y), line, font=font(size), fill=ink, anchor="lm")
    text = " ".join(lines)
    return Sample(
        question="Read all the text in the image, line by line.",
        answer=text,
        answer_text="The text reads",
        reasoning=f'There are two lines of text. The first line says "{lines[0]}" and the second "{lines[1]}".',
        caption=f'Two lines of dark text on a light, scratched background: "{lines[0]}" above "{lines[1]}".',
        image=img,
        meta={"task": "lines", "lines": lines},
    )


GENERATORS = (level0, level1, level2)
