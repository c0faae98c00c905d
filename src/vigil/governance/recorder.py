"""The recorder: turns identification decisions into stored records, each in one transaction.

The identification step (:class:`vigil.identification.live.FaceIdentifier`) decides and stores
nothing; this is the only place its decisions reach storage. Per decision:

* a **match** (:class:`~vigil.identification.live.TrackDecision` with hits): the probe crop goes
  to the media store first (files cannot roll back), then the face sighting, one pending alert per
  matching deployment and each alert's ``alert.raise`` audit entry commit in **one** transaction
  (re-run whole while the database is away, up to ``storage.write_retry_s``); if it still fails,
  a crop this call created is deleted again, so nothing is left half-written;
* an **archived** non-match (inside an approved post-event authorisation): the crop, then the
  sighting and its template in one transaction, and the template is added to the archive index
  once that has committed (the index catches up from the database after a crash);
* **scan counts** per deployment: one ``deployment.scan_summary`` entry each (no biometric data).

Decisions are plain records, so the recorder can run in another process or on another machine
than the step that made them (the seam cluster mode cuts at).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import numpy as np

from vigil.core.records import Alert, AlertKind, ObjectClass, Sighting
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.drift import DriftWatch
from vigil.identification.live import FaceHit, TrackDecision
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


class IdentificationRecorder:
    """Persist identification decisions (see the module docstring).

    Args:
        archive: the sighting archive index archived templates are added to (``None``: kept in
            the database only, unsearchable until an index catches up).
    """

    def __init__(
        self,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        *,
        archive: ArchiveIndex | None = None,
        clock: Callable[[], datetime] = utc_now,
        drift: DriftWatch | None = None,
    ) -> None:
        self.drift = drift
        self.repo = repo
        self.media = media
        self.audit = audit
        self.archive = archive
        self.clock = clock

    def record(self, decision: TrackDecision) -> list[FaceAlert]:
        """Store one decision; returns the alerts it raised (none for an archived track)."""
        if decision.is_match:
            return self._raise(decision)
        if decision.embedding is not None:
            self._archive(decision)
        return []

    def record_scans(
        self, camera_id: str, scanned: Mapping[str, int], alerted: Mapping[str, int]
    ) -> None:
        """One ``deployment.scan_summary`` entry per deployment with new counts, each in one
        unit of work with the searches it feeds to the deployment's drift watch."""
        for dep_id in sorted(set(scanned) | set(alerted)):
            n, alerts = scanned.get(dep_id, 0), alerted.get(dep_id, 0)
            self.repo.db.unit(partial(self._scan_summary, camera_id, dep_id, n, alerts))

    def _scan_summary(self, camera_id: str, dep_id: str, scanned: int, alerts: int) -> None:
        if self.drift is not None:
            self.drift.searched(dep_id, scanned)
        self.audit.append(
            "system",
            AuditAction.DEPLOYMENT_SCAN_SUMMARY,
            f"deployment:{dep_id}",
            "faces compared on this camera",
            [("camera", camera_id), ("faces_scanned", str(scanned)), ("alerts", str(alerts))],
        )

    # -- one decision ---------------------------------------------------------------------------

    def _put(self, data: bytes) -> tuple[str, bool]:
        created = not self.media.exists(media_key(data))
        return self.media.put(data), created

    def _sighting(self, d: TrackDecision, crop_key: str) -> str:
        sighting = Sighting(
            id=uuid.uuid4().hex,
            camera_id=d.camera_id,
            object_class=ObjectClass.FACE,
            started_at=d.first_seen,
            ended_at=d.last_seen,
            best_quality=d.best_quality,
            crop_key=crop_key,
        )
        self.repo.add_sightings([sighting])
        return sighting.id

    def _raise(self, d: TrackDecision) -> list[FaceAlert]:
        probe_key, created = self._put(d.probe_jpeg)

        def store() -> list[FaceAlert]:
            sighting_id = self._sighting(d, probe_key)
            return [self._alert(d, hit, sighting_id, probe_key) for hit in d.hits]

        try:  # one unit, re-run whole if the database is away for a while
            out = self.repo.db.unit(store)
        except BaseException:
            if created:
                self.media.delete(probe_key)
            raise
        return out

    def _alert(self, d: TrackDecision, hit: FaceHit, sighting_id: str, probe_key: str) -> FaceAlert:
        alert = Alert(
            id=uuid.uuid4().hex,
            kind=AlertKind.FACE_MATCH,
            camera_id=d.camera_id,
            raised_at=self.clock(),
            score=hit.score,
            deployment_id=hit.deployment_id,
            subject_id=hit.subject_id,
            false_alert_rate=hit.false_alert.upper,
            false_alert_point=hit.false_alert.point,
            calibration_count=hit.false_alert.count,
            calibration_comparisons=hit.false_alert.comparisons,
            rank2_margin=hit.rank2_margin,
            detail=f"watchlist={hit.watchlist_id} gallery={hit.gallery_size}",
            template_id=hit.template_id,
        )
        self.repo.add_alert(alert, sighting_id=sighting_id, probe_key=probe_key)
        self.audit.append(
            "system",
            AuditAction.ALERT_RAISE,
            f"alert:{alert.id}",
            "best shot at or above the calibrated threshold",
            [
                ("deployment", hit.deployment_id),
                ("subject", hit.subject_id),
                ("watchlist", hit.watchlist_id),
                ("camera", d.camera_id),
                ("score", f"{hit.score:.4f}"),
                ("false_alert_rate", f"{hit.false_alert.upper:.2g}"),
                ("false_alert_point", f"{hit.false_alert.point:.2g}"),
            ],
        )
        log.info("alert %s on %s (deployment %s)", alert.id, d.camera_id, hit.deployment_id)
        return FaceAlert(alert, probe_key, hit.enrolled_key, hit.template_id, hit.watchlist_id)

    def _archive(self, d: TrackDecision) -> None:
        assert d.embedding is not None
        key, created = self._put(d.probe_jpeg)
        vector = np.asarray(d.embedding, np.float32)

        def store() -> None:
            sighting_id = self._sighting(d, key)
            ids = self.repo.add_embeddings(d.model, [(sighting_id, vector)], at=self.clock())
            if self.archive is not None:
                archive = self.archive
                self.repo.db.after_commit(
                    lambda: archive.add(np.asarray(ids, np.int64), vector[None, :])
                )

        try:
            self.repo.db.unit(store)
        except BaseException:
            if created:
                self.media.delete(key)
            raise
