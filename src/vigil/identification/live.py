"""Live identification on one camera: faces → tracks → best shot → 1:N inside a deployment.

For each sampled frame :class:`LiveIdentifier` asks the deployment service which deployments are
in force on its camera. With none (and no post-event search authorisation for the camera), faces
are detected and tracked but **not embedded**: no template is made, so nothing could be compared.
With one or more, quality-gated faces are embedded, each track keeps its best shot, and when the
track closes that one template is searched against each deployment's pinned watchlists.

On close:

* a match raises an :class:`~vigil.core.records.Alert` (pending two-person verification) that
  carries the probe crop (media store), the enrolled image (the matched template's photo), the
  score, the calibrated false-alert rate at that score for the gallery size, and the rank-2
  margin; the sighting row keeps the crop for the people who verify it;
* no match: the crop and template are dropped there and then (never written), unless an approved
  post-event search authorisation covers this camera and time, in which case the sighting is
  archived with them: the crop in the media store, the template in the database and in the
  archive index (``archive``) that :class:`~vigil.governance.search.ArchiveSearch` searches, all
  three purged by :class:`~vigil.governance.purge.Purger` once the authorisation lapses.

Counts of faces compared per deployment are written to the audit chain as
``deployment.scan_summary`` entries (no biometric data), for the oversight report.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

from vigil.core.records import Alert, AlertKind, FrameRef, ObjectClass, Sighting
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.deployments import ActiveDeployment, DeploymentService
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.matcher import MatchDecision, WatchlistMatcher
from vigil.identification.tracks import FaceTrack, FaceTracker
from vigil.perception.faces.pipeline import FacePipeline
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex
from vigil.storage.media import MediaStore, media_key

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaceAlert:
    """An alert with what the verifiers look at: the probe crop and the enrolled image."""

    alert: Alert
    probe_key: str
    enrolled_key: str | None
    template_id: str
    watchlist_id: str


class LiveIdentifier:
    """Face identification for one camera, only inside active deployments.

    Args:
        refresh_s: how often (seconds of wall time) the set of deployments in force is re-read;
            a refusal or deadline stops matching at once regardless (the handles are stopped).
        stats_every_s: how often the per-deployment scan counts are written to the audit chain.
        archive: the sighting archive index archived templates are added to (``None``: they are
            kept in the database only, unsearchable until an index catches up).
    """

    def __init__(
        self,
        camera_id: str,
        pipeline: FacePipeline,
        *,
        deployments: DeploymentService,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        false_alerts: FalseAlertModel,
        threshold: float,
        tracker: FaceTracker | None = None,
        refresh_s: float = 5.0,
        stats_every_s: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
        archive: ArchiveIndex | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.archive = archive
        self.pipeline = pipeline
        self.deployments = deployments
        self.repo = repo
        self.media = media
        self.audit = audit
        self.false_alerts = false_alerts
        self.threshold = threshold
        self.tracker = tracker or FaceTracker(camera_id)
        self.refresh_s = refresh_s
        self.stats_every_s = stats_every_s
        self.clock = clock
        self._handles: list[ActiveDeployment] = []
        self._matchers: dict[str, WatchlistMatcher] = {}
        self._post_event = False
        self._refreshed = -float("inf")
        self._stats_at = time.monotonic()
        self.scanned: Counter[str] = Counter()
        self.alerted: Counter[str] = Counter()
        self.tracks_closed = 0
        deployments.purge_hooks.append(self._forget_deployment)

    # -- per frame ------------------------------------------------------------------------------

    def process(self, image: npt.NDArray[np.uint8], frame: FrameRef) -> list[FaceAlert]:
        """Analyse one sampled frame; returns alerts raised by tracks that closed."""
        self._refresh()
        embed = bool(self._live()) or self._post_event
        found = self.pipeline.analyse(image, frame, embed=embed)
        closed = self.tracker.update(found.observations, found.crops)
        alerts = [a for track in closed for a in self._close(track)]
        if time.monotonic() - self._stats_at > self.stats_every_s:
            self.flush_stats()
        return alerts

    def finish(self) -> list[FaceAlert]:
        """Close every open track (end of stream) and write the scan counts."""
        alerts = [a for track in self.tracker.close_all() for a in self._close(track)]
        self.flush_stats()
        return alerts

    def flush_stats(self) -> None:
        """Append one scan summary per deployment with new counts (no biometric data)."""
        for dep_id in sorted(set(self.scanned) | set(self.alerted)):
            self.audit.append(
                "system",
                AuditAction.DEPLOYMENT_SCAN_SUMMARY,
                f"deployment:{dep_id}",
                "faces compared on this camera",
                [
                    ("camera", self.camera_id),
                    ("faces_scanned", str(self.scanned[dep_id])),
                    ("alerts", str(self.alerted[dep_id])),
                ],
            )
        self.scanned.clear()
        self.alerted.clear()
        self._stats_at = time.monotonic()

    # -- deployments ----------------------------------------------------------------------------

    def _refresh(self) -> None:
        now = self.clock()
        stale = any(not h.covers(self.camera_id, now) for h in self._handles)
        if not stale and time.monotonic() - self._refreshed < self.refresh_s:
            return
        self._handles = self.deployments.activate(self.camera_id)
        live = {h.id for h in self._handles}
        for dep_id in list(self._matchers):
            if dep_id not in live:
                del self._matchers[dep_id]
        self._post_event = self.deployments.post_event_authorised(self.camera_id, now, now)
        self._refreshed = time.monotonic()

    def _live(self) -> list[ActiveDeployment]:
        now = self.clock()
        return [h for h in self._handles if h.covers(self.camera_id, now)]

    def _matcher(self, handle: ActiveDeployment) -> WatchlistMatcher:
        m = self._matchers.get(handle.id)
        if m is None or m.deployment is not handle:
            m = WatchlistMatcher.for_deployment(
                handle, self.repo, self.false_alerts, self.threshold
            )
            self._matchers[handle.id] = m
        return m

    def _forget_deployment(self, deployment_id: str) -> None:
        self._matchers.pop(deployment_id, None)
        self._handles = [h for h in self._handles if h.id != deployment_id]

    # -- closing a track ------------------------------------------------------------------------

    def _close(self, track: FaceTrack) -> list[FaceAlert]:
        self.tracks_closed += 1
        try:
            best = track.best
            if best is None or best.embedding is None or track.best_crop is None:
                return []
            now = self.clock()
            decisions: list[tuple[ActiveDeployment, MatchDecision]] = []
            for handle in self._live():
                if track.last_seen < handle.row.starts_at:
                    continue
                decision = self._matcher(handle).match(best.embedding, self.camera_id, now)
                self.scanned[handle.id] += 1
                decisions.append((handle, decision))
            hits = [(h, d) for h, d in decisions if d.is_match]
            if hits:
                return self._raise(track, hits)
            if self.deployments.post_event_authorised(
                self.camera_id, track.first_seen, track.last_seen
            ):
                self._archive(track)
            return []
        finally:
            track.forget_biometrics()  # non-match biometrics never outlive the track

    def _store_sighting(self, track: FaceTrack, crop_key: str) -> str:
        sighting = Sighting(
            id=uuid.uuid4().hex,
            camera_id=self.camera_id,
            object_class=ObjectClass.FACE,
            started_at=track.first_seen,
            ended_at=track.last_seen,
            best_quality=track.best_quality,
            crop_key=crop_key,
        )
        self.repo.add_sightings([sighting])
        return sighting.id

    def _put_crop(self, track: FaceTrack) -> tuple[str, bool]:
        """Store the best crop; returns its key and whether this call created the blob."""
        assert track.best_crop is not None
        ok, buf = cv2.imencode(".jpg", track.best_crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError("could not encode the probe crop")
        data = buf.tobytes()
        created = not self.media.exists(media_key(data))
        return self.media.put(data), created

    def _archive(self, track: FaceTrack) -> None:
        assert track.best is not None and track.best.embedding is not None
        sighting_id = self._store_sighting(track, self._put_crop(track)[0])
        model = getattr(self.pipeline.embedder, "name", "face")
        vector = track.best.embedding
        ids = self.repo.add_embeddings(str(model), [(sighting_id, vector)], at=self.clock())
        if self.archive is not None:
            self.archive.add(np.asarray(ids, np.int64), np.asarray(vector, np.float32)[None, :])

    def _raise(
        self, track: FaceTrack, hits: list[tuple[ActiveDeployment, MatchDecision]]
    ) -> list[FaceAlert]:
        probe_key, created = self._put_crop(track)
        # The sighting, its alerts and their audit entries commit together or not at all; a
        # crop whose records were rolled back is deleted (nothing would ever purge it).
        try:
            with self.repo.db.transaction():
                sighting_id = self._store_sighting(track, probe_key)
                out = []
                for handle, d in hits:
                    assert d.candidate is not None
                    entry = d.candidate.entry
                    alert = Alert(
                        id=uuid.uuid4().hex,
                        kind=AlertKind.FACE_MATCH,
                        camera_id=self.camera_id,
                        raised_at=self.clock(),
                        score=d.score,
                        deployment_id=handle.id,
                        subject_id=entry.subject_id,
                        false_alert_rate=d.false_alert_rate,
                        rank2_margin=d.rank2_margin,
                        detail=f"watchlist={entry.watchlist_id} gallery={d.gallery_size}",
                        template_id=entry.template_id,
                    )
                    self.repo.add_alert(alert, sighting_id=sighting_id, probe_key=probe_key)
                    self.alerted[handle.id] += 1
                    self.audit.append(
                        "system",
                        AuditAction.ALERT_RAISE,
                        f"alert:{alert.id}",
                        "best shot at or above the calibrated threshold",
                        [
                            ("deployment", handle.id),
                            ("subject", entry.subject_id),
                            ("watchlist", entry.watchlist_id),
                            ("camera", self.camera_id),
                            ("score", f"{d.score:.4f}"),
                            ("false_alert_rate", f"{d.false_alert_rate:.3g}"),
                        ],
                    )
                    log.info("alert %s on %s (deployment %s)", alert.id, self.camera_id, handle.id)
                    out.append(
                        FaceAlert(
                            alert, probe_key, entry.image_key, entry.template_id, entry.watchlist_id
                        )
                    )
        except BaseException:
            if created:
                self.media.delete(probe_key)
            raise
        return out
