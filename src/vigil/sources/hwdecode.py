"""Hardware video decoding on the GPU (FFmpeg's CUDA hwaccel through PyAV), or why not.

With ``runtime.device: cuda`` and ``runtime.hw_decode`` on, :func:`configure` checks once per
process that the three things CUDA decoding needs are there: a PyAV with hwaccel support, an
FFmpeg inside it built with the CUDA device type, and the NVIDIA driver (``libcuda.so.1``). When
all are, :func:`hwaccel` gives the ``HWAccel`` that :class:`~vigil.sources.av_source.AVSource`
opens its streams with (``allow_software_fallback``: a codec the GPU cannot decode still decodes
on the CPU); when one is missing, decoding stays on the CPU and the reason is logged once.

NVIDIA's own PyPI decoder (``pynvvideocodec``) would avoid FFmpeg's copies, but it has its own
demuxing and reconnection model; the FFmpeg path keeps one source implementation for both.
"""

from __future__ import annotations

import ctypes
import logging
from typing import Any

log = logging.getLogger(__name__)
_STATE: dict[str, Any] = {"accel": None, "reason": "runtime.device is cpu"}


def probe() -> tuple[bool, str]:
    """Whether CUDA decoding can work here, and the reason when it cannot."""
    try:
        from av.codec.hwaccel import hwdevices_available
    except ImportError:
        return False, "this PyAV has no hwaccel support (PyAV >= 14 needed)"
    devices = list(hwdevices_available())
    if "cuda" not in devices:
        return False, f"the FFmpeg in this PyAV wheel has no CUDA hwaccel (has: {devices})"
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no NVIDIA driver on this machine (libcuda.so.1 not found)"
    return True, "CUDA hwaccel available"


def configure(device: str, enabled: bool = True) -> str:
    """Select CUDA decoding for this process when asked and possible; returns the outcome."""
    _STATE["accel"] = None
    if device != "cuda" or not enabled:
        _STATE["reason"] = "CPU decoding (runtime.device is cpu or hw_decode is off)"
        return str(_STATE["reason"])
    ok, reason = probe()
    if not ok:
        _STATE["reason"] = f"CPU decoding: {reason}"
        log.warning("hardware decoding asked for but unavailable: %s", reason)
        return str(_STATE["reason"])
    from av.codec.hwaccel import HWAccel

    _STATE["accel"] = HWAccel(device_type="cuda", allow_software_fallback=True)
    _STATE["reason"] = "CUDA decoding (FFmpeg hwaccel through PyAV)"
    log.info("video decoding on the GPU: %s", reason)
    return str(_STATE["reason"])


def hwaccel() -> Any:
    """The ``HWAccel`` to open streams with, or ``None`` (CPU decoding)."""
    return _STATE["accel"]


def status() -> str:
    return str(_STATE["reason"])
