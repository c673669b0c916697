"""A layer never imports the one above it: data → model → reward → train → rl, with eval beside train and rl, and
the verl plug-ins (integrations) on top of rl, reusing its pieces but never thinkvl's own trainers.

Generation serves chat, eval and RL, so it lives in the model layer; eval takes a ``generate`` callable and never
imports training or RL. Imports inside functions count too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "thinkvl"
# What each part of the package may import from the rest of thinkvl (besides itself). The CLI, demo and report sit
# on top and may import anything.
ALLOWED = {
    "config": set(),
    "data": {"config"},
    "model": {"config", "data"},
    "metrics": {"data"},
    "reward": {"config", "data", "model"},
    "train": {"config", "data", "model", "metrics"},
    "eval": {"config", "data", "model", "reward"},
    "rl": {"config", "data", "model", "metrics", "reward", "train"},
    "integrations": {"config", "data", "model", "reward", "rl"},
}


def _layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "thinkvl":
                names += [f"thinkvl.{a.name}" for a in node.names]
    return {n.split(".")[1] for n in names if n.startswith("thinkvl.")}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_layer_imports_one_above_it(layer):
    wrong = {}
    files = [PACKAGE / f"{layer}.py"] if (PACKAGE / f"{layer}.py").is_file() else (PACKAGE / layer).rglob("*.py")
    for path in files:
        above = _imported_layers(path) - ALLOWED[layer] - {layer}
        if above:
            wrong[str(path.relative_to(PACKAGE))] = sorted(above)
    assert not wrong, f"{layer} imports layers above it: {wrong}"


def test_generation_lives_in_the_model_layer():
    from thinkvl.model import generate

    for name in ("SamplingParams", "TransformersEngine", "make_generate", "merge_forced"):
        assert hasattr(generate, name)
    assert not (PACKAGE / "rl" / "engine.py").exists()
