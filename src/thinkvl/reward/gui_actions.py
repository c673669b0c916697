"""The textual GUI action syntax the model writes in its box, and its parser (a tiny grammar, never evaluated).

    click(512, 300)          tap a point, 0–1000 screen coordinates (also double_click, right_click,
                             long_press, hover); click([x1, y1, x2, y2]) taps the box centre
    type("hello world")      type text: a double-quoted string with JSON escapes
    scroll(down)             up | down | left | right, bare or quoted
    swipe(500, 800, 500, 200) from a point to a point; its direction is the dominant movement (here "up")
    press("enter")           a key (key(...) is the same)
    open_app("Settings")     launch an app
    back()  home()  wait()  finish()

Keyword arguments are accepted too: ``click(x=512, y=300)``, ``type(text="hi")``, ``scroll(direction="down")``.
Aliases: tap → click, input → type, key → press, launch/open → open_app, done/stop → finish, go_back → back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

ALIASES = {"tap": "click", "input": "type", "type_text": "type", "key": "press", "launch": "open_app",
           "open": "open_app", "done": "finish", "stop": "finish", "go_back": "back", "press_back": "back",
           "press_home": "home", "doubleclick": "double_click", "longpress": "long_press"}  # fmt: skip
POINT_ACTIONS = {"click", "double_click", "right_click", "long_press", "hover"}
DIRECTIONS = {"up", "down", "left", "right"}
MAX_ACTION_CHARS = 2_000
_CALL = re.compile(r"\s*([A-Za-z_]+)\s*\((.*)\)\s*", re.S)
_ARG_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<word>[A-Za-z_]+)|(?P<p>[=,\[\]]))'
)


def _inside_brackets(body: str, pos: int) -> bool:
    return body.count("[", 0, pos) > body.count("]", 0, pos)


class ActionSyntaxError(ValueError):
    """The box does not hold one action in the documented syntax."""


@dataclass
class Action:
    name: str
    args: list[float | str] = field(default_factory=list)  # positional, numbers and strings
    kwargs: dict[str, float | str] = field(default_factory=dict)

    def numbers(self) -> list[float]:
        nums = [a for a in self.args if isinstance(a, float)]
        for key in ("x", "y", "x1", "y1", "x2", "y2"):
            if isinstance(self.kwargs.get(key), float):
                nums.append(self.kwargs[key])  # type: ignore[arg-type]
        return nums

    def text(self, *keys: str) -> str | None:
        for key in keys:
            if isinstance(self.kwargs.get(key), str):
                return self.kwargs[key]  # type: ignore[return-value]
        strings = [a for a in self.args if isinstance(a, str)]
        return strings[0] if len(strings) == 1 else None


def parse_action(text: str) -> Action:
    """Parse one action call; raises ActionSyntaxError.

    >>> parse_action('type("hi \\\\"there\\\\"")')
    Action(name='type', args=['hi "there"'], kwargs={})
    >>> parse_action("tap(x=10, y=20)").name
    'click'
    """
    if len(text) > MAX_ACTION_CHARS:
        raise ActionSyntaxError("action too long")
    m = _CALL.fullmatch(text)
    if m is None:
        raise ActionSyntaxError("expected one action call like click(512, 300)")
    name = m.group(1).lower()
    action = Action(ALIASES.get(name, name))
    pending_key: str | None = None  # a keyword waiting for its value
    expect_value = True  # after "(" or ","
    body, pos = m.group(2), 0
    while body[pos:].strip():
        tok = _ARG_TOKEN.match(body, pos)
        if tok is None:
            raise ActionSyntaxError(f"unexpected {body[pos:].strip()[:20]!r} in action arguments")
        pos, kind = tok.end(), tok.lastgroup
        if kind == "p":
            punct = tok.group("p")
            if punct == "=" and pending_key is None:
                raise ActionSyntaxError("'=' without a keyword")
            if punct == ",":
                if expect_value:
                    raise ActionSyntaxError("empty argument")
                expect_value = True
            continue  # brackets around a box are layout
        if kind == "word" and re.match(r"\s*=", body[pos:]) and pending_key is None:
            if not expect_value:
                raise ActionSyntaxError("missing ',' between arguments")
            pending_key = tok.group("word").lower()
            continue
        if not expect_value and pending_key is None and not _inside_brackets(body, tok.start()):
            raise ActionSyntaxError("missing ',' between arguments")
        value: float | str
        if kind == "str":
            value = json.loads(tok.group("str"))
        elif kind == "num":
            value = float(tok.group("num"))
        else:
            value = tok.group("word")
        if pending_key is not None:
            action.kwargs[pending_key] = value
            pending_key = None
        else:
            action.args.append(value)
        expect_value = False
    if pending_key is not None:
        raise ActionSyntaxError(f"keyword {pending_key!r} without a value")
    return action
