#!/usr/bin/env bash
# The test command of the README: set up (if needed), lint, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/thinkvl ] || bash scripts/setup.sh
. .venv/bin/activate
pip install -q -e ".[dev]"
[ -d src/thinkvl/eval/render/js/node_modules ] || ! command -v npm >/dev/null 2>&1 \
  || npm ci --prefix src/thinkvl/eval/render/js --no-audit --no-fund --silent
ruff check src tests benchmarks
python -m pytest
