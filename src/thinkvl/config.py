"""Config dataclasses ↔ YAML ↔ command-line flags, one to one.

One loader (`load_config`, `from_mapping`) for every config: it reads a YAML file, lets flags win over it, checks
each value against its field's type and builds the dataclass. One helper (`add_config_flags`) turns a dataclass's
fields and their help into argparse options, so no command copies flags by hand. Unknown keys, a quoted
``'false'``, a word where a number belongs, a list of the wrong length: each is a `ConfigError` naming the field
and the value.

Sections nest: a field typed with a dataclass (``judge: JudgeConfig | None = option(None, "...")``) is a mapping in
YAML (``judge: {url: ...}``), flags ``--judge.url`` and errors naming ``judge.url``; nothing else is needed to add
one. Lists and mappings of dataclasses (``dict[str, DomainConfig]``) are built the same way.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

C = TypeVar("C")
MISSING = dataclasses.MISSING


class ConfigError(ValueError):
    """A config that cannot be used; the message is one line naming the file, field and value."""


def option(default: Any, help: str, paper: str | None = None, **kw: Any) -> Any:  # noqa: A002
    """A dataclass field carrying its help text (and the paper it comes from); list/dict defaults are copied."""
    metadata = {"help": help} if paper is None else {"help": help, "paper": paper}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata=metadata, **kw)
    return field(default=default, metadata=metadata, **kw)


# ------------------------------------------------------------------ YAML
class _Loader(yaml.SafeLoader):
    """Safe YAML that also reads ``1e-5`` as a number (YAML 1.2), as people write learning rates."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, where: str = "<text>") -> Any:
    """Parse YAML text; a syntax error becomes a one-line `ConfigError` with the line number."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 — a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: malformed YAML{at}: {problem}") from None


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (an empty file is an empty mapping)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    data = parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of field: value, got a {type(data).__name__}")
    return data


# ------------------------------------------------------------------ type checking
def _annotation(tp: Any) -> str:
    """``list[str]``, ``tuple[int, int]``, ``dict[str, float]``: a type as it is written in the dataclass."""
    if tp is type(None):
        return "None"
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        return " | ".join(_annotation(a) for a in args)
    if origin is Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _annotation(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    return getattr(tp, "__name__", str(tp))


def _describe(tp: Any) -> str:
    """What a field accepts, in words for the simple cases and as the annotation otherwise."""
    words = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType) and type(None) in args and len(args) == 2:
        return f"{_describe(next(a for a in args if a is not type(None)))} or null"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if tp in words:
        return words[tp]
    if dataclasses.is_dataclass(tp):
        return f"a mapping of {', '.join(f.name for f in dataclasses.fields(tp))}"
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return f"a list of {len(args)} ({_annotation(tp)})"
    return _annotation(tp)


class _Mismatch(Exception):
    pass


def check_type(value: Any, tp: Any, where: str = "config", key: str = "value") -> Any:
    """``value`` checked against the type ``tp`` and normalised (int → float, list → tuple, mapping → dataclass);
    raises `_Mismatch`, or a `ConfigError` from inside a nested dataclass (``key`` names it there).

    Strict on purpose: ``'false'`` is not a bool and ``'2'`` not an int — YAML already gives real types to
    unquoted values, so a string there means the file says something other than what it looks like."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if isinstance(value, Mapping):
            return from_mapping(tp, value, where=where, prefix=f"{key}.")
        raise _Mismatch
    if tp is type(None):
        if value is None:
            return None
        raise _Mismatch
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _Mismatch
    if origin in (Union, types.UnionType):
        for arm in args:
            try:
                return check_type(value, arm, where, key)
            except _Mismatch:
                continue
        raise _Mismatch
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _Mismatch
    if tp is str or tp is Path:
        if isinstance(value, (str, Path)):
            return str(value) if tp is str else Path(value)
        raise _Mismatch
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise _Mismatch
            return tuple(check_type(v, a, where, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        items = [check_type(v, item, where, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _Mismatch
        k_tp, v_tp = args if args else (Any, Any)
        return {check_type(k, k_tp): check_type(v, v_tp, where, f"{key}.{k}") for k, v in value.items()}
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _Mismatch
    return value


def field_types(cls: type) -> dict[str, Any]:
    """Field name → resolved type (annotations are strings under ``from __future__ import annotations``)."""
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]


def check_fields(cls: type, data: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    """Each value of ``data`` checked against ``cls``'s field type; the first mismatch is a `ConfigError`."""
    tps = field_types(cls)
    out = {}
    for name, value in data.items():
        try:
            out[name] = check_type(value, tps[name], where, prefix + name)
        except _Mismatch:
            raise ConfigError(f"{where}: {prefix}{name} must be {_describe(tps[name])}, got {value!r}") from None
    return out


def check_values(obj: Any) -> None:
    """Every field of dataclass ``obj`` checked against its type and normalised in place (call it first in
    ``__post_init__``): a config built in Python fails as one read from YAML does, a `ValueError` naming the field."""
    for name, tp in field_types(type(obj)).items():
        try:
            setattr(obj, name, check_type(getattr(obj, name), tp))
        except _Mismatch:
            raise ValueError(f"{name} must be {_describe(tp)}, got {getattr(obj, name)!r}") from None


def section_class(tp: Any) -> type | None:
    """The dataclass a field's type names, looking inside ``X | None``: such a field is a nested section."""
    arms = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    return next((a for a in arms if dataclasses.is_dataclass(a)), None)


def from_mapping(cls: type[C], data: Mapping[str, Any], *, where: str = "config", prefix: str = "") -> C:
    """Build a dataclass from a mapping, nested sections included: unknown keys named, values type-checked,
    validation errors prefixed with ``where`` and the section (a `ConfigError` raised by the dataclass's own
    validation names its field already and is passed on as it is)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: {prefix}expected a mapping, got {type(data).__name__}")
    unknown = sorted(map(str, set(data) - {f.name for f in dataclasses.fields(cls)}))  # type: ignore[arg-type]
    if unknown:  # a key of a section given at the top level (a flat config from before the section): say where
        tps = field_types(cls)
        home = {k: n for n, tp in tps.items() if (sub := section_class(tp)) for k in field_types(sub)}
        hint = "; ".join(
            f"{k} belongs in the {home[k]} section ({home[k]}: {{{k}: ...}})" for k in unknown if k in home
        )
        names = ", ".join(prefix + k for k in unknown)
        raise ConfigError(f"{where}: unknown key(s) {names}; {hint or 'allowed: ' + ', '.join(sorted(tps))}")
    values = check_fields(cls, data, where, prefix)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {prefix[:-1] + ': ' if prefix else ''}{err}") from None


def merge(cls: type, data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``overrides`` on top of ``data``; a section given in both is merged field by field (a flag sets one)."""
    tps = field_types(cls)
    for key, value in overrides.items():
        sub = section_class(tps[key]) if key in tps else None
        if sub is not None and isinstance(value, Mapping) and isinstance(data.get(key), Mapping):
            value = merge(sub, dict(data[key]), value)
        data[key] = value
    return data


def load_config(cls: type[C], path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> C:
    """The one config loader: YAML file (optional), then ``overrides`` (e.g. flags) on top."""
    data = merge(cls, read_yaml_mapping(path) if path is not None else {}, overrides or {})
    where = str(path) if path is not None else cls.__name__
    return from_mapping(cls, data, where=where)


def load_yaml(cls: type[C], path: str | Path, **overrides: Any) -> C:
    """`load_config` with keyword overrides (``None``: keep the file's value)."""
    return load_config(cls, path, {k: v for k, v in overrides.items() if v is not None})


def help_text(cls: type) -> dict[str, str]:
    """Field name → help text (with its paper link), for CLI help and docs."""
    out = {}
    for f in dataclasses.fields(cls):
        paper = f.metadata.get("paper")
        out[f.name] = f.metadata.get("help", "") + (f" [{paper}]" if paper else "")
    return out


# ------------------------------------------------------------------ command-line flags
def _flag_value(tp: Any) -> typing.Callable[[str], Any]:
    """How one command-line word becomes a value for ``tp``: strings stay strings, the rest are read as YAML
    (so ``--lr 1e-5``, ``--tier-weights '{medium: 2}'``), and ``none``/``null`` is None where None is allowed."""
    arms = get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)
    nullable = type(None) in arms
    stringy = (
        str in arms or Path in arms or (get_origin(tp) is Literal and all(isinstance(a, str) for a in get_args(tp)))
    )

    def convert(word: str) -> Any:
        if nullable and word.lower() in ("none", "null", "~"):
            return None
        if stringy:
            return word
        try:
            return parse_yaml(word, "value")
        except ConfigError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def _sequence(tp: Any) -> tuple[bool, Any, int | None]:
    """(is a sequence, item type, fixed length) for list/tuple fields (looking inside ``X | None``)."""
    arms = [a for a in (get_args(tp) if get_origin(tp) in (Union, types.UnionType) else (tp,)) if a is not type(None)]
    for arm in arms:
        origin, args = get_origin(arm), get_args(arm)
        if origin is list:
            return True, args[0] if args else Any, None
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return True, args[0], None
            return True, Any, len(args) or None
    return False, tp, None


def add_config_flags(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    skip: tuple[str, ...] = (),
    aliases: Mapping[str, tuple[str, ...]] | None = None,
    prefix: str = "",
) -> None:
    """One ``--field-name`` option per field of ``cls`` with the field's help; booleans get ``--no-…`` too; a
    section's fields get ``--section.field-name``. ``skip`` and ``aliases`` (more names for an option) take
    dotted names for a section's fields (``"endpoint.url"``).

    Options that are not given stay out of the namespace (``argparse.SUPPRESS``), so `config_overrides` returns
    only what the user typed and a YAML file's values are kept for the rest."""
    group = parser.add_argument_group(f"{cls.__name__} fields ({f'--{prefix}…: ' if prefix else ''}override the YAML)")
    tps = field_types(cls)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        if name in skip:
            continue
        tp = tps[f.name]
        if (section := section_class(tp)) is not None:
            add_config_flags(parser, section, skip=skip, aliases=aliases, prefix=f"{name}.")
            continue
        default = (
            f.default
            if f.default is not MISSING
            else (
                f.default_factory() if f.default_factory is not MISSING else None  # type: ignore[misc]
            )
        )
        text = help_text(cls)[f.name] or f.name
        names = [f"--{name.replace('_', '-')}", *(aliases or {}).get(name, ())]
        kw: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        if tp is bool:
            group.add_argument(
                *names,
                action=argparse.BooleanOptionalAction,
                help=f"{text} (default: {default})".replace("%", "%%"),
                **kw,
            )
            continue
        is_seq, item, length = _sequence(tp)
        if is_seq:
            kw["nargs"] = length or "+"
            kw["type"] = _flag_value(item)
            kw["metavar"] = f.name.upper()
        else:
            kw["type"] = _flag_value(tp)
            if get_origin(tp) is Literal:
                kw["choices"] = list(get_args(tp))
            else:
                kw["metavar"] = f.name.upper()
        group.add_argument(*names, help=f"{text} (default: {default!r})".replace("%", "%%"), **kw)


def config_overrides(args: argparse.Namespace, cls: type, prefix: str = "") -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (see `add_config_flags`), a section's as a mapping."""
    given = vars(args)
    out: dict[str, Any] = {}
    for field_name, tp in field_types(cls).items():
        name = prefix + field_name
        if (section := section_class(tp)) is not None:
            if sub := config_overrides(args, section, f"{name}."):
                out[field_name] = sub
        elif name in given:
            value = given[name]
            # `--levels '{counting: [0, 1]}'`: one word that is itself a list or mapping stands for the whole value
            if isinstance(value, list) and len(value) == 1 and isinstance(value[0], (list, dict)):
                value = value[0]
            out[field_name] = value
    return out


def config_from_args(cls: type[C], args: argparse.Namespace, path: str | Path | None = None) -> C:
    """YAML at ``path`` (if any) with the flags given in ``args`` on top — the config every command runs with.

    An error the file alone doesn't have is the flags' doing, so it names them (those it mentions), not the file."""
    overrides = config_overrides(args, cls)
    try:
        return load_config(cls, path, overrides)
    except ConfigError as err:
        if not overrides or not _loads(cls, path):
            raise
        where, message = str(path) if path is not None else cls.__name__, str(err)
        rest = message[len(where) :] if message.startswith(where + ":") else f": {message}"
        flags = _flags(cls, overrides)
        named = [flag for flag, field_name in flags if field_name in rest] or [flag for flag, _ in flags]
        raise ConfigError(", ".join(named) + rest) from None


def _loads(cls: type, path: str | Path | None) -> bool:
    try:
        load_config(cls, path)
    except ConfigError:
        return False
    return True


def _flags(cls: type, overrides: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """(flag, field) for each value of ``overrides``, the flag as `add_config_flags` names it (``--min-lr-ratio``,
    ``--endpoint.url``)."""
    tps, out = field_types(cls), []
    for key, value in overrides.items():
        section = section_class(tps[key]) if key in tps else None
        if section is not None and isinstance(value, Mapping):
            out += _flags(section, value, f"{prefix}{key}.")
        else:
            out.append((f"--{(prefix + key).replace('_', '-')}", key))
    return out


def config_class(spec: str) -> type:
    """``"thinkvl.rl.config:RLConfig"`` → the class (imported only when a command needs it)."""
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that adds a command's config flags only when that command is parsed: building the
    whole CLI then imports no config module (RL's imports torch), and ``thinkvl --help`` stays instant."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deferred: list[typing.Callable[[argparse.ArgumentParser], None]] = []

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        while self.deferred:
            self.deferred.pop(0)(self)
        return super().parse_known_args(args, namespace)


def add_config_flags_later(parser: argparse.ArgumentParser, spec: str, **kw: Any) -> None:
    """`add_config_flags` for the class named by ``spec``, deferred until ``parser`` parses (see `CommandParser`)."""

    def add(p: argparse.ArgumentParser) -> None:
        add_config_flags(p, config_class(spec), **kw)

    if isinstance(parser, CommandParser):
        parser.deferred.append(add)
    else:
        add(parser)
