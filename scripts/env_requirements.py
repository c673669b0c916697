"""Print an environment's requirements for ``pip install -r``: its dependency group in pyproject.toml (``main``,
``vllm-cpu``, ``verl``; included groups expanded) and thinkvl's own requirements that the group doesn't name (the
group's pin wins). Usage: ``python scripts/env_requirements.py verl``."""

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: the TOML reader pip carries
    from pip._vendor import tomli as tomllib


def name(requirement: str) -> str:
    """The distribution a requirement names, normalised (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][\w.-]*)", requirement).group(1)).lower()


def group(groups: dict, key: str) -> list[str]:
    if key not in groups:
        raise SystemExit(f"no dependency group {key!r} in pyproject.toml; groups: {', '.join(groups)}")
    return [
        r for item in groups[key] for r in (group(groups, item["include-group"]) if isinstance(item, dict) else [item])
    ]


if __name__ == "__main__":
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    own = group(project["dependency-groups"], sys.argv[1] if len(sys.argv) == 2 else "")
    print("\n".join(own + [r for r in project["project"]["dependencies"] if name(r) not in {name(o) for o in own}]))
