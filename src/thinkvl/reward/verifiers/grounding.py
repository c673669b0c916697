"""Grounding: boxes ``[x1, y1, x2, y2]`` in 0–1000 coordinates, scored by IoU after optimal matching.

The box may hold one or several boxes (``[10, 20, 300, 400], [500, 20, 700, 400]`` or ``(10,20),(300,400)``);
nothing but numbers, brackets, commas and spaces. Predicted and true boxes are paired by maximum total IoU
(Hungarian algorithm); the score divides by the larger count, so extra or missing boxes cost reward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import clean
from thinkvl.reward.verdict import Check

Box = tuple[float, float, float, float]
MAX_BOXES = 100
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_SEPARATORS = re.compile(r"[\s\[\](),;]*")


@dataclass
class GroundingOptions:
    reward: Literal["iou", "threshold"] = field(
        default="iou", metadata={"help": "iou: mean matched IoU; threshold: share of boxes with IoU >= threshold"}
    )
    iou_threshold: float = field(default=0.5, metadata={"help": "IoU at which a box counts as found"})

    def __post_init__(self) -> None:
        if self.reward not in ("iou", "threshold"):
            raise ValueError(f"grounding reward must be 'iou' or 'threshold', got {self.reward!r}")
        if not 0 < self.iou_threshold <= 1:
            raise ValueError("grounding iou_threshold must be in (0, 1]")


def parse_boxes(text: str) -> list[Box] | None:
    """Boxes written in the answer, or None when it holds anything else (or malformed boxes).

    >>> parse_boxes("[10, 20, 300, 400]")
    [(10.0, 20.0, 300.0, 400.0)]
    >>> parse_boxes("somewhere near [10, 20, 300, 400]") is None
    True
    """
    text = clean(text)
    numbers = _NUMBER.findall(text)
    if not numbers or len(numbers) % 4 or len(numbers) > 4 * MAX_BOXES:
        return None
    if not _SEPARATORS.fullmatch(_NUMBER.sub(" ", text)):
        return None
    values = [float(n) for n in numbers]
    boxes = [tuple(values[k : k + 4]) for k in range(0, len(values), 4)]
    if not all(0 <= v <= 1000 for v in values) or not all(b[0] <= b[2] and b[1] <= b[3] for b in boxes):
        return None
    return boxes  # type: ignore[return-value]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes (0 when both are empty)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def matched_ious(pred: list[Box], gold: list[Box]) -> list[float]:
    """IoUs of the optimal one-to-one pairing (maximum total IoU)."""
    if len(pred) == 1 and len(gold) == 1:
        return [iou(pred[0], gold[0])]
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    matrix = np.array([[iou(p, g) for g in gold] for p in pred])
    rows, cols = linear_sum_assignment(matrix, maximize=True)
    return [float(matrix[r, c]) for r, c in zip(rows, cols)]


@register
class GroundingVerifier(Verifier):
    name = "grounding"
    Options = GroundingOptions

    def warm_up(self) -> None:
        import scipy.optimize  # noqa: F401

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        boxes = answer if answer and isinstance(answer, list) and isinstance(answer[0], list) else [answer]
        ok = all(
            isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) and 0 <= v <= 1000 for v in b)
            for b in boxes
        )
        return None if ok else "a grounding answer is [x1, y1, x2, y2] in 0–1000 or a list of such boxes"

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        boxes = parse_boxes(pred)
        if boxes is None:
            return Check(0.0, False, "no well-formed boxes in 0–1000")
        gold = [tuple(map(float, b)) for b in (answer if isinstance(answer[0], list) else [answer])]
        ious = matched_ious(boxes, gold)
        thr = self.options.iou_threshold
        denom = max(len(boxes), len(gold))
        if self.options.reward == "iou":
            score = sum(ious) / denom
        else:
            score = sum(v >= thr for v in ious) / denom
        ok = len(boxes) == len(gold) and all(v >= thr for v in ious)
        return Check(score, ok, f"{len(boxes)} box(es) for {len(gold)}, IoU {', '.join(f'{v:.2f}' for v in ious)}")
