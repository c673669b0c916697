#!/usr/bin/env bash
# A separate environment for thinkvl's verl integration: verl 0.9.1 pins transformers<5.11, which conflicts
# with thinkvl's main environment, so verl gets .venv-verl with thinkvl installed beside it without its
# dependencies (the reward system and the verl plug-ins import neither a newer transformers nor torchvision).
# About 3-5 minutes on this project's machines (torch comes from local disk).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VERL_VENV:-.venv-verl}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q "torch==2.14.1"
# verl with the pieces its CPU-testable classes import (TransferQueue for replay buffers), and thinkvl's
# pure-Python dependencies; torch stays the one above.
"$PY" -m pip install -q "verl==0.9.1" "transferqueue>=0.1.10" pyzmq msgspec cachetools fastapi uvicorn pytest pytest-asyncio \
  "sympy>=1.13" "rapidfuzz>=3.0" "pyyaml>=6.0" "rich>=13" "tqdm>=4.66" "scipy>=1.11" "pillow>=10" "tokenizers>=0.22"
"$PY" -m pip install -q --no-deps -e .
"$PY" -c "import verl, transformers, thinkvl.integrations.verl; print('verl', verl.__version__, 'transformers', transformers.__version__)"
