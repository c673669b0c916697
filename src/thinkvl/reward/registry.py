"""Verifiers are small classes registered by name, so a user adds a domain without touching the dispatcher.

    @register
    class Palindrome(Verifier):
        name = "palindrome"

        def verify(self, pred, answer, meta, *, lenient=False):
            ok = pred == pred[::-1]
            return Check(float(ok), ok, "palindrome" if ok else "not a palindrome")

A domain's config names its verifier (``domains: {words: {verifier: palindrome}}``). Worker processes import
the module that defined each registered verifier, so define custom verifiers in an importable module (or list it
under ``plugins`` in the config).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from thinkvl.config import ConfigError, from_mapping
from thinkvl.reward.verdict import Check, RewardError


@dataclasses.dataclass
class NoOptions:
    """Options of a verifier that has none."""


class Verifier:
    """A domain verifier: reads the extracted answer text and the ground truth, returns a `Check`.

    Subclasses set ``name``, optionally ``Options`` (a dataclass of tunables filled from the domain's YAML
    ``options``), override `verify`, and may override `answer_problem` to reject malformed ground truth early.
    Verifiers must be pure (no I/O) and never evaluate the text they are given.
    """

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions

    def __init__(self, options: Any = None):
        self.options = options if options is not None else self.Options()

    def answer_problem(self, answer: Any, meta: dict[str, Any]) -> str | None:
        """Why this ground truth can't be verified, or None when it is fine."""
        return None

    def warm_up(self) -> None:
        """Import anything slow now: workers call this before taking tasks, so imports never eat a time limit."""

    def verify(self, pred: str, answer: Any, meta: dict[str, Any], *, lenient: bool = False) -> Check:
        """Judge ``pred`` (the box content, or with ``lenient`` a freer extraction) against ``answer``."""
        raise NotImplementedError


VERIFIERS: dict[str, type[Verifier]] = {}


def register(cls: type[Verifier]) -> type[Verifier]:
    """Class decorator: make a verifier available by its ``name`` (re-registering a name replaces it)."""
    if not (isinstance(cls, type) and issubclass(cls, Verifier)):
        raise TypeError(f"register expects a Verifier subclass, got {cls!r}")
    if not cls.name or not isinstance(cls.name, str):
        raise ValueError(f"verifier class {cls.__name__} needs a non-empty string `name`")
    VERIFIERS[cls.name] = cls
    return cls


def get_verifier(name: str) -> type[Verifier]:
    """The verifier class registered under ``name``; an unknown name is an error listing the known ones."""
    try:
        return VERIFIERS[name]
    except KeyError:
        raise RewardError(f"no verifier named {name!r}; registered: {', '.join(sorted(VERIFIERS))}") from None


def build_options(cls: type[Verifier], data: dict[str, Any] | None, where: str) -> Any:
    """Fill a verifier's Options dataclass from YAML with the one config loader: unknown keys and ill-typed values
    are errors naming them."""
    try:
        return from_mapping(cls.Options, dict(data or {}), where=f"{where} (verifier {cls.name!r})")
    except ConfigError as err:
        raise RewardError(str(err)) from None
