#!/usr/bin/env bash
# Create .venv and install thinkvl. The package's requirements are open ranges; this machine's pins live here:
# torch/torchvision are the builds that pip finds on this kind of machine's disk (no multi-GB download), and
# installing them first keeps every later range satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
pip install -q "torch==2.14.1" "torchvision==0.29.1"
pip install -q -e ".[dev]"
# The React renderer's Node packages (Babel, React 18) for Flame-React, from package-lock.json.
if command -v npm >/dev/null 2>&1; then
  npm ci --prefix src/thinkvl/eval/render/js --no-audit --no-fund --silent
else
  echo "warning: npm not found; Flame-React scoring needs it (apt-get install nodejs npm)"
fi
