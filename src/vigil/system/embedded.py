"""The embedded default: every stage in one process, served by one API.

``EmbeddedSystem`` owns the camera supervisor (capture threads), the analysis pool (perception and
the per-camera stages) and the tamper alerter, and exposes a read-only view of their state for the
API and the terminal view. Every stage gets its sink in its constructor, from the
:class:`StageSinks` that :func:`vigil.system.assembly.assemble` builds; without sinks (tests, the
benchmark) the stages run and keep their results to themselves. ``stop()`` brings everything down
within a few seconds (SIGTERM-safe).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from vigil.config.analytics import PEOPLE_ANALYTICS
from vigil.config.settings import CameraConfig, VigilConfig
from vigil.logs import redact
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.objects.detector import ObjectDetector
from vigil.perception.plates.reader import PlateReading
from vigil.recording.writer import SegmentRecorder
from vigil.sources.status import CameraStatus
from vigil.sources.supervisor import Supervisor
from vigil.system.analysis import AnalysisPool, FaceHook
from vigil.system.batching import SharedModels, share_models
from vigil.system.identification import CameraIdentification
from vigil.system.live_video import LiveVideo, geometry_of
from vigil.system.outbox import Outbox
from vigil.system.people import (
    CrossingSink,
    CrowdSink,
    PeopleStage,
    SightingSink,
    zone_analytics,
)
from vigil.system.plates import PlateSink, PlateStage, plate_reader_from_config
from vigil.system.tamper_alerts import TamperAlerter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CameraModels:
    """Per-camera models instead of the local ones every camera shares (cluster mode: clients
    of the shared pools, carrying the camera's priority); a ``None`` factory keeps that kind
    local. A ``faces`` factory needs a system of one face camera (a cluster's camera actor)."""

    objects: Callable[[CameraConfig], ObjectDetector] | None = None
    faces: Callable[[CameraConfig], FacePipeline] | None = None
    plates: Callable[[CameraConfig], PlateReading] | None = None


@dataclass(frozen=True)
class StageSinks:
    """Where the stages' outputs go, handed to :class:`EmbeddedSystem` by the assembly.

    Attributes:
        tamper: stores tamper signals as tamper alerts (started and stopped with the system).
        crowd: stores a camera's crowd sample and the crowd alerts it raised.
        plates: stores fused plate reads and raises plate hits (the hotlist checker).
        sightings: stores closed person and vehicle tracks with their appearance descriptors.
        crossings: adds a frame's line crossings to the stored per-minute buckets.
        identification: makes a face camera's identification (``None``: no comparison at all).
        outbox: the outbox the sinks write through (started before the cameras and stopped
            after them, so the last decisions are written or spooled).
        recorder: makes a camera's recorder (``None`` for a camera that records nothing); the
            recorder is teed into the camera's source, apart from the analysis queue.
    """

    recorder: Callable[[CameraConfig], SegmentRecorder | None] | None = None

    tamper: TamperAlerter | None = None
    crowd: CrowdSink | None = None
    plates: PlateSink | None = None
    sightings: SightingSink | None = None
    crossings: CrossingSink | None = None
    identification: Callable[[str, FacePipeline], CameraIdentification] | None = None
    outbox: Outbox | None = None


class EmbeddedSystem:
    """Cameras → analysis for one config, each stage built with its sink; start/stop; status."""

    def __init__(
        self,
        config: VigilConfig,
        *,
        sinks: StageSinks | None = None,
        hooks: list[FaceHook] | None = None,
        analysis_threads: int = 1,
        models: CameraModels | None = None,
    ) -> None:
        self.config = config
        self.models = models or CameraModels()
        sinks = sinks or StageSinks()
        self.tamper_alerts = sinks.tamper
        self.outbox = sinks.outbox
        cameras = [c for c in config.cameras if c.enabled]
        on_tamper = None if sinks.tamper is None else sinks.tamper.submit
        self.recorders: dict[str, SegmentRecorder] = {}
        if sinks.recorder is not None:
            for cam in cameras:
                if (recorder := sinks.recorder(cam)) is not None:
                    self.recorders[cam.id] = recorder
        self.supervisor = Supervisor.from_configs(
            cameras, on_tamper=on_tamper, tees=dict(self.recorders)
        )
        face_cams = frozenset(c.id for c in cameras if "faces" in c.analytics)
        faces = self._face_pipeline([c for c in cameras if c.id in face_cams])
        batching = config.runtime.batching
        self.shared: SharedModels | None = None
        if faces is not None and batching.enabled and self.models.faces is None:
            self.shared = share_models(faces, batching)
            analysis_threads = max(analysis_threads, batching.analysis_threads)
        identifiers = {}
        if faces is not None and sinks.identification is not None:
            identifiers = {cam: sinks.identification(cam, faces) for cam in sorted(face_cams)}
        self.analysis = AnalysisPool(
            list(self.supervisor.workers.values()),
            faces,
            face_cams,
            threads=analysis_threads,
            hooks=list(hooks or []),
            identifiers=identifiers,
        )
        # The console's live tiles: the latest analysed frame per camera, encoded on demand.
        self.live = LiveVideo({c.id: geometry_of(c) for c in cameras}, config.console)
        self.analysis.live = self.live
        # `plates` cameras run the people stage too: plates are read on its vehicle tracks.
        tracked = PEOPLE_ANALYTICS | {"plates"}
        people_cams = [c for c in cameras if tracked & set(c.analytics)]
        if people_cams:
            self._add_people_stages(people_cams, sinks)
        self.started = False

    def _face_pipeline(self, cameras: list[CameraConfig]) -> FacePipeline | None:
        if not cameras:
            return None
        if self.models.faces is None:
            return FacePipeline.from_config(self.config.faces, self.config.models.dir)
        if len(cameras) != 1:
            raise ValueError(f"per-camera face models need one face camera, got {len(cameras)}")
        return self.models.faces(cameras[0])

    def _add_people_stages(self, cameras: list[CameraConfig], sinks: StageSinks) -> None:
        """A people stage per camera (one shared detector), with a plate stage behind it on
        `plates` cameras (one shared reader); per-camera models where ``models`` has them."""
        from vigil.perception.objects import NanoDetDetector

        # One detector for every camera (an ONNX Runtime session is thread-safe), unless a
        # factory gives each camera its own (cluster mode's pool clients). It keeps boxes down
        # to 0.1 for the tracker's low-score pass; counts use people.score_threshold.
        shared: ObjectDetector | None = None
        if self.models.objects is None:
            shared = NanoDetDetector(
                self.config.models.dir,
                score_threshold=0.1,
                tile_grids=self.config.people.tile_grids,
            )
        reader: PlateReading | None = None
        if self.models.plates is None and any("plates" in c.analytics for c in cameras):
            reader = plate_reader_from_config(self.config.plates, self.config.models.dir)
        for cam in cameras:
            plates = None
            if "plates" in cam.analytics:
                cam_reader = reader if self.models.plates is None else self.models.plates(cam)
                assert cam_reader is not None
                plates = PlateStage(
                    cam.id,
                    cam_reader,
                    self.config.plates,
                    sink=sinks.plates,
                    whole_frame=cam.plate_search == "whole_frame",
                )
            detector = shared if self.models.objects is None else self.models.objects(cam)
            assert detector is not None
            self.analysis.people[cam.id] = PeopleStage(
                cam.id,
                detector,
                self.config.people,
                sink=sinks.crowd,
                plates=plates,
                zones=zone_analytics(cam),
                sightings=sinks.sightings,
                crossings=sinks.crossings,
            )

    @property
    def identifying(self) -> list[str]:
        """The cameras whose faces are identified (inside deployments only)."""
        return sorted(self.analysis.identifiers)

    @property
    def counting(self) -> list[str]:
        """The cameras that count people (their crowd samples are stored when a sink is set)."""
        return sorted(self.analysis.people)

    @property
    def reading_plates(self) -> list[str]:
        return sorted(c for c, s in self.analysis.people.items() if s.plates is not None)

    def start(self) -> None:
        if self.outbox is not None:
            self.outbox.start()
        if self.tamper_alerts is not None:
            self.tamper_alerts.start()
        for recorder in self.recorders.values():
            recorder.start()
        self.supervisor.start()
        self.analysis.start()
        self.started = True
        log.info("embedded system started with %d camera(s)", len(self.supervisor.workers))

    def stop(self) -> None:
        self.analysis.stop()
        if self.shared is not None:
            self.shared.close()
        self.supervisor.stop()
        for recorder in self.recorders.values():  # after the cameras: the last segment ends
            recorder.stop()
        if self.tamper_alerts is not None:
            self.tamper_alerts.stop()
        if self.outbox is not None:
            self.outbox.stop()
        self.started = False

    def recorder_status(self) -> dict[str, Any] | None:
        """The outbox's counters and recorder lag (``None`` without an outbox)."""
        return None if self.outbox is None else self.outbox.snapshot()

    def inference_status(self) -> dict[str, dict[str, Any]]:
        """Per shared model (cross-camera batching): batch sizes, waits, drops; ``{}`` when
        batching is off."""
        return {} if self.shared is None else self.shared.snapshot()

    def camera_statuses(self) -> list[CameraStatus]:
        return [w.snapshot() for w in self.supervisor.workers.values()]

    def camera_view(self) -> list[dict[str, Any]]:
        """Per camera: health (no URL) and analysis totals; safe to serve to any role."""
        out = []
        recorder = self.recorder_status()
        lag = None if recorder is None else recorder["lag_s"]
        for status in self.camera_statuses():
            stats = self.analysis.stats.get(status.camera_id)
            stage = self.analysis.people.get(status.camera_id)
            people = asdict(stage.view) if stage is not None else {}
            out.append(
                {
                    "camera_id": status.camera_id,
                    "state": str(status.state),
                    "since": status.since.isoformat(),
                    "last_error": redact(status.last_error) if status.last_error else None,
                    "frames_captured": status.frames,
                    "frames_analysed": stats.frames if stats else 0,
                    "faces_seen": stats.faces if stats else 0,
                    "faces_embedded": stats.faces_embedded if stats else 0,
                    "analysis_failures": stats.failures if stats else 0,
                    "saturation_drops": stats.saturation_drops if stats else 0,
                    "alerts": stats.alerts if stats else 0,
                    "face_tracks_closed": stats.face_tracks_closed if stats else 0,
                    "face_ms": round(stats.face_ms_ewma, 1) if stats else None,
                    "latency_ms_p50": _ms(stats.latency_ms(0.5)) if stats else None,
                    "latency_ms_p95": _ms(stats.latency_ms(0.95)) if stats else None,
                    "dropped_frames": status.dropped,
                    "people_now": people.get("people_now"),
                    "vehicles_now": people.get("vehicles_now"),
                    "person_tracks_active": people.get("person_tracks_active"),
                    "person_tracks_total": people.get("person_tracks_total"),
                    "crowd_count": people.get("last_crowd_count"),
                    "crowd_alerts": people.get("crowd_alerts"),
                    "people_ms": round(people["ms_ewma"], 1) if people else None,
                    "zone_counts": people.get("zone_counts"),
                    "line_crossings": people.get("line_crossings"),
                    "loitering": people.get("loitering"),
                    "tamper": sorted(str(t) for t in status.tamper),
                    "tamper_since": {str(k): v.isoformat() for k, v in status.tamper_since},
                    "tamper_raised": status.tamper_raised,
                    # The process's outbox (shared by its cameras): age of the oldest decision
                    # not yet in the database, and how many wait.
                    "recorder_lag_s": lag,
                    "recorder_pending": None
                    if recorder is None
                    else recorder["queued"] + recorder["spool_items"],
                    **self._recording_view(status.camera_id),
                }
            )
        return out

    def _recording_view(self, camera_id: str) -> dict[str, Any]:
        """The camera's recording health: state, segments, errors (``off`` when not recording)."""
        rec = self.recorders.get(camera_id)
        if rec is None:
            return {"recording": "off"}
        s = rec.status()
        return {
            "recording": s.state,
            "recording_segments": s.segments,
            "recording_bytes": s.bytes,
            "recording_dropped_packets": s.dropped_packets,
            "recording_errors": s.write_errors,
            "recording_last_error": redact(s.last_error) if s.last_error else None,
            "recording_index_pending": s.index_pending,
        }

    def heatmap_png(self, camera_id: str) -> bytes | None:
        """The camera's people heatmap (PNG), or ``None`` if it counts no people (yet)."""
        stage = self.analysis.people.get(camera_id)
        return None if stage is None else stage.heatmap_png()

    def stats_dict(self) -> dict[str, Any]:
        return {k: asdict(v) for k, v in self.analysis.stats.items()}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
