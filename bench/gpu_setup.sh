#!/usr/bin/env bash
# Install step of bench/gpu.py on a CUDA machine (docs/gpu.md). Usage:
#   bench/gpu_setup.sh [WHEEL_DIR]     # WHEEL_DIR: wheels fetched beforehand (`pip download`)
# Swaps the CPU onnxruntime wheel for onnxruntime-gpu (both provide the `onnxruntime` module)
# and adds the FP16 converter, then shows what ONNX Runtime, PyAV and the driver offer.
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
FROM=()
if [ $# -ge 1 ]; then FROM=(--no-index --find-links "$1"); fi
"$PY" -m pip uninstall -y onnxruntime >/dev/null 2>&1 || true
"$PY" -m pip install "${FROM[@]}" "onnxruntime-gpu>=1.20,<2" "onnxconverter-common>=1.14,<2"
"$PY" - <<'PY'
import onnxruntime as ort
from vigil.sources import hwdecode
print("onnxruntime", ort.__version__, ort.get_available_providers())
print("decode:", hwdecode.probe())
PY
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
