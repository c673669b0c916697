#!/usr/bin/env bash
# Create .venv and install thinkvl. The package's requirements are open ranges; this machine's pins are the
# `main` dependency group in pyproject.toml (the torch builds pip finds on this kind of machine's disk, no multi-GB
# download), installed with the rest first so that every later range is already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
pip install -q -r <(python scripts/env_requirements.py main)
pip install -q -e ".[dev]"
# The React renderer's Node packages (Babel, React 18) for Flame-React, from package-lock.json.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix src/thinkvl/eval/render/js --no-audit --no-fund --silent
else
  echo "warning: npm not found; Flame-React scoring needs it (apt-get install nodejs npm)"
fi
