"""Configuration of the speed knobs: the face cascade, cross-camera batching and the device.

Kept apart from :mod:`vigil.config.settings` (which imports it); the same rules hold: unknown keys
are errors, every field has a title, a description and bounds, and validation does no I/O.

* ``faces.cascade``: embed each face with the cheap fusion member first and complete the fusion
  only for probes whose cheap score lies inside a band measured by calibration (see
  :mod:`vigil.perception.faces.cascade`).
* ``runtime.device``: ``cpu`` (the default, what CI tests) or ``cuda`` (ONNX Runtime's TensorRT
  and CUDA providers, from ``pip install vigil[gpu]``); when they are missing the CPU is used and
  the reason logged.
* ``runtime.batching``: in the embedded mode, one inference queue per face embedding model shared
  by every camera, so faces of several cameras go through one model call.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.config.base import Strict


class FaceCascadeConfig(Strict):
    """``faces.cascade:``: cheap member first, full fusion only where it could matter."""

    enabled: bool = Field(
        True,
        title="Face cascade",
        description="With the fusion embedder: embed every face with `cheap_member` only and "
        "compute the full fusion for a track's best shot only when its cheap score against "
        "the watchlist could still reach the threshold. Needs a calibration file with a "
        "`cascade` band (`vigil calibrate` writes one); without it the full fusion is used "
        "and a warning logged. Alerts and archived templates always carry the fused template.",
    )
    cheap_member: Literal["fr_feature", "mobilefacenet", "sface"] = Field(
        "sface",
        title="Cheap member",
        description="The fusion member embedded first (must be one of `fusion_members`).",
    )
    margin: float = Field(
        0.02,
        ge=0.0,
        le=0.5,
        title="Band margin",
        description="Subtracted from the calibrated lower edge of the band: wider sends more "
        "probes to the full fusion (slower), narrower risks a mate the calibration data did "
        "not show.",
    )


class BatchingConfig(Strict):
    """``runtime.batching:``: one shared queue per embedding model across cameras."""

    enabled: bool = Field(
        False,
        title="Cross-camera batching",
        description="Send every camera's face crops through one queue per embedding model, so "
        "a model call serves several cameras' faces. Off by default: on a CPU with one "
        "analysis thread it only adds the wait; it pays on a GPU or with many cameras.",
    )
    max_batch: int = Field(
        64,
        ge=1,
        le=4096,
        title="Largest batch",
        description="Most requests (one camera frame's faces each) in one model call.",
    )
    max_wait_ms: float = Field(
        10.0,
        ge=0.0,
        le=1000.0,
        title="Latency bound",
        description="Longest the oldest request waits for a batch to fill: the added latency "
        "traded for larger batches (0: serve whatever is queued at once).",
    )
    analysis_threads: int = Field(
        4,
        ge=1,
        le=64,
        title="Analysis threads",
        description="Analysis threads when batching is on: each serves one camera frame at a "
        "time and waits for its batch, so batches fill only with several threads.",
    )
    capacity: int = Field(
        256,
        ge=1,
        le=100_000,
        title="Queue bound",
        description="Most requests waiting per model; beyond it a frame's faces are dropped and "
        "counted (cameras in a live deployment first evict the others').",
    )


class RuntimeConfig(Strict):
    """``runtime:``: where models run and how their calls are batched."""

    device: Literal["cpu", "cuda"] = Field(
        "cpu",
        title="Device",
        description="`cuda`: ONNX Runtime's TensorRT and CUDA providers (install `vigil[gpu]`) "
        "and, where PyAV has it, CUDA video decoding; whatever is missing falls back to the "
        "CPU with the reason logged. `cpu`: everything on the CPU.",
    )
    fp16: bool = Field(
        False,
        title="FP16 models",
        description="With `device: cuda`, run half-precision copies of the ONNX models where the "
        "converter (onnxconverter-common) is installed; check `vigil eval verification` stays "
        "within 0.1 point before enabling it.",
    )
    hw_decode: bool = Field(
        True,
        title="Hardware decoding",
        description="With `device: cuda`, decode H.264/H.265 with FFmpeg's CUDA hwaccel "
        "through PyAV when the wheel and the driver allow it, else on the CPU (logged).",
    )
    batching: BatchingConfig = Field(
        default_factory=BatchingConfig,
        title="Batching",
        description="Cross-camera batching of face embedding in the embedded mode.",
    )
