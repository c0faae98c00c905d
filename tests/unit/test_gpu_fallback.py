"""The GPU backend on a machine without one: every missing piece falls back to the CPU, with the
reason logged, and the models still run."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vigil.config.performance import RuntimeConfig
from vigil.perception import runtime
from vigil.sources import hwdecode
from vigil.system.device import apply_runtime


@pytest.fixture(autouse=True)
def cpu_again() -> Iterator[None]:
    runtime._LOGGED.clear()
    yield
    runtime.configure("cpu", False)
    hwdecode.configure("cpu")
    runtime._LOGGED.clear()


def _cuda_here() -> bool:
    import onnxruntime as ort

    return runtime.gpu_fallback_reason(ort.get_available_providers()) is None


def test_the_fallback_reason_names_the_missing_wheel() -> None:
    reason = runtime.gpu_fallback_reason(["AzureExecutionProvider", "CPUExecutionProvider"])
    assert reason is not None and "vigil[gpu]" in reason and "onnxruntime-gpu" in reason
    assert runtime.gpu_fallback_reason(["CUDAExecutionProvider", "CPUExecutionProvider"]) is None
    assert runtime.providers_for(False) == ["CPUExecutionProvider"]


@pytest.mark.models
def test_cuda_asked_on_a_cpu_build_runs_on_the_cpu_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if _cuda_here():
        pytest.skip("this onnxruntime has a GPU provider: the fallback is not reachable here")
    from vigil.perception.faces.embedders import make_embedder

    chosen = apply_runtime(RuntimeConfig(device="cuda", fp16=True))
    assert chosen["device"] == "cuda"
    with caplog.at_level(logging.WARNING, logger="vigil.perception.runtime"):
        emb = make_embedder("sface")
        make_embedder("sface")  # a second session: the reason is not repeated
    session = emb.session  # type: ignore[attr-defined]
    assert session.get_providers() == ["CPUExecutionProvider"]
    reasons = [r.getMessage() for r in caplog.records if "no CUDA or TensorRT" in r.getMessage()]
    assert len(reasons) == 1
    out = emb.embed(np.full((2, 112, 112, 3), 128, np.uint8))
    assert out.shape == (2, 128) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)


def test_fp16_without_the_converter_keeps_the_fp32_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = tmp_path / "m.onnx"
    model.write_bytes(b"not really a model")
    monkeypatch.setitem(sys.modules, "onnxconverter_common", None)  # import fails
    with caplog.at_level(logging.WARNING, logger="vigil.perception.runtime"):
        assert runtime.fp16_copy(model) == model
    assert "onnxconverter-common is not installed" in caplog.text
    assert not (tmp_path / "m.fp16.onnx").exists()


def test_fp16_conversion_failure_keeps_the_fp32_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("onnxconverter_common", reason="the gpu extra is not installed")
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"not an onnx file")
    with caplog.at_level(logging.WARNING, logger="vigil.perception.runtime"):
        assert runtime.fp16_copy(model) == model
    assert "fp16 conversion of broken.onnx failed" in caplog.text


def test_hardware_decoding_falls_back_with_a_reason(caplog: pytest.LogCaptureFixture) -> None:
    assert "CPU decoding" in hwdecode.configure("cpu")
    assert hwdecode.hwaccel() is None
    ok, why = hwdecode.probe()
    with caplog.at_level(logging.WARNING, logger="vigil.sources.hwdecode"):
        outcome = hwdecode.configure("cuda", enabled=True)
    if ok:
        assert hwdecode.hwaccel() is not None and outcome.startswith("CUDA decoding")
    else:
        assert hwdecode.hwaccel() is None and why in outcome and why in caplog.text
    assert "hw_decode is off" in hwdecode.configure("cuda", enabled=False)
    assert hwdecode.hwaccel() is None


@pytest.mark.data
def test_a_stream_still_decodes_after_the_cuda_request_fell_back(vtest_video: Path) -> None:
    import threading

    from vigil.sources.av_source import AVSource
    from vigil.sources.base import SourceSpec

    hwdecode.configure("cuda")
    spec = SourceSpec("cam", str(vtest_video), "file", fps=5.0, realtime=False)
    frames = []
    stop = threading.Event()
    for frame in AVSource(spec).frames(stop):
        frames.append(frame)
        if len(frames) == 3:
            stop.set()
            break
    assert len(frames) == 3 and frames[0].image.shape == (576, 768, 3)
