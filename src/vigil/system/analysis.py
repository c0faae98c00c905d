"""Analysis workers: take sampled frames off the camera queues and run the perception stages.

A small, fixed pool of threads serves every camera round-robin (ONNX Runtime sessions are
thread-safe and release the GIL), so analysis cost is bounded by the pool, not by the number of
cameras; when analysis is slower than capture the cameras' drop-oldest queues absorb it and count
the drops. Per-camera statistics are fixed-size records (no per-frame history is kept), and the
recent-faces ring holds counts and boxes only — never crops or embeddings.

An exception in a stage is caught per frame, counted and logged with the camera id (the camera
keeps running); the count is served per camera in the camera view (``analysis_failures``), so
the operator sees a failing stage instead of a silent hang.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.analytics.people import PeopleFrame
from vigil.errors import InferenceSaturatedError
from vigil.logs import redact
from vigil.perception.batching import Priority
from vigil.perception.faces.pipeline import FaceAnalysis, FacePipeline
from vigil.sources.frames import DecodedFrame
from vigil.sources.worker import CameraWorker
from vigil.system.batching import camera_context
from vigil.system.identification import CameraIdentification
from vigil.system.live_video import LiveVideo
from vigil.system.people import PeopleStage

log = logging.getLogger(__name__)

FaceHook = Callable[[DecodedFrame, FaceAnalysis], None]
LATENCY_FRAMES = 120  # frames whose latency a camera's status summarises (a minute at 2 fps)


@dataclass
class CameraStats:
    """Running totals for one camera's analysis (bounded: scalars only)."""

    frames: int = 0
    faces: int = 0
    faces_embedded: int = 0
    failures: int = 0
    saturation_drops: int = 0  # frames a saturated shared inference pool refused (cluster)
    alerts: int = 0
    face_tracks_closed: int = 0
    last_error: str | None = None
    last_frame_at: str | None = None
    face_ms_ewma: float = 0.0
    #: Latency of the last ``LATENCY_FRAMES`` frames, decoded → analysed, in ms (bounded).
    latencies_ms: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_FRAMES))

    def latency_ms(self, q: float) -> float | None:
        """The ``q`` quantile (0-1) of the recent frames' latency, or ``None`` before any."""
        if not self.latencies_ms:
            return None
        return float(np.quantile(np.fromiter(self.latencies_ms, float), q))

    def failed(self, exc: BaseException) -> None:
        """Count a contained failure of any stage on this camera."""
        self.failures += 1
        self.last_error = redact(f"{type(exc).__name__}: {exc}")

    def observe(self, analysis: FaceAnalysis, ms: float) -> None:
        self.frames += 1
        self.faces += len(analysis.observations)
        self.faces_embedded += int(analysis.usable.sum())
        self.face_ms_ewma = ms if self.frames == 1 else 0.9 * self.face_ms_ewma + 0.1 * ms


