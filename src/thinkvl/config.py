"""YAML ↔ config dataclasses, one to one: unknown keys are errors, and help text lives on the fields."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

import yaml

C = TypeVar("C")


def option(default: Any, help: str, paper: str | None = None, **kw: Any) -> Any:  # noqa: A002
    """A dataclass field carrying its help text (and the paper it comes from); list/dict defaults are copied."""
    metadata = {"help": help} if paper is None else {"help": help, "paper": paper}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=metadata, **kw)
    return field(default=default, metadata=metadata, **kw)


def from_mapping(cls: type[C], data: dict[str, Any], *, where: str = "config") -> C:
    """Build a dataclass from a mapping, naming any unknown key and the keys that are allowed."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(names))}")
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None


def load_yaml(cls: type[C], path: str | Path, **overrides: Any) -> C:
    """Read a YAML file into ``cls``; ``overrides`` (e.g. from the command line) win over the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    return from_mapping(cls, data, where=str(path))


def help_text(cls: type) -> dict[str, str]:
    """Field name → help text, for CLI help and docs."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}
