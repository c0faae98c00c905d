"""Camera sources: video files, RTSP, HTTP MJPEG and snapshots, decoded with PyAV.

The pieces, from the wire to the analysis queue:

* :mod:`~vigil.sources.base` — the :class:`Source` interface and :class:`SourceSpec`;
* :mod:`~vigil.sources.av_source` — files, RTSP (TCP/UDP) and MJPEG through PyAV, with sampling
  and key-frame-only decoding; :mod:`~vigil.sources.snapshot` — polled JPEG snapshots;
* :mod:`~vigil.sources.frames` — frame records, the sampler, monotonic capture timestamps;
* :mod:`~vigil.sources.tamper` — frozen, black/covered and scene-change signals;
* :mod:`~vigil.sources.worker` — one camera's capture loop with reconnect and health status;
* :mod:`~vigil.sources.supervisor` — many workers, restarts, clean shutdown.

Importing this package does not import PyAV; building an :class:`AVSource` does.
"""

from vigil.sources.backoff import Backoff
from vigil.sources.base import DecodeCounters, Source, SourceSpec, detect_kind, make_source
from vigil.sources.frames import DecodedFrame, RawFrame, Sampler, TimestampMapper
from vigil.sources.queue import DropOldestQueue
from vigil.sources.status import (
    CameraState,
    CameraStatus,
    DecodeCost,
    StatusTracker,
    TamperSignal,
)
from vigil.sources.supervisor import Supervisor, SupervisorReport, stop_on_signals
from vigil.sources.tamper import TamperDetector, TamperThresholds
from vigil.sources.worker import CameraWorker

__all__ = [
    "Backoff",
    "CameraState",
    "CameraStatus",
    "CameraWorker",
    "DecodeCost",
    "DecodeCounters",
    "DecodedFrame",
    "DropOldestQueue",
    "RawFrame",
    "Sampler",
    "Source",
    "SourceSpec",
    "StatusTracker",
    "Supervisor",
    "SupervisorReport",
    "TamperDetector",
    "TamperSignal",
    "TamperThresholds",
    "TimestampMapper",
    "detect_kind",
    "make_source",
    "stop_on_signals",
]
