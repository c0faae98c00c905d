"""The one interface every camera source implements, and how a camera's config picks one.

A source is a connection recipe: :meth:`Source.frames` opens the stream, yields sampled
:class:`~vigil.sources.frames.RawFrame` objects and closes it when the generator ends or is
closed. Faults surface as exceptions the camera worker understands:

* :class:`vigil.errors.SourceError` — transient (host unreachable, stall, server dropped, stream
  corrupt): the worker reconnects with backoff;
* :class:`vigil.errors.InputError` — permanent (file missing, not a video): retrying cannot help,
  the worker reports the camera offline and stops.

A generator that returns normally has reached the end of the stream. Sources keep their
:class:`DecodeCounters` across connections so a camera's decode cost is reported over its life.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from vigil.config.settings import CameraConfig
from vigil.sources.frames import RawFrame
from vigil.sources.status import DecodeCost

SourceKind = Literal["file", "rtsp", "mjpeg", "snapshot"]
DecodeMode = Literal["auto", "keyframes", "all"]


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """Everything a source needs to connect, resolved from a :class:`CameraConfig`.

    ``url`` may hold credentials: never log it, log :attr:`safe_url` (user-info removed).
    ``keyframe_skip_loop_filter`` applies only with ``decode_mode="keyframes"`` (see
    :class:`~vigil.sources.av_source.AVSource`).
    """

    camera_id: str
    url: str
    kind: SourceKind
    fps: float
    decode_mode: DecodeMode = "auto"
    keyframe_skip_loop_filter: bool = True
    transport: Literal["tcp", "udp"] = "tcp"
    loop: bool = False
    realtime: bool = True
    connect_timeout_s: float = 10.0
    stall_timeout_s: float = 5.0

    @property
    def live(self) -> bool:
        """Live sources have a wall-clock rhythm of their own; files do not."""
        return self.kind != "file"

    @property
    def safe_url(self) -> str:
        from vigil.logs import redact

        return redact(self.url)

    @classmethod
    def from_config(cls, cam: CameraConfig) -> SourceSpec:
        url = cam.url.get_secret_value().strip()
        kind: SourceKind = detect_kind(url) if cam.kind == "auto" else cam.kind
        return cls(
            camera_id=cam.id,
            url=url,
            kind=kind,
            fps=cam.fps,
            decode_mode=cam.decode_mode,
            keyframe_skip_loop_filter=cam.keyframe_skip_loop_filter,
            transport=cam.transport,
            loop=cam.loop,
            realtime=cam.realtime,
            connect_timeout_s=cam.connect_timeout_s,
            stall_timeout_s=cam.stall_timeout_s,
        )


def detect_kind(url: str) -> SourceKind:
    """Guess the source kind from a URL (see ``CameraConfig.kind``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("rtsp", "rtsps"):
        return "rtsp"
    if scheme in ("http", "https"):
        suffix = Path(parts.path).suffix.lower()
        return "snapshot" if suffix in (".jpg", ".jpeg") else "mjpeg"
    return "file"


class DecodeCounters:
    """Mutable decode counters of one source, read as a :class:`DecodeCost` snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.packets = 0
        self.packets_decoded = 0
        self.packets_skipped = 0
        self.frames_decoded = 0
        self.frames_sampled = 0
        self.corrupt_packets = 0
        self.decode_cpu_s = 0.0
        self.keyframe_mode = False

    def snapshot(self) -> DecodeCost:
        with self._lock:
            return DecodeCost(
                packets=self.packets,
                packets_decoded=self.packets_decoded,
                packets_skipped=self.packets_skipped,
                frames_decoded=self.frames_decoded,
                frames_sampled=self.frames_sampled,
                corrupt_packets=self.corrupt_packets,
                decode_cpu_s=self.decode_cpu_s,
                keyframe_mode=self.keyframe_mode,
            )


class PacketTee(Protocol):
    """Receives every demuxed packet of a PyAV source, before any decode decision.

    Recording (:mod:`vigil.recording`) implements it: the camera's packets are copied to the
    recorder in the capture thread, so recording never depends on the analysis queue (frames
    dropped for analysis are still recorded). Every method is called from the capture thread
    and must return at once and never raise (the recorder queues and counts; its faults are its
    own status, not the camera's).
    """

    def open(self, stream: Any) -> None:
        """A connection opened; ``stream`` is the PyAV video stream (a template to copy)."""
        ...

    def packet(self, packet: Any, media_time: float | None, keyframe: bool) -> None:
        """One demuxed packet; ``media_time`` in seconds including the loop offset."""
        ...

    def discontinuity(self) -> None:
        """The timeline restarts (a file loops): the open segment must end here."""
        ...

    def close(self) -> None:
        """The connection closed (end, fault or stop)."""
        ...


class Source(Protocol):
    """A camera or video source (see the module docstring for the contract)."""

    spec: SourceSpec
    counters: DecodeCounters

    def frames(self, stop: threading.Event) -> Iterator[RawFrame]:
        """Open the stream and yield sampled frames until the end, a fault, or ``stop``."""
        ...


def make_source(spec: SourceSpec, tee: PacketTee | None = None) -> Source:
    """Build the source implementation for ``spec.kind`` (``tee``: a recorder of the stream's
    packets; snapshot sources have no stream to record and ignore it)."""
    if spec.kind == "snapshot":
        from vigil.sources.snapshot import SnapshotSource

        return SnapshotSource(spec)
    from vigil.sources.av_source import AVSource

    return AVSource(spec, tee=tee)
