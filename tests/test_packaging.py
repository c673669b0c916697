"""The wheel carries every file the package loads at run time, and its requirements never cap torch."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_have_open_upper_bounds():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    capped = [d for d in deps if "<" in d or "==" in d]
    assert not capped, f"pins belong in scripts/setup.sh, not the package's requirements: {capped}"


@pytest.mark.slow
def test_wheel_carries_every_data_file(tmp_path):
    pytest.importorskip("setuptools")
    src = tmp_path / "tree"  # a copy: building in the checkout would leave build/ and *.egg-info behind
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # node_modules: the React renderer's npm packages, installed beside its package.json at set-up, never shipped.
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "node_modules")
    shutil.copytree(ROOT / "src", src / "src", ignore=ignore)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        str(src),
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "-w",
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("thinkvl-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "src" / "thinkvl"
    data_files = {
        f"thinkvl/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and not {"__pycache__", "node_modules"} & set(p.parts)
    }
    assert {"thinkvl/configs/demo/rl.yaml", "thinkvl/configs/reward.yaml"} <= data_files
    assert "thinkvl/eval/render/js/build_react.cjs" in data_files
    assert data_files - names == set()
    modules = {f"thinkvl/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")}
    assert modules - names == set()
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Requires-Dist: torch>=2.4" in metadata
