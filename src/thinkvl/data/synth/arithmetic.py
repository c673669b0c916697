"""Math shown in the image: arithmetic and one-variable linear equations (domain "math").

Level 0: "a+b" in bold single digits with sums 2–4, one character per 56x56 block (2x2 visual tokens), 168x56,
rendered like OCR level 0 (size, stroke, shift per character, ink, background). Space: 6 sums x (9 x 2 x 121)^3
x 64,000 x 8,000: over 10^17 items (three answers, so every held-out answer also occurs in training).
Level 1: one operation: two-digit ± one-digit, or a one-digit product, 224x56, 7 sizes, 27,000 papers: over 10^8.
Level 2: a two-step expression with parentheses, or "solve for x" in a linear equation, 224x84: over 10^8.
meta["expression"] holds the problem in plain ASCII ("(3+4)*5", "3*x+4=19") for independent checking.
"""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from thinkvl.data.synth.base import CELL, Sample, TaskContext
from thinkvl.data.synth.draw import BLACK, draw_text
from thinkvl.data.synth.ocr import glyph_row

LEVELS = 3
QUESTION = "What is the value of the expression in the image?"


def _render(lines: list[tuple[str, int]], width: int, height: int, rng: random.Random) -> Image.Image:
    """Centre each (text, size) line in its equal share of the height, on a light random paper colour."""
    img = Image.new("RGB", (width, height), tuple(rng.randint(225, 255) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    for i, (text, size) in enumerate(lines):
        y = height * (i + 0.5) / len(lines)
        draw_text(draw, (width / 2, y), text, size, BLACK, anchor="mm")
    return img


def level0(ctx: TaskContext) -> Sample:
    total = ctx.balanced([2, 3, 4], "sum")
    a = ctx.rng.randint(max(1, total - 3), min(3, total - 1))
    b = total - a
    text = f"{a}+{b}"
    img = glyph_row(ctx.rng, text)
    return Sample(
        question=QUESTION,
        answer=total,
        answer_text="The value is",
        reasoning=f"The image shows {a} + {b}. Adding: {a} + {b} = {total}.",
        caption=f'The sum "{a}+{b}" in large dark characters on a pale background.',
        image=img,
        meta={"task": "arithmetic", "expression": text},
    )


def level1(ctx: TaskContext) -> Sample:
    rng = ctx.rng
    op = ctx.balanced(["+", "-", "×"], "op")
    if op == "×":
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        value, verb = a * b, "Multiplying"
    else:
        a, b = rng.randint(10, 49), rng.randint(1, 9)
        value, verb = (a + b, "Adding") if op == "+" else (a - b, "Subtracting")
    shown = f"{a} {op} {b}"
    return Sample(
        question=QUESTION,
        answer=value,
        answer_text="The value is",
        reasoning=f"The image shows {shown}. {verb}: {shown} = {value}.",
        caption=f'The expression "{shown}" in black on a light background.',
        image=_render([(shown, rng.randint(28, 34))], 8 * CELL, 2 * CELL, rng),
        meta={"task": "arithmetic", "expression": shown.replace("×", "*").replace(" ", "")},
    )


def _signed(b: int) -> str:
    return f"+ {b}" if b >= 0 else f"- {-b}"


def level2(ctx: TaskContext) -> Sample:
    kind, sub = ctx.split(["expression", "equation"])
    rng = ctx.rng
    w, h = 8 * CELL, 3 * CELL
    if kind == "equation":
        x = sub.balanced(list(range(-4, 10)), "x")
        a = rng.randint(2, 9)
        b = rng.choice([v for v in range(-20, 21) if v])
        c = a * x + b
        shown = f"{a}x {_signed(b)} = {c}"
        undo = f"Subtract {b} from both sides" if b > 0 else f"Add {-b} to both sides"
        return Sample(
            question="Solve the equation in the image for x.",
            answer=x,
            answer_text="x =",
            reasoning=f"The equation is {shown}. {undo}: {a}x = {c - b}. Divide by {a}: x = {x}.",
            caption=f'The text "Solve for x:" above the equation "{shown}".',
            image=_render([("Solve for x:", 18), (shown, 26)], w, h, rng),
            meta={"task": "equation", "expression": f"{a}*x{'+' if b >= 0 else '-'}{abs(b)}={c}"},
        )
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(2, 9)
    if rng.random() < 0.5:
        inner = a + b
        shown, ascii_ = f"({a} + {b}) × {c}", f"({a}+{b})*{c}"
        value = inner * c
        steps = f"First the parentheses: {a} + {b} = {inner}. Then {inner} × {c} = {value}."
    else:
        product = a * b
        shown, ascii_ = f"{a} × {b} - {c}", f"{a}*{b}-{c}"
        value = product - c
        steps = f"Multiplication first: {a} × {b} = {product}. Then {product} - {c} = {value}."
    return Sample(
        question=QUESTION,
        answer=value,
        answer_text="The value is",
        reasoning=f"The image shows {shown}. {steps}",
        caption=f'The expression "{shown}" in black on a light background.',
        image=_render([(shown, rng.randint(26, 32))], w, h, rng),
        meta={"task": "arithmetic", "expression": ascii_},
    )


GENERATORS = (level0, level1, level2)
