"""The built-in synthetic tasks: valid, deterministic, balanced, within the token budget, and *right*.

Answers are re-derived from the pixels where that is cheap (connected components of the palette colours and a
shape classifier by fill ratio), never from the generator's own bookkeeping.
"""

from __future__ import annotations

import ast
import doctest
import operator
import re
from collections import Counter, defaultdict

import numpy as np
import pytest
from PIL import Image

from thinkvl.data.record import CHOICE_LETTERS
from thinkvl.data.synth import FAMILIES, base, choice, generate, plan, record_id, to_record
from thinkvl.data.synth.draw import COLOURS
from thinkvl.data.synth.ocr import SHORT_WORDS, WORDS
from thinkvl.model.chat import parse_response
from thinkvl.train.samples import sft_target

SLOTS = 24  # per domain and level in the broad tests
CELL = 28


def _media_names(sample, domain, level, slot):
    n = len(sample.frames)
    rid = record_id(domain, level, slot)
    return [f"videos/{rid}/{k:02d}.png" for k in range(n)] if n else [f"images/{rid}.png"]


def all_samples(slots: int = SLOTS):
    for domain, fam in FAMILIES.items():
        for level in range(len(fam.levels)):
            for slot in range(slots):
                yield domain, level, slot, generate(domain, level, slot, seed=0)


# --- pixel analysis, independent of the generators ----------------------------------------------------------


