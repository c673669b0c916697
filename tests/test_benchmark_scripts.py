"""Every benchmark script imports against the current package: a renamed or moved function breaks a benchmark
(run by hand, not by the suite) silently otherwise, as `load_grades` → `read_grades` once did."""

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(p.stem for p in BENCHMARKS.glob("*.py"))


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_script_imports(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the scripts import their neighbours (common, trl_grpo)
    for cached in [m for m in sys.modules if m in SCRIPTS]:
        monkeypatch.delitem(sys.modules, cached)
    module = importlib.import_module(name)
    assert module.__file__ and Path(module.__file__).parent == BENCHMARKS
