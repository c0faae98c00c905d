"""One camera's capture loop: connect, sample, timestamp, check for tampering, queue; reconnect.

The worker is a plain object holding all its state (source, queue, status, backoff with its own
random generator, timestamp mapper); nothing is process-global, so the same class runs in a
thread here and inside a Ray actor in cluster mode. It never lets a camera fault escape: transient
faults (:class:`~vigil.errors.SourceError`) reconnect with backoff, permanent ones
(:class:`~vigil.errors.InputError`) stop the worker with the camera ``offline`` and the reason.
Anything else is a bug: the thread ends with :attr:`CameraWorker.failure` set, and the
:class:`~vigil.sources.supervisor.Supervisor` restarts it (rate-limited) and reports it.

Tamper signals are turned into :class:`~vigil.sources.status.TamperChange` records (one
``raised`` per onset, one ``cleared`` when it ends) and handed to ``on_tamper``. The worker does
not know what happens next (the embedded system stores them as tamper alerts, which are then
announced); a failing sink is logged and counted, never allowed to stop capture.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime

from vigil.config.settings import CameraConfig
from vigil.core.records import FrameRef
from vigil.errors import InputError, SourceError
from vigil.sources.backoff import Backoff
from vigil.sources.base import PacketTee, Source, SourceSpec, make_source
from vigil.sources.frames import DecodedFrame, RawFrame, TimestampMapper, utc_now
from vigil.sources.queue import DropOldestQueue
from vigil.sources.status import (
    CameraState,
    CameraStatus,
    StatusTracker,
    TamperChange,
    TamperSignal,
)
from vigil.sources.tamper import TamperDetector, TamperThresholds

log = logging.getLogger(__name__)

# Corrupt packets seen within this many seconds mark the camera degraded.
CORRUPT_WINDOW_S = 10.0


class CameraWorker:
    """Capture loop of one camera in its own thread (see the module docstring).

    Args:
        spec: the source to read.
        queue: where sampled frames go; a new bounded queue of ``queue_size`` if omitted.
        reconnect_min_s, reconnect_max_s: backoff bounds between reconnect attempts.
        source_factory: builds the source (tests inject fakes).
        tamper: thresholds of the tamper detector, ``None`` for the defaults.
        tamper_enabled: run the tamper detector at all (``cameras[].tamper.enabled``).
        rng: random generator for the jitter (seed it in tests).
        clock: wall clock for capture times and status.
        on_tamper: called (in the capture thread; keep it quick) with each tamper signal raised
            or cleared. The tamper detector runs on capture time, so ``hold_s`` means seconds of
            video, also when a file is read faster than real time.
        tee: the camera's recorder, handed every demuxed packet by the source (see
            :class:`~vigil.sources.base.PacketTee`); ``None`` records nothing.
    """

    def __init__(
        self,
        spec: SourceSpec,
        *,
        queue: DropOldestQueue[DecodedFrame] | None = None,
        queue_size: int = 4,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        source_factory: Callable[[SourceSpec], Source] = make_source,
        tamper: TamperThresholds | None = None,
        tamper_enabled: bool = True,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_tamper: Callable[[TamperChange], None] | None = None,
        tee: PacketTee | None = None,
    ) -> None:
        self.spec = spec
        self.camera_id = spec.camera_id
        self.queue: DropOldestQueue[DecodedFrame] = queue or DropOldestQueue(queue_size)
        # The recorder rides on the default factory's PyAV source (injected sources record
        # nothing: they are test fakes).
        self.tee = tee
        self.source = (
            make_source(spec, tee) if source_factory is make_source else source_factory(spec)
        )
        self.backoff = Backoff(reconnect_min_s, reconnect_max_s, rng=rng)
        self.timestamps = TimestampMapper(live=spec.live, clock=clock)
        self.tamper = TamperDetector(tamper)
        self.tamper_enabled = tamper_enabled
        self.status = StatusTracker(spec.camera_id, clock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.finished = False
        self.frames = 0
        self.reconnects = 0
        self.resolution: tuple[int, int] | None = None
        self.resolution_changes = 0
        self.restarts = 0
        self._tamper_active: frozenset[TamperSignal] = frozenset()
        # Bounded: at most one entry per TamperSignal. Replaced, never mutated, so snapshot()
        # can read it from another thread without a lock.
        self._tamper_since: tuple[tuple[TamperSignal, datetime], ...] = ()
        self.on_tamper = on_tamper
        self.tamper_raised = 0
        self.tamper_sink_failures = 0
        self._last_frame_at: datetime | None = None
        self._last_corrupt_at = -1e18
        self._corrupt_seen = 0

    @classmethod
    def from_config(cls, cam: CameraConfig, **kwargs: object) -> CameraWorker:
        """A worker for a configured camera: queue size, backoff and tamper thresholds."""
        t = cam.tamper
        tamper = TamperThresholds(
            black_mean=t.black_mean,
            black_std=t.black_std,
            frozen_diff=t.frozen_diff,
            scene_diff=t.scene_diff,
            hold_s=t.hold_s,
        )
        return cls(
            SourceSpec.from_config(cam),
            queue_size=cam.queue_size,
            reconnect_min_s=cam.reconnect_min_s,
            reconnect_max_s=cam.reconnect_max_s,
            tamper=tamper if t.enabled else None,
            tamper_enabled=t.enabled,
            **kwargs,  # type: ignore[arg-type]
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or, after a failure, restart) the capture thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.failure = None
        self.finished = False
        # Daemon: a thread blocked in FFmpeg for up to ``stall_timeout_s`` must not hold up
        # process exit after a stop request; it holds no state that needs flushing.
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{self.camera_id}", daemon=True
        )
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; returns whether it has."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.alive

    def stop(self, timeout: float = 4.0) -> bool:
        self.request_stop()
        return self.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def failed(self) -> bool:
        """The thread died of an unexpected exception (a bug), not a camera fault or a stop."""
        return self.failure is not None and not self.alive

    # -- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported to the supervisor, never swallowed
            self.failure = exc
            self.status.set(CameraState.OFFLINE, f"worker crashed: {type(exc).__name__}: {exc}")
            log.exception("camera %s: worker crashed", self.camera_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            delivered = 0
            try:
                for raw in self.source.frames(self._stop):
                    self._on_frame(raw)
                    delivered += 1
                    if delivered == 1:
                        self.backoff.reset()
                if self._stop.is_set():
                    break
                if self.spec.kind == "file":
                    self.status.set(CameraState.OFFLINE, "end of file")
                    log.info("camera %s: end of file", self.camera_id)
                    self.finished = True
                    return
                raise SourceError(f"camera {self.camera_id}: the server ended the stream")
            except InputError as exc:
                self.status.set(CameraState.OFFLINE, str(exc))
                log.error("%s; not retrying", exc)
                self.finished = True
                return
            except SourceError as exc:
                if self._stop.is_set():
                    break
                delay = self.backoff.next()
                self.status.set(CameraState.OFFLINE, str(exc))
                self.reconnects += 1
                log.warning("%s; reconnecting in %.1f s", exc, delay)
                self._stop.wait(delay)
        self.status.set(CameraState.OFFLINE, None)

    def _on_frame(self, raw: RawFrame) -> None:
        h, w = raw.image.shape[:2]
        captured = self.timestamps.map(raw.media_time, raw.segment)
        if self.resolution is not None and self.resolution != (w, h):
            self.resolution_changes += 1
            log.info(
                "camera %s: resolution changed from %dx%d to %dx%d",
                self.camera_id,
                *self.resolution,
                w,
                h,
            )
            # The detector's references are of the old size: start over, and clear what was
            # raised (as "reset", not "recovered": the condition is simply unknown now).
            self.tamper.reset()
            self._tamper_update(frozenset(), captured, "reset", f"{raw.epoch}/{self.frames}")
        self.resolution = (w, h)
        ref = FrameRef(self.camera_id, captured, self.frames, w, h, raw.epoch)
        if self.tamper_enabled:
            active = self.tamper.update(raw.image, captured.timestamp())
            self._tamper_update(active, captured, position=f"{raw.epoch}/{self.frames}")
        self.frames += 1
        self._last_frame_at = captured
        self.queue.put(DecodedFrame(ref, raw.image, raw.keyframe))
        self._update_health()

    def _tamper_update(
        self,
        active: frozenset[TamperSignal],
        at: datetime,
        reason: str = "recovered",
        position: str = "",
    ) -> None:
        """Record the new active set; emit a change for each signal raised or cleared."""
        before = self._tamper_active
        if active == before:
            return
        since = dict(self._tamper_since)
        changes = []
        for signal in sorted(before - active):
            onset = since.pop(signal, at)
            changes.append(TamperChange(self.camera_id, signal, False, at, onset, reason, position))
        for signal in sorted(active - before):
            since[signal] = at
            self.tamper_raised += 1
            changes.append(TamperChange(self.camera_id, signal, True, at, at, position=position))
        self._tamper_since = tuple(sorted(since.items()))
        self._tamper_active = active
        for change in changes:
            log.warning(
                "camera %s: tamper signal %s %s", self.camera_id, change.signal, change.phase
            )
            if self.on_tamper is None:
                continue
            try:
                self.on_tamper(change)
            except Exception:  # the sink's problem must not become the camera's
                self.tamper_sink_failures += 1
                log.exception("camera %s: tamper sink failed", self.camera_id)

    def _update_health(self) -> None:
        corrupt = self.source.counters.corrupt_packets
        now = time.monotonic()
        if corrupt > self._corrupt_seen:
            self._corrupt_seen = corrupt
            self._last_corrupt_at = now
        problems = [f"tamper: {s}" for s in sorted(self._tamper_active)]
        if now - self._last_corrupt_at < CORRUPT_WINDOW_S:
            problems.append("corrupt packets in the last 10 s")
        if problems:
            self.status.set(CameraState.DEGRADED, "; ".join(problems))
        else:
            self.status.set(CameraState.ONLINE)

    # -- reporting ---------------------------------------------------------------------------

    def snapshot(self) -> CameraStatus:
        """A consistent view of this camera's health and counters."""
        state, since, error, error_at = self.status.snapshot()
        return CameraStatus(
            camera_id=self.camera_id,
            state=state,
            since=since,
            last_error=error,
            last_error_at=error_at,
            last_frame_at=self._last_frame_at,
            frames=self.frames,
            dropped=self.queue.dropped,
            reconnects=self.reconnects,
            resolution=self.resolution,
            resolution_changes=self.resolution_changes,
            tamper=self._tamper_active,
            tamper_since=self._tamper_since,
            tamper_raised=self.tamper_raised,
            decode=self.source.counters.snapshot(),
            running=self.alive,
            restarts=self.restarts,
        )
