"""What every loader shares: the load context, the `Family` of functions a dataset family provides, and the
small parsing helpers their schemas need."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinkvl.data.record import CHOICE_LETTERS, Record
from thinkvl.eval.media import MediaStore
from thinkvl.eval.registry import Benchmark


@dataclass
class LoadContext:
    """One benchmark being loaded: its spec, data directory, media store and loader options."""

    bench: Benchmark
    source: Path  # <data-dir>/<bench.local_dir>
    media: MediaStore
    download: bool = False  # fall back to datasets.load_dataset from the Hub
    options: dict[str, Any] = field(default_factory=dict)  # bench.options with overrides applied

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


class BadItemError(ValueError):
    """One item of a benchmark that can't become a record (malformed in the dataset); it is skipped and listed."""


RowsFn = Callable[[LoadContext], Iterable[Any]]
ConvertFn = Callable[[Any, LoadContext], "Record | list[Record]"]


@dataclass(frozen=True)
class Family:
    """A dataset family: ``rows`` reads annotation rows; ``convert`` turns one row into record(s).

    ``media_root`` says where records' media paths are relative to: the data directory itself ("source": files are
    referenced in place) or a cache directory ("cache": embedded bytes and decoded frames are written there). It
    may be a function of the data directory when the same benchmark ships either way.
    """

    rows: RowsFn
    convert: ConvertFn
    media_root: Literal["source", "cache"] | Callable[[Path], Literal["source", "cache"]] = "cache"

    def root_kind(self, source: Path) -> str:
        return self.media_root(source) if callable(self.media_root) else self.media_root


def missing_value(value: Any) -> bool:
    """Empty cells as the datasets write them: None, NaN, '', 'nan', 'None'."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in ("", "nan", "NaN", "None")


def literal_list(value: Any, *, what: str) -> list[Any]:
    """A list stored as a Python literal string (MMMU ``options``), or a list already."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        try:
            parsed = ast.literal_eval(value.strip())  # literals only: never evaluates code
        except (ValueError, SyntaxError):
            raise ValueError(f"{what}: not a list literal: {value[:80]!r}") from None
        if isinstance(parsed, (list, tuple)):
            return list(parsed)
    raise ValueError(f"{what}: expected a list, got {type(value).__name__}")


def option_list(value: Any, *, what: str) -> list[str]:
    """Multiple-choice options as strings: a list or a list literal; a list wrapped in a list is unwrapped (a few
    MMMU-Pro rows); more options than there are letters is a `BadItemError`."""
    options = literal_list(value, what=what)
    if len(options) == 1 and isinstance(options[0], (list, tuple)):
        options = list(options[0])
    if len(options) > len(CHOICE_LETTERS):
        raise BadItemError(f"{what}: {len(options)} options, more than the {len(CHOICE_LETTERS)} letters A-J")
    return [str(o) for o in options]


def images_from_columns(row: dict[str, Any], ctx: LoadContext, key: str, names: Iterable[str]) -> list[str]:
    """Store the non-empty image columns of a row (image_1 … image_7), in order."""
    out = []
    for name in names:
        value = row.get(name)
        if value is not None and not missing_value(value):
            out.append(ctx.media.image(value, f"{key}-{name}", item=key))
    return out
