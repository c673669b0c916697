#!/usr/bin/env bash
# A separate environment for thinkvl's verl integration: verl 0.9.1 pins transformers<5.11, which conflicts
# with thinkvl's main environment, so verl gets .venv-verl: the `verl` dependency group of pyproject.toml with
# thinkvl's other requirements (scripts/env_requirements.py), then thinkvl itself without its dependencies (the
# reward system and the verl plug-ins don't need a newer transformers). 5-20 minutes on this project's machines.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VERL_VENV:-.venv-verl}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
"$PY" -m pip install -q -r <("$PY" scripts/env_requirements.py verl)
"$PY" -m pip install -q --no-deps -e .
"$PY" -c "import verl, transformers, thinkvl.integrations.verl; print('verl', verl.__version__, 'transformers', transformers.__version__)"
