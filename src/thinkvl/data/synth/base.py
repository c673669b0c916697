"""What every task generator shares: the per-record context (seeded randomness, balanced classes) and `Sample`.

A generator is a function ``(ctx: TaskContext) -> Sample``. Randomness comes only from ``ctx``, which is keyed by
(seed, domain, level, slot), so a record never depends on which other records were made with it: asking for
more records, or for other domains or levels, leaves the existing ones unchanged. ``attempt`` re-draws a slot
(when its item already exists in a dataset it must be disjoint from): the free choices (positions, sizes,
colours, wording) change, the balanced classes (`TaskContext.balanced`) stay, so answers stay balanced.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PIL import Image

T = TypeVar("T")

# Every visual token of glm4v covers one 28x28 cell (14-px patches merged 2x2): easy levels align objects to it.
CELL = 28


@dataclass
class Sample:
    """One generated task before it is written: the pixels in memory, the text, and the ground truth."""

    question: str
    answer: Any  # the ground truth, in the form `thinkvl.data.record.answer_problem` accepts for the domain
    answer_text: str  # the words before the boxed answer in the SFT target ("The number of squares is")
    reasoning: str  # a short, correct thinking trace for SFT
    caption: str  # a dense factual description, for pre-training
    image: Image.Image | None = None
    frames: list[Image.Image] = field(default_factory=list)  # a video's frames, in order, when there is no image
    fps: float | None = None  # the rate the frames are sampled at (videos only)
    meta: dict[str, Any] = field(default_factory=dict)  # task facts that go into record.meta (task, choices, ...)


@dataclass
class TaskContext:
    """Where one record comes from: the dataset seed, its domain and level, and its slot (index) in that level."""

    seed: int
    domain: str
    level: int
    slot: int
    attempt: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # String seeds are hashed with SHA-512 by `random`: stable across runs and Python processes.
        redraw = f"/redraw{self.attempt}" if self.attempt else ""
        self.rng = random.Random(f"thinkvl-synth/{self.seed}/{self.domain}/{self.level}/{self.slot}{redraw}")

    def balanced(self, classes: Sequence[T], key: str) -> T:
        """A class for this slot such that each run of len(classes) consecutive slots sees every class once.

        The order inside each run is shuffled (keyed by ``key``), so answers are balanced without a visible
        period, and two properties drawn with different keys are not tied to each other.
        """
        if not classes:
            raise ValueError(f"no classes to choose from for {key!r}")
        k = len(classes)
        block, pos = divmod(self.slot, k)
        order = random.Random(f"thinkvl-synth/{self.seed}/{self.domain}/{self.level}/{key}/{k}/{block}").sample(
            range(k), k
        )
        return classes[order[pos]]

    def split(self, kinds: Sequence[T]) -> tuple[T, TaskContext]:
        """Cycle through sub-tasks; the returned context balances classes within the chosen sub-task."""
        kind_index, sub_slot = self.slot % len(kinds), self.slot // len(kinds)
        kind = kinds[kind_index]
        sub = TaskContext(self.seed, f"{self.domain}/{kind}", self.level, sub_slot, self.attempt)
        return kind, sub


def tint(rng: random.Random, low: int = 236) -> tuple[int, int, int]:
    """A random pale background (never a palette colour): 20^3 = 8,000 shades at the default ``low``."""
    return (rng.randint(low, 255), rng.randint(low, 255), rng.randint(low, 255))


def phrase(rng: random.Random, options: Sequence[str]) -> str:
    """One of several wordings of the same question."""
    return rng.choice(list(options))


def cell_box(row: int, col: int, inset: int = 0, span: int = 1) -> tuple[int, int, int, int]:
    """Pixel box (x1, y1, x2, y2; x2/y2 exclusive) of ``span`` x ``span`` grid cells at (row, col), shrunk by
    ``inset`` px on every side (a small white gap keeps neighbouring objects apart)."""
    return (col * CELL + inset, row * CELL + inset, (col + span) * CELL - inset, (row + span) * CELL - inset)


def box_string(answer: Any) -> str:
    """The answer as it goes between the box tokens: the form the reward system parses.

    >>> box_string([120, 40, 380, 300]), box_string(3), box_string(2.5), box_string("red, green")
    ('[120,40,380,300]', '3', '2.5', 'red, green')
    """
    if isinstance(answer, list):
        return "[" + ",".join(box_string(v) for v in answer) + "]"
    if isinstance(answer, float) and answer.is_integer():
        return str(int(answer))
    return str(answer)


def join_words(items: Sequence[str]) -> str:
    """English list: 'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def a(phrase: str) -> str:
    """'a red square', 'an orange circle', 'an 8-frame video'."""
    return f"an {phrase}" if phrase[:1].lower() in "aeiou8" else f"a {phrase}"


def plural(n: int, word: str) -> str:
    """'1 square', '3 squares'."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
