"""Shared model-runtime helpers: one place that opens ONNX Runtime sessions, on the chosen device.

Sessions are created from a verified model file (:func:`vigil.models.installer.model_path`), with
a bounded thread count so one camera's inference cannot starve the others.

The device is chosen once per process by :func:`configure` (``runtime.device`` in the config, set
by the composition root; ``VIGIL_CUDA=1`` is the older switch for the same): with ``cuda`` a
session asks for TensorRT, then CUDA, then the CPU, keeping only the providers this onnxruntime
build has (the ``onnxruntime-gpu`` wheel of ``pip install vigil[gpu]``). Whatever the GPU side
lacks (the wheel, the driver, a provider that fails to start) falls back to the CPU, and the
reason is logged once per cause, never silently. With ``fp16`` a half-precision copy of each model
is made on first use (onnxconverter-common, part of the ``gpu`` extra) and cached next to the
installed model; TensorRT is also asked for FP16 kernels. Without the converter the FP32 model is
used, again with the reason logged. The CPU stays the default and is what CI tests.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vigil.errors import ModelError
from vigil.models.installer import model_path

log = logging.getLogger(__name__)
Device = Literal["cpu", "cuda"]
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
CPU = "CPUExecutionProvider"


@dataclass
class _Choice:
    device: Device = "cpu"
    fp16: bool = False
    tensorrt: bool = True


_CHOICE = _Choice()
_LOGGED: set[str] = set()


def _once(message: str, *args: object) -> None:
    """Log a fallback reason once per process (every session would repeat it)."""
    text = message % args if args else message
    if text not in _LOGGED:
        _LOGGED.add(text)
        log.warning("%s", text)


def configure(device: Device = "cpu", fp16: bool = False, *, tensorrt: bool = True) -> None:
    """Choose the device (and FP16) for every session opened from now on in this process.

    ``tensorrt=False`` skips TensorRT even where it is installed (its engines are built per input
    shape on first use, minutes each: a short benchmark may not afford that)."""
    _CHOICE.device, _CHOICE.fp16, _CHOICE.tensorrt = device, fp16, tensorrt
    log.info("model runtime: device %s%s", device, ", fp16" if fp16 else "")


def current_device() -> Device:
    if os.environ.get("VIGIL_CUDA") == "1":
        return "cuda"
    return _CHOICE.device


def default_threads() -> int:
    """Intra-op threads per session: ``$VIGIL_THREADS`` or all cores, capped at 8."""
    env = os.environ.get("VIGIL_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, os.cpu_count() or 1))


def providers_for(gpu: bool) -> list[str]:
    """ONNX Runtime providers in order of preference: with ``gpu``, TensorRT and CUDA where this
    onnxruntime build has them (``onnxruntime-gpu``), always ending with the CPU."""
    import onnxruntime as ort

    available = set(ort.get_available_providers())
    if not _CHOICE.tensorrt:
        available.discard("TensorrtExecutionProvider")
    first = [p for p in GPU_PROVIDERS if gpu and p in available]
    return [*first, CPU]


def gpu_fallback_reason(available: list[str]) -> str | None:
    """Why a ``cuda`` session would run on the CPU, or ``None`` when a GPU provider exists."""
    if any(p in available for p in GPU_PROVIDERS):
        return None
    return (
        "runtime.device is cuda but this onnxruntime has no CUDA or TensorRT provider "
        f"(available: {', '.join(available)}); install the gpu extra "
        "(pip install 'vigil[gpu]', which brings onnxruntime-gpu): running on the CPU"
    )


def _provider_options(providers: list[str], fp16: bool) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for p in providers:
        opts: dict[str, Any] = {}
        if p == "TensorrtExecutionProvider":
            cache = Path(os.environ.get("VIGIL_TRT_CACHE", Path.home() / ".cache/vigil/trt"))
            cache.mkdir(parents=True, exist_ok=True)
            opts = {
                "trt_fp16_enable": fp16,
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
            }
        out.append((p, opts))
    return out


def fp16_copy(path: Path) -> Path:
    """A half-precision copy of the ONNX model at ``path`` (made once, cached beside it), or
    ``path`` itself when the converter is missing or fails (reason logged)."""
    target = path.with_name(path.stem + ".fp16.onnx")
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    try:
        import onnx
        from onnxconverter_common import float16
    except ImportError:
        _once("fp16 asked but onnxconverter-common is not installed (the gpu extra): using FP32")
        return path
    try:
        model = float16.convert_float_to_float16(onnx.load(str(path)), keep_io_types=True)
        tmp = target.with_name(target.name + ".tmp")
        onnx.save(model, str(tmp))
        os.replace(tmp, target)
    except Exception as exc:  # the converter raises many untyped errors on unusual graphs
        _once("fp16 conversion of %s failed (%s): using FP32", path.name, exc)
        return path
    return target


def device_providers() -> list[str]:
    """Providers for a new session on the configured device (CPU fallback logged once)."""
    import onnxruntime as ort

    if current_device() != "cuda":
        return [CPU]
    reason = gpu_fallback_reason(ort.get_available_providers())
    if reason is not None:
        _once(reason)
        return [CPU]
    return providers_for(True)


def onnx_session(name: str, model_dir: Path | None = None, threads: int | None = None) -> Any:
    """Open an ONNX Runtime session for the installed model ``name`` on the configured device."""
    import onnxruntime as ort

    path = model_path(name, model_dir)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    providers = device_providers()
    if providers[0] != CPU and _CHOICE.fp16:
        path = fp16_copy(path)
    try:
        session = ort.InferenceSession(
            str(path),
            sess_options=opts,
            providers=_provider_options(providers, _CHOICE.fp16),
        )
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        raise ModelError(f"cannot load model {name} from {path}: {exc}") from exc
    used = session.get_providers()
    if providers[0] != CPU and used[0] == CPU:
        _once("model %s: GPU providers failed to start (driver or CUDA libraries?): CPU", name)
    return session
