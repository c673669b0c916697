#!/usr/bin/env bash
# The test command of the README: set up (if needed), lint, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/thinkvl ] || bash scripts/setup.sh
. .venv/bin/activate
pip install -q -e ".[dev]"
ruff check src tests benchmarks
python -m pytest