@dataclass
class AnalysisPool:
    """Round-robin analysis of every camera's queue by ``threads`` worker threads."""

    workers: Sequence[CameraWorker]
    faces: FacePipeline | None
    face_cameras: frozenset[str]
    threads: int = 1
    hooks: list[FaceHook] = field(default_factory=list)
    identifiers: dict[str, CameraIdentification] = field(default_factory=dict)
    people: dict[str, PeopleStage] = field(default_factory=dict)
    #: Receives every analysed frame with its results for the console's live tiles (optional).
    live: LiveVideo | None = None
    stats: dict[str, CameraStats] = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _threads: list[threading.Thread] = field(init=False, default_factory=list)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.stats = {w.camera_id: CameraStats() for w in self.workers}
        self._next = 0

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._run, name=f"vigil-analysis-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 4.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        for camera_id, stage in self.people.items():
            try:  # close open vehicle tracks: their plate passes are fused and stored
                stage.finish()
            except Exception:
                log.exception("closing tracks of camera %s failed", camera_id)
        for camera_id, identifier in self.identifiers.items():
            try:  # close open tracks: matches alert, non-matches are dropped (purge)
                identifier.finish()
            except Exception:
                log.exception("closing face tracks of camera %s failed", camera_id)

    def _take(self) -> tuple[CameraWorker, DecodedFrame] | None:
        """The next frame in round-robin order across cameras, or None if all queues are empty."""
        with self._lock:
            n = len(self.workers)
            for k in range(n):
                worker = self.workers[(self._next + k) % n]
                frame = worker.queue.get(0)
                if frame is not None:
                    self._next = (self._next + k + 1) % n
                    return worker, frame
        return None

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._take()
            if item is None:
                self._stop.wait(0.02)
                continue
            worker, frame = item
            self.analyse(worker.camera_id, frame)

    def analyse(self, camera_id: str, frame: DecodedFrame) -> FaceAnalysis | None:
        """Run the stages on one frame; failures are contained, counted and logged. Records
        the frame's latency from decoding to here (queueing included)."""
        # Identification embeds only inside a deployment or an authorised window: such a
        # camera's requests to a shared (batched) model are the ones kept under saturation.
        priority = Priority.HIGH if camera_id in self.identifiers else Priority.NORMAL
        try:
            with camera_context(camera_id, priority):
                analysis = self._analyse(camera_id, frame)
            if self.live is not None:
                self._show(camera_id, frame, analysis)
            return analysis
        finally:
            ms = (time.monotonic() - frame.decoded_at) * 1000
            self.stats[camera_id].latencies_ms.append(ms)

    def _show(self, camera_id: str, frame: DecodedFrame, faces: FaceAnalysis | None) -> None:
        """Hand the frame and this frame's results to the live tiles (a reference, no copy);
        a failure here is contained like a stage's."""
        assert self.live is not None
        try:
            stage = self.people.get(camera_id)
            result = None if stage is None else stage.last
            current = result is not None and result.frame.index == frame.ref.index
            plates = stage.plates.last_reads if stage is not None and stage.plates else []
            boxes = None if faces is None else faces.detections.xyxy
            identifier = self.identifiers.get(camera_id)
            if boxes is None and identifier is not None:  # a camera inside a deployment
                index, found = identifier.last_face_boxes
                boxes = found if index == frame.ref.index else None
            self.live.observe(
                camera_id,
                frame.image,
                frame.ref,
                objects=result.tracked.detections if current and result else None,
                faces=boxes,
                plates=[(r.xyxy, r.text) for r in plates] if current else [],
            )
        except Exception as exc:
            self.stats[camera_id].failed(exc)
            log.exception("live tile update failed on camera %s", camera_id)

    def _analyse(self, camera_id: str, frame: DecodedFrame) -> FaceAnalysis | None:
        stats = self.stats[camera_id]
        stats.last_frame_at = frame.ref.captured_at.isoformat()
        stage = self.people.get(camera_id)
        if stage is not None and not self._people(stage, stats, frame):
            return None  # dropped by a saturated inference pool: not analysed, counted
        if self.faces is None or camera_id not in self.face_cameras:
            stats.frames += 1
            return None
        t0 = time.perf_counter()
        identifier = self.identifiers.get(camera_id)
        if identifier is not None:
            people = None if stage is None else stage.last  # links faces to person tracks
            self._identify(identifier, stats, frame, t0, people)
            return None
        try:
            analysis = self.faces.analyse(frame.image, frame.ref)
            for hook in self.hooks:
                hook(frame, analysis)
        except InferenceSaturatedError:
            stats.saturation_drops += 1
            return None
        except Exception as exc:  # a bad frame or a bug must not stop the camera
            stats.failed(exc)
            log.exception("analysis failed on camera %s frame %d", camera_id, frame.ref.index)
            return None
        stats.observe(analysis, (time.perf_counter() - t0) * 1000)
        return analysis

    def _people(self, stage: PeopleStage, stats: CameraStats, frame: DecodedFrame) -> bool:
        """Persons and vehicles → tracks → counts → crowd samples; failures contained.

        Returns False only when a shared inference pool refused the frame (cluster mode,
        saturation): the frame is then dropped whole and counted, not a failure.
        """
        t0 = time.perf_counter()
        try:
            stage.process(frame.image, frame.ref)
        except InferenceSaturatedError:
            stats.saturation_drops += 1
            return False
        except Exception as exc:
            stats.failed(exc)
            log.exception("people stage failed on camera %s", frame.ref.camera_id)
            return True
        ms = (time.perf_counter() - t0) * 1000
        view = stage.view
        view.ms_ewma = ms if view.ms_ewma == 0.0 else 0.9 * view.ms_ewma + 0.1 * ms
        return True

    def _identify(
        self,
        identifier: CameraIdentification,
        stats: CameraStats,
        frame: DecodedFrame,
        t0: float,
        people: PeopleFrame | None,
    ) -> None:
        """Faces → tracks → best shot → 1:N, all inside the identifier's deployment checks."""
        try:
            alerts = identifier.process(frame.image, frame.ref, people)
        except InferenceSaturatedError:  # a shared face pool refused it: dropped, counted
            stats.saturation_drops += 1
            return
        except Exception as exc:
            stats.failed(exc)
            log.exception("identification failed on camera %s", frame.ref.camera_id)
            return
        ms = (time.perf_counter() - t0) * 1000
        stats.frames += 1
        stats.alerts += len(alerts)
        stats.face_tracks_closed = identifier.tracks_closed
        stats.face_ms_ewma = ms if stats.frames == 1 else 0.9 * stats.face_ms_ewma + 0.1 * ms
        for alert in alerts:
            log.warning(
                "face alert %s on camera %s (score %.3f, false-alert rate %.2g): a lead "
                "for two people to verify",
                alert.alert.id,
                frame.ref.camera_id,
                alert.alert.score,
                alert.alert.false_alert_rate or float("nan"),
            )
