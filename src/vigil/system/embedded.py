"""The embedded default: every stage in one process, served by one API.

``EmbeddedSystem`` owns the camera supervisor (capture threads), the analysis pool (perception),
the tamper alerter (tamper signals → stored alerts) and exposes a read-only view of their state
for the API and the terminal view. It is started by
``vigil run``; ``stop()`` brings everything down within a few seconds (SIGTERM-safe).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from vigil.config.analytics import PEOPLE_ANALYTICS
from vigil.config.settings import CameraConfig, VigilConfig
from vigil.logs import redact
from vigil.perception.faces.pipeline import FacePipeline
from vigil.sources.status import CameraStatus
from vigil.sources.supervisor import Supervisor
from vigil.system.analysis import AnalysisPool, FaceHook
from vigil.system.people import PeopleStage, zone_analytics
from vigil.system.tamper_alerts import TamperAlerter

if TYPE_CHECKING:
    from vigil.api.services import ApiServices
    from vigil.core.records import Alert, CrowdSample
    from vigil.storage import Repository
    from vigil.system.plates import PlateSink

log = logging.getLogger(__name__)


class EmbeddedSystem:
    """Cameras → analysis for one config; start/stop and a status view."""

    def __init__(
        self, config: VigilConfig, *, hooks: list[FaceHook] | None = None, analysis_threads: int = 1
    ) -> None:
        self.config = config
        cameras = [c for c in config.cameras if c.enabled]
        self.supervisor = Supervisor.from_configs(cameras)
        face_cams = frozenset(c.id for c in cameras if "faces" in c.analytics)
        faces = FacePipeline.from_config(config.faces, config.models.dir) if face_cams else None
        self.analysis = AnalysisPool(
            list(self.supervisor.workers.values()),
            faces,
            face_cams,
            threads=analysis_threads,
            hooks=list(hooks or []),
        )
        # `plates` cameras run the people stage too: plates are read on its vehicle tracks.
        tracked = PEOPLE_ANALYTICS | {"plates"}
        people_cams = [c for c in cameras if tracked & set(c.analytics)]
        if people_cams:
            from vigil.perception.objects import NanoDetDetector

            # One detector for every camera (an ONNX Runtime session is thread-safe). It keeps
            # boxes down to 0.1 for the tracker's low-score pass; counts use people.score_threshold.
            detector = NanoDetDetector(
                config.models.dir, score_threshold=0.1, tile_grids=config.people.tile_grids
            )
            for cam in people_cams:
                self.analysis.people[cam.id] = PeopleStage(
                    cam.id, detector, config.people, zones=zone_analytics(cam)
                )
            self._add_plate_stages([c for c in cameras if "plates" in c.analytics])
        self.tamper_alerts: TamperAlerter | None = None
        self.started = False

    def _add_plate_stages(self, cameras: list[CameraConfig]) -> None:
        """A plate stage behind the people stage of each `plates` camera (one shared reader)."""
        if not cameras:
            return
        from vigil.perception.plates import PlateReader
        from vigil.system.plates import PlateStage, profile_from_config

        plates = self.config.plates
        reader = PlateReader.from_models(profile_from_config(plates), self.config.models.dir)
        for cam in cameras:
            self.analysis.people[cam.id].plates = PlateStage(
                cam.id, reader, plates, whole_frame=cam.plate_search == "whole_frame"
            )

    def enable_plate_storage(self, sink: PlateSink) -> list[str]:
        """Send every camera's fused plate reads to ``sink`` (the hotlist checker, which stores
        them and raises plate_hit alerts); returns the cameras that read plates."""
        out = []
        for camera_id, stage in self.analysis.people.items():
            if stage.plates is not None:
                stage.plates.sink = sink
                out.append(camera_id)
        return sorted(out)

    def enable_crowd_storage(self, repo: Repository) -> list[str]:
        """Store each camera's crowd samples and crowd alerts (served by the API, published by
        the event watcher); returns the cameras that count people."""

        def store(sample: CrowdSample, alerts: list[Alert]) -> None:
            repo.add_crowd_samples([sample])
            for alert in alerts:
                repo.add_alert(alert)

        for stage in self.analysis.people.values():
            stage.sink = store
        return sorted(self.analysis.people)

    def enable_tamper_alerts(self, repo: Repository) -> TamperAlerter:
        """Store every camera's tamper signals as tamper alerts (announced like any alert)."""
        self.tamper_alerts = TamperAlerter(repo)
        for worker in self.supervisor.workers.values():
            worker.on_tamper = self.tamper_alerts.submit
        return self.tamper_alerts

    def enable_identification(self, services: ApiServices) -> list[str]:
        """Give every face camera a live identifier (it matches only inside a deployment)."""
        from vigil.identification.calibration import FalseAlertModel
        from vigil.identification.live import LiveIdentifier

        ident = self.config.faces.identification
        if ident.calibration_file is None or self.analysis.faces is None:
            log.warning("no face calibration configured: live identification is off")
            return []
        false_alerts = FalseAlertModel.from_file(ident.calibration_file)
        for camera_id in self.analysis.face_cameras:
            self.analysis.identifiers[camera_id] = LiveIdentifier(
                camera_id,
                self.analysis.faces,
                deployments=services.deployments,
                repo=services.repo,
                media=services.media,
                audit=services.audit,
                false_alerts=false_alerts,
                threshold=ident.threshold,
                archive=services.archive,  # archived templates become searchable, and purgeable
            )
        return sorted(self.analysis.identifiers)

    def start(self) -> None:
        if self.tamper_alerts is not None:
            self.tamper_alerts.start()
        self.supervisor.start()
        self.analysis.start()
        self.started = True
        log.info("embedded system started with %d camera(s)", len(self.supervisor.workers))

    def stop(self) -> None:
        self.analysis.stop()
        self.supervisor.stop()
        if self.tamper_alerts is not None:
            self.tamper_alerts.stop()
        self.started = False

    def camera_statuses(self) -> list[CameraStatus]:
        return [w.snapshot() for w in self.supervisor.workers.values()]

    def camera_view(self) -> list[dict[str, Any]]:
        """Per camera: health (no URL) and analysis totals; safe to serve to any role."""
        out = []
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
                    "frames_analysed": stats.frames if stats else 0,
                    "faces_seen": stats.faces if stats else 0,
                    "faces_embedded": stats.faces_embedded if stats else 0,
                    "analysis_failures": stats.failures if stats else 0,
                    "alerts": stats.alerts if stats else 0,
                    "face_tracks_closed": stats.face_tracks_closed if stats else 0,
                    "face_ms": round(stats.face_ms_ewma, 1) if stats else None,
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
                }
            )
        return out

    def heatmap_png(self, camera_id: str) -> bytes | None:
        """The camera's people heatmap (PNG), or ``None`` if it counts no people (yet)."""
        stage = self.analysis.people.get(camera_id)
        return None if stage is None else stage.heatmap_png()

    def stats_dict(self) -> dict[str, Any]:
        return {k: asdict(v) for k, v in self.analysis.stats.items()}
