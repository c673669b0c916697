#!/usr/bin/env bash
# The verl plug-in tests, in their own environment (.venv-verl; verl pins transformers<5.11): the reward
# manager on a DataProto, the replay buffer against a real TransferQueue, the curriculum dataset and the
# forced-answer agent loop with a stubbed server. Sets the environment up first when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VERL_VENV:-.venv-verl}"
[ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import verl, transfer_queue, thinkvl" 2>/dev/null \
  || bash scripts/setup_verl.sh
"$VENV/bin/python" -m pip install -q --no-deps -e . 2>/dev/null
"$VENV/bin/python" -m pytest tests_verl -p no:cacheprovider -W ignore::DeprecationWarning "$@"
