"""GUI actions: the action type must match, then its arguments (syntax in `thinkvl.reward.gui_actions`).

Ground truth: ``{"action": "click", "box": [x1, y1, x2, y2]}`` (the point must fall inside the target box),
``{"action": "type", "text": "..."}`` (1 − normalised edit distance), ``{"action": "scroll"|"swipe",
"direction": "down"}``, ``{"action": "press", "key": "enter"}``, ``{"action": "open_app", "app": "..."}``, or an
argument-free action (``back``, ``home``, ``wait``, ``finish``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from thinkvl.reward.gui_actions import ALIASES, DIRECTIONS, POINT_ACTIONS, ActionSyntaxError, parse_action
from thinkvl.reward.registry import Verifier, register
from thinkvl.reward.text import clean, unwrap
from thinkvl.reward.verdict import Check


@dataclass
class GUIOptions:
    type_threshold: float = field(default=1.0, metadata={"help": "typed-text similarity counted as correct"})
    type_case_sensitive: bool = field(default=True, metadata={"help": "typed text compares letter case"})

    def __post_init__(self) -> None:
        if not 0 < self.type_threshold <= 1:
            raise ValueError("gui type_threshold must be in (0, 1]")


def _norm_action(name: str) -> str:
    name = name.lower()
    return ALIASES.get(name, name)


def swipe_direction(x1: float, y1: float, x2: float, y2: float) -> str:
    """The dominant direction of a movement (screen y grows downwards)."""
    dx, dy = x2 - x1, y2 - y1
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


@register
class GUIVerifier(Verifier):
    name = "gui"
    Options = GUIOptions

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        if not (isinstance(answer, dict) and isinstance(answer.get("action"), str)):
            return "a GUI answer is an object with an 'action'"
        action = _norm_action(answer["action"])
        box = answer.get("box")
        needs = {
            "type": isinstance(answer.get("text"), str),
            "scroll": answer.get("direction") in DIRECTIONS,
            "swipe": answer.get("direction") in DIRECTIONS,
            "press": isinstance(answer.get("key"), str),
            "open_app": isinstance(answer.get("app"), str),
        }
        if action in POINT_ACTIONS:
            ok = isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
            return None if ok else f"a {action} answer needs 'box': [x1, y1, x2, y2] in 0–1000"
        if not needs.get(action, True):
            return f"the {action} answer lacks its argument (text, direction, key or app)"
        return None

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        try:
            act = parse_action(unwrap(pred))
        except ActionSyntaxError as err:
            return Check(0.0, False, f"unreadable action: {err}")
        want = _norm_action(answer["action"])
        if act.name != want:
            return Check(0.0, False, f"action {act.name}, expected {want}")
        if want in POINT_ACTIONS:
            return self._point(act.numbers(), answer["box"])
        if want == "type":
            return self._typed(act.text("text"), answer["text"])
        if want in ("scroll", "swipe"):
            nums = act.numbers()
            direction = swipe_direction(*nums) if len(nums) == 4 else (act.text("direction") or "").lower()
            ok = direction == answer["direction"]
            return Check(float(ok), ok, f"direction {direction or '?'}")
        if want in ("press", "open_app"):
            key = "key" if want == "press" else "app"
            got = act.text(key, "name")
            ok = got is not None and clean(got).lower() == clean(answer[key]).lower()
            return Check(float(ok), ok, f"{key} {got!r}")
        ok = not act.args and not act.kwargs
        return Check(float(ok), ok, "matching action" if ok else "unexpected arguments")

    def _point(self, nums: list[float], box: list[float]) -> Check:
        if len(nums) == 4:
            nums = [(nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2]
        if len(nums) != 2:
            return Check(0.0, False, "a point action needs x, y")
        x, y = nums
        ok = box[0] <= x <= box[2] and box[1] <= y <= box[3]
        return Check(float(ok), ok, f"point ({x:g}, {y:g}) {'inside' if ok else 'outside'} the target")

    def _typed(self, got: str | None, want: str) -> Check:
        if got is None:
            return Check(0.0, False, "type needs one quoted text")
        a, b = clean(got), clean(want)
        if not self.options.type_case_sensitive:
            a, b = a.lower(), b.lower()
        sim = 1.0 - Levenshtein.normalized_distance(a, b)
        ok = sim >= self.options.type_threshold
        return Check(sim, ok, f"typed-text similarity {sim:.3f}")
