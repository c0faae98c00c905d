"""Shared model-runtime helpers: one place that opens ONNX Runtime sessions.

Sessions are created from a verified model file (:func:`vigil.models.installer.model_path`), with
a bounded thread count so one camera's inference cannot starve the others, and with the CPU
provider unless a GPU provider is available and asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vigil.errors import ModelError
from vigil.models.installer import model_path


def default_threads() -> int:
    """Intra-op threads per session: ``$VIGIL_THREADS`` or all cores, capped at 8."""
    env = os.environ.get("VIGIL_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, os.cpu_count() or 1))


GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def providers_for(gpu: bool) -> list[str]:
    """ONNX Runtime providers in order of preference: with ``gpu``, TensorRT and CUDA where this
    onnxruntime build has them (``onnxruntime-gpu``), always ending with the CPU."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    first = [p for p in GPU_PROVIDERS if gpu and p in available]
    return [*first, "CPUExecutionProvider"]


def onnx_session(name: str, model_dir: Path | None = None, threads: int | None = None) -> Any:
    """Open an ONNX Runtime session for the installed model ``name``."""
    import onnxruntime as ort

    path = model_path(name, model_dir)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    providers = ["CPUExecutionProvider"]
    if os.environ.get("VIGIL_CUDA") == "1" and "CUDAExecutionProvider" in (
        ort.get_available_providers()
    ):
        providers.insert(0, "CUDAExecutionProvider")
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"cannot load model {name} from {path}: {exc}") from exc