def components(img: Image.Image, rgb: tuple[int, int, int]) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """4-connected components of pixels exactly ``rgb``: (boolean mask cropped to the bounding box, the box as
    (x1, y1, x2, y2), exclusive). Rows are cut into runs; runs that overlap in adjacent rows are joined."""
    mask = np.all(np.asarray(img) == rgb, axis=-1)
    runs: list[tuple[int, int, int]] = []  # (y, x_start, x_end)
    for y in np.nonzero(mask.any(axis=1))[0]:
        edges = np.diff(np.concatenate(([0], mask[y].astype(np.int8), [0])))
        runs += [(int(y), int(a), int(b)) for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0])]
    parent = list(range(len(runs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_row: dict[int, list[int]] = defaultdict(list)
    for i, (y, a, b) in enumerate(runs):
        for j in by_row[y - 1]:
            if runs[j][1] < b and a < runs[j][2]:
                parent[root(i)] = root(j)
        by_row[y].append(i)
    groups: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for i, run in enumerate(runs):
        groups[root(i)].append(run)
    out = []
    for group in groups.values():
        y1, y2 = min(r[0] for r in group), max(r[0] for r in group) + 1
        x1, x2 = min(r[1] for r in group), max(r[2] for r in group)
        crop = np.zeros((y2 - y1, x2 - x1), bool)
        for y, a, b in group:
            crop[y - y1, a - x1 : b - x1] = True
        out.append((crop, (x1, y1, x2, y2)))
    return out


def shape_of(crop: np.ndarray) -> str:
    """Square fills its box, a circle ~0.79 of it; triangles and diamonds ~0.5, told apart by the bottom row."""
    fill = crop.mean()
    if fill > 0.93:
        return "square"
    if fill > 0.66:
        return "circle"
    return "triangle" if crop[-1].mean() > 0.6 else "diamond"


def objects(img: Image.Image) -> list[tuple[str, str, tuple[int, int, int, int]]]:
    """(colour, shape, box) of every palette-coloured blob."""
    return [(name, shape_of(crop), box) for name, rgb in COLOURS.items() for crop, box in components(img, rgb)]


def to_1000(box, w, h):
    return [round(1000 * box[0] / w), round(1000 * box[1] / h), round(1000 * box[2] / w), round(1000 * box[3] / h)]


def evaluate(expression: str, x: int | None = None) -> int:
    """Evaluate our own ASCII arithmetic (digits, + - *, parentheses, x) through a whitelisted AST walk."""
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id == "x" and x is not None:
            return x
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            return ops[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"unexpected syntax in {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


# --- structure ----------------------------------------------------------------------------------------------


def test_base_doctests():
    assert doctest.testmod(base).failed == 0


def test_every_domain_and_level_gives_valid_records_with_verifiable_sft_targets():
    assert set(FAMILIES) == {"counting", "chart", "ocr", "grounding", "math", "choice", "video"}
    for domain, level, slot, sample in all_samples(6):
        assert len(FAMILIES[domain].levels) >= 3
        record = to_record(sample, domain, level, slot, _media_names(sample, domain, level, slot))  # validates
        assert record.difficulty == level and record.question == sample.question
        assert sample.caption and sample.reasoning and sample.answer_text
        parsed = parse_response(sft_target(record))
        assert parsed.format_ok, (record.id, parsed.problems)
        assert parsed.box == record.meta["boxed"]
        # The boxed string reads back as the ground truth.
        if domain == "grounding":
            assert [int(v) for v in re.findall(r"-?\d+", parsed.box)] == record.answer
        elif isinstance(record.answer, int):
            assert int(parsed.box) == record.answer
        else:
            assert parsed.box == record.answer
        # The reasoning reaches the answer it boxes.
        for token in re.findall(r"[A-Za-z0-9-]+", parsed.box):
            assert token in record.meta["reasoning"], (record.id, token)


def test_images_fit_the_visual_token_budget():
    """Sides are multiples of 28 px (one visual token), at most 224, and at most 64 tokens per image or video."""
    for domain, level, _slot, sample in all_samples(4):
        pictures = sample.frames or [sample.image]
        w, h = pictures[0].size
        assert w % CELL == 0 and h % CELL == 0 and max(w, h) <= 224, (domain, level, w, h)
        assert all(p.size == (w, h) and p.mode == "RGB" for p in pictures)
        steps = len(sample.frames) // 2 if sample.frames else 1
        assert steps * (w // CELL) * (h // CELL) <= 64, (domain, level)
        if level == 0:
            assert max(w, h) <= 168, (domain, w, h)


def test_generation_is_deterministic_by_seed_and_independent_of_the_request():
    for domain, fam in FAMILIES.items():
        for level in range(len(fam.levels)):
            a, b = generate(domain, level, 5, seed=3), generate(domain, level, 5, seed=3)
            pixels = lambda s: [p.tobytes() for p in (s.frames or [s.image])]  # noqa: E731
            assert pixels(a) == pixels(b) and a.question == b.question and a.answer == b.answer and a.meta == b.meta
            others = [generate(domain, level, 5, seed=s) for s in range(4, 12)]
            assert any(pixels(o) != pixels(a) for o in others), (domain, level)
    # Record i of a domain is (level i % L, slot i // L) whatever else is asked for; domains are interleaved, so a
    # reader streaming the file in order sees every domain from the start.
    full = plan(["counting", "video"], 9, None)
    assert [job for job in full if job[0] == "counting"][:3] == [
        ("counting", 0, 0),
        ("counting", 1, 0),
        ("counting", 2, 0),
    ]
    assert [job[0] for job in full[:4]] == ["counting", "video", "counting", "video"]
    assert plan(["video"], 2, [2]) == [("video", 2, 0), ("video", 2, 1)]
    assert len(full) == 18


def test_bad_requests_are_clear_errors():
    with pytest.raises(ValueError, match="known: counting"):
        generate("poetry", 0, 0)
    with pytest.raises(ValueError, match="levels 0–2"):
        generate("chart", 3, 0)
    with pytest.raises(ValueError, match="levels 0–2"):
        plan(["ocr"], 5, [0, 4])
    with pytest.raises(ValueError, match="n"):
        plan(None, 0, None)
    with pytest.raises(ValueError, match="twice"):
        plan(["ocr", "ocr"], 5, None)


# --- balance and consistency ----------------------------------------------------------------------------------


def test_level0_answers_are_exactly_balanced_and_harder_levels_nearly():
    slots = 72  # a multiple of every level-0 class count (and of 3 video sub-tasks times theirs)
    for domain, fam in FAMILIES.items():
        for level in range(len(fam.levels)):
            counts: dict[str, Counter] = defaultdict(Counter)
            for slot in range(slots):
                s = generate(domain, level, slot)
                # Level-0 grounding boxes vary continuously; the balanced class is the quadrant.
                counts[s.meta.get("video_task", "")][str(s.meta.get("quarter", s.answer))] += 1
            for task, c in counts.items():
                if level == 0:
                    assert len(c) >= 2 and max(c.values()) == min(c.values()), (domain, task, c)
                else:
                    assert max(c.values()) / sum(c.values()) <= 0.35, (domain, level, task, c)


def test_level0_image_determines_the_answer():
    """No label noise at the easiest level: two identical images never carry different answers."""
    for domain in FAMILIES:
        seen: dict[tuple, str] = {}
        for slot in range(60):
            s = generate(domain, 0, slot)
            key = (s.question, tuple(p.tobytes() for p in (s.frames or [s.image])))
            assert seen.setdefault(key, str(s.answer)) == str(s.answer), domain


# --- answers checked against the pixels -----------------------------------------------------------------------


def test_counting_answers_match_the_pixels():
    for level in range(3):
        for slot in range(SLOTS):
            s = generate("counting", level, slot)
            colour, _, shape = s.meta["target"].rpartition(" ")
            found = [(c, sh) for c, sh, _ in objects(s.image)]
            if level == 0:
                pixels = np.asarray(s.image)
                background = pixels[0, 0]  # squares keep 1 px clear of their cell's edges
                centres = pixels[CELL // 2 :: CELL, CELL // 2 :: CELL]
                assert (centres != background).any(axis=-1).sum() == s.answer
                assert len(found) == s.answer
            elif level == 1:
                assert [sh for _, sh in found] == [shape] * s.answer, (slot, found)
            else:
                assert sum(f == (colour, shape) for f in found) == s.answer, (slot, found)
                assert len(found) > s.answer  # distractors present


def test_grounding_box_is_the_described_objects_pixels():
    for level in range(3):
        for slot in range(SLOTS):
            s = generate("grounding", level, slot)
            colour, shape = s.meta["target"].split()
            w, h = s.image.size
            matches = [box for c, sh, box in objects(s.image) if (c, sh) == (colour, shape)]
            assert len(matches) == 1, (level, slot, matches)
            assert to_1000(matches[0], w, h) == s.answer
            x1, y1, x2, y2 = s.answer
            assert 0 <= x1 < x2 <= 1000 and 0 <= y1 < y2 <= 1000


def test_chart_answers_match_bar_heights():
    for slot in range(SLOTS):
        s = generate("chart", 0, slot)
        (colour, value), = s.meta["values"].items()  # fmt: skip
        [(crop, _)] = components(s.image, COLOURS[colour])
        assert crop.shape[0] == s.answer * CELL == value * CELL
        s = generate("chart", 1, slot)
        asked = re.search(r"the (\w+) bar", s.question).group(1)
        [(crop, _)] = components(s.image, COLOURS[asked])
        assert crop.shape[0] == s.answer * 26  # 26 px per unit on the level-1 axis
    for slot in range(SLOTS):
        s = generate("chart", 2, slot)
        top = max(int(v) for v in re.findall(r"0–(\d+)", s.caption))
        assert 0 < s.answer <= top and s.answer % (top // 10) == 0


def test_math_answers_evaluate_from_the_expression():
    for level in range(3):
        for slot in range(SLOTS):
            s = generate("math", level, slot)
            expr = s.meta["expression"]
            if "=" in expr:
                left, right = expr.split("=")
                assert evaluate(left, x=s.answer) == evaluate(right)
                assert evaluate(left, x=s.answer + 1) != evaluate(right)
            else:
                assert evaluate(expr) == s.answer
            assert np.asarray(s.image).min() < 100  # ink was drawn


def test_ocr_answers_are_rendered_words():
    for slot in range(SLOTS):
        s = generate("ocr", 0, slot)
        assert s.answer in SHORT_WORDS
        pixels = np.asarray(s.image.convert("L"))
        assert all((pixels[:, i * 56 : (i + 1) * 56] < 128).any() for i in range(3))  # a letter in every block
        for level in (1, 2):
            s = generate("ocr", level, slot)
            assert all(w.lower() in WORDS for w in s.answer.split())
            assert np.asarray(s.image.convert("L")).min() < 100
    # Every word occurs, and no two renderings of a word are the same image.
    same = [generate("ocr", 0, k) for k in range(24)]
    by_word = defaultdict(set)
    for s in same:
        by_word[s.answer].add(s.image.tobytes())
    assert all(len(v) == 4 for v in by_word.values()) and len(by_word) == len(SHORT_WORDS)


def test_choice_answer_letter_names_what_is_drawn():
    for level in range(3):
        for slot in range(SLOTS):
            s = generate("choice", level, slot)
            chosen = s.meta["choices"][CHOICE_LETTERS.index(s.answer)]
            assert len(set(s.meta["choices"])) == len(s.meta["choices"])
            found = objects(s.image)
            q = s.question.splitlines()[0]
            if q in choice.LEVEL0_QUESTIONS:
                assert [c for c, sh, _ in found if sh == "circle"] == [chosen], (level, slot, found)
            elif q.startswith("What colour is the"):
                shape = q.removeprefix("What colour is the ").rstrip("?")
                wanted = [c for c, sh, _ in found if shape in ("shape", sh)]
                assert wanted == [chosen], (level, slot, found)
            elif q == "What shape is shown?":
                assert [sh for _, sh, _ in found] == [chosen]
            elif q.startswith("What shape is the"):
                colour = q.split()[4]
                assert [sh for c, sh, _ in found if c == colour] == [chosen]
            else:
                assert "left" in q
                leftmost = min(found, key=lambda f: f[2][0])
                assert f"{leftmost[0]} {leftmost[1]}" == chosen


# --- video --------------------------------------------------------------------------------------------------


def _target_steps(frames, target):
    """Per temporal step, the box of the named object (None when absent)."""
    colour, shape = target.split()
    out = []
    for frame in frames[::2]:
        boxes = [b for c, sh, b in objects(frame) if (c, sh) == (colour, shape)]
        assert len(boxes) <= 1
        out.append(boxes[0] if boxes else None)
    return out


def test_video_frames_pair_up_and_timestamps_follow_glm4v():
    for level in range(3):
        for slot in range(SLOTS):
            s = generate("video", level, slot)
            assert len(s.frames) % 2 == 0 and len(s.frames) >= 4
            for k in range(0, len(s.frames), 2):  # an event holds for both frames of a temporal step
                assert s.frames[k].tobytes() == s.frames[k + 1].tobytes()
            # glm4v labels step k with int() of its first frame's time, frame 2k at 2k / fps seconds.
            assert s.meta["step_seconds"] == [int(2 * k / s.fps) for k in range(len(s.frames) // 2)]
            if level == 2:
                assert s.fps in (1.0, 2.0)


def test_video_answers_match_the_frames():
    signs = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
    seen_tasks = set()
    for level in range(3):
        for slot in range(SLOTS):
            s = generate("video", level, slot)
            task = s.meta["video_task"]
            seen_tasks.add(task)
            times = s.meta["step_seconds"]
            if task == "when":
                steps = _target_steps(s.frames, s.meta["target"])
                first = next(k for k, b in enumerate(steps) if b is not None)
                assert times[first] == s.answer and all(b is not None for b in steps[first:])
            elif task == "direction":
                steps = _target_steps(s.frames, s.meta["target"])
                (x0, y0, *_), (x1, y1, *_) = steps[0], steps[-1]
                dx, dy = np.sign(x1 - x0), np.sign(y1 - y0)
                expected = tuple(sum(signs[p][i] for p in s.answer.split("-")) for i in range(2))
                assert (dx, dy) == expected, (level, slot, s.answer)
            else:
                colours = s.answer.split(", ")
                firsts = []
                for c in colours:
                    present = [bool(components(f, COLOURS[c])) for f in s.frames[::2]]
                    firsts.append(present.index(True))
                assert firsts == sorted(firsts) and len(set(firsts)) == len(firsts), (level, slot, s.answer)
    assert seen_tasks == {"direction", "when", "order"}
