"""Live identification on one camera in the running system: the pure step between two sides.

Three parts meet here, and only here:

* :class:`DeploymentAuthority` (the governance side, read): which live deployments are in force
  on a camera now, their matchers built from the pinned watchlist versions, and the windows of
  approved post-event search authorisations, as one :class:`~vigil.identification.live.
  Authorisation` snapshot per camera, re-read every ``refresh_s`` (and at once when a handle in
  use has stopped or run out: a refusal or a missed deadline stops matching immediately anyway,
  since every matcher re-checks its handle);
* :class:`~vigil.identification.live.FaceIdentifier` (pure: frames → decisions, no I/O);
* :class:`~vigil.governance.recorder.IdentificationRecorder` (the governance side, write).

In the embedded mode all three run in the analysis thread of the camera; cluster mode runs the
pure step on the camera's worker and sends the decisions and snapshots across.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.analytics.people import PeopleFrame
from vigil.core.keys import record_key
from vigil.core.records import FrameRef
from vigil.errors import PolicyViolationError
from vigil.governance.audit import utc_now
from vigil.governance.deployments import DeploymentService
from vigil.governance.recorder import FaceAlert, IdentificationRecorder
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.live import Authorisation, FaceIdentifier, TrackDecision
from vigil.identification.matcher import WatchlistMatcher
from vigil.storage import Repository
from vigil.system.decisions import DecisionSink, FaceRecord, ScanRecord

log = logging.getLogger(__name__)


class DeploymentAuthority:
    """Per-camera :class:`Authorisation` snapshots, refreshed from the deployment service.

    Matchers (galleries) are cached per deployment and shared by the cameras it covers; a purge
    hook drops a purged deployment's matcher at once.
    """

    def __init__(
        self,
        deployments: DeploymentService,
        repo: Repository,
        false_alerts: FalseAlertModel,
        threshold: float,
        *,
        refresh_s: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.deployments = deployments
        self.repo = repo
        self.false_alerts = false_alerts
        self.threshold = threshold
        self.refresh_s = refresh_s
        self.clock = clock
        self._snapshots: dict[str, tuple[float, Authorisation]] = {}
        self._matchers: dict[str, WatchlistMatcher] = {}
        self._lock = threading.Lock()
        deployments.purge_hooks.append(self.forget)

    def for_camera(self, camera_id: str) -> Authorisation:
        """The camera's current snapshot (re-read when old or when a handle in it lapsed)."""
        now = self.clock()
        with self._lock:
            cached = self._snapshots.get(camera_id)
        if cached is not None:
            at, auth = cached
            fresh = time.monotonic() - at < self.refresh_s
            if fresh and all(m.deployment.covers(camera_id, now) for m in auth.matchers):
                return auth
        auth = self._read(camera_id, now)
        with self._lock:
            self._snapshots[camera_id] = (time.monotonic(), auth)
            # Galleries of deployments no camera here uses any more leave memory now: on a
            # camera node the revocation happened in another process, so no purge hook or
            # stopped handle tells this one; the refresh is what notices.
            live = {m.deployment.id for _, a in self._snapshots.values() for m in a.matchers}
            for gone in set(self._matchers) - live:
                del self._matchers[gone]
        return auth

    @property
    def galleries_loaded(self) -> int:
        """How many deployments' galleries (matchers) this process holds in memory."""
        with self._lock:
            return len(self._matchers)

    def forget(self, deployment_id: str) -> None:
        """Drop a deployment's matcher and every snapshot (purge hook)."""
        with self._lock:
            self._matchers.pop(deployment_id, None)
            self._snapshots.clear()

    def _read(self, camera_id: str, now: datetime) -> Authorisation:
        handles = self.deployments.activate(camera_id)
        matchers = []
        for handle in handles:
            with self._lock:
                m = self._matchers.get(handle.id)
            if m is None or m.deployment is not handle:
                try:
                    m = WatchlistMatcher.for_deployment(
                        handle, self.repo, self.false_alerts, self.threshold
                    )
                except PolicyViolationError as exc:  # e.g. a watchlist changed since approval
                    log.error("camera %s: deployment %s not used: %s", camera_id, handle.id, exc)
                    continue
                with self._lock:
                    self._matchers[handle.id] = m
            matchers.append(m)
        windows = self.deployments.post_event_windows(camera_id)
        return Authorisation(tuple(matchers), windows)


class CameraIdentification:
    """One camera: snapshot → pure identifier → recorder, plus periodic scan summaries.

    Args:
        sink: where keyed decisions go (the running system's outbox); ``None``: straight to
            ``recorder`` without keys (tests of the identification itself).
        stats_every_s: how often the per-deployment scan counts are written to the audit chain.
    """

    def __init__(
        self,
        identifier: FaceIdentifier,
        authority: DeploymentAuthority,
        recorder: IdentificationRecorder,
        *,
        sink: DecisionSink | None = None,
        stats_every_s: float = 300.0,
    ) -> None:
        self.identifier = identifier
        self.authority = authority
        self.recorder = recorder
        self.sink = sink
        self.stats_every_s = stats_every_s
        self._stats_at = time.monotonic()
        # Where the stream is (epoch and frame index), for the decisions' idempotency keys.
        self._epoch = ""
        self._position = "start"
        self._summaries = 0

    @property
    def camera_id(self) -> str:
        return self.identifier.camera_id

    @property
    def tracks_closed(self) -> int:
        return self.identifier.tracks_closed

    def process(
        self, image: npt.NDArray[np.uint8], frame: FrameRef, people: PeopleFrame | None = None
    ) -> list[FaceAlert]:
        """Analyse one sampled frame (with the people step's result for it, if any); returns
        the alerts raised by tracks that closed."""
        auth = self.authority.for_camera(self.camera_id)
        self._epoch, self._position = frame.epoch, str(frame.index)
        alerts = self._record(self.identifier.process(image, frame, auth, people))
        if time.monotonic() - self._stats_at > self.stats_every_s:
            self.flush_stats()
        return alerts

    @property
    def last_face_boxes(self) -> tuple[int, npt.NDArray[np.float32]]:
        """The latest frame's index and its face boxes (plain boxes, for the live tile)."""
        return self.identifier.last_boxes

    def finish(self) -> list[FaceAlert]:
        """Close every open track (end of stream) and write the scan counts."""
        auth = self.authority.for_camera(self.camera_id)
        self._position += ".end"
        alerts = self._record(self.identifier.finish(auth))
        self.flush_stats()
        return alerts

    def state(self) -> dict[str, object]:
        """What identification may do on this camera now: the deployments in force and how
        many galleries the process holds (ids and counts only). Re-reads a stale snapshot, so
        a camera whose frames stopped still lets a lapsed gallery go when its status is read."""
        auth = self.authority.for_camera(self.camera_id)
        live = auth.live(self.camera_id, self.authority.clock())
        return {
            "deployments": sorted(m.deployment.id for m in live),
            "galleries_loaded": self.authority.galleries_loaded,
        }

    def flush_stats(self) -> None:
        scanned, alerted = self.identifier.take_counts()
        self._stats_at = time.monotonic()
        if self.sink is None:
            self.recorder.record_scans(self.camera_id, scanned, alerted)
            return
        if not scanned and not alerted:
            return
        self._summaries += 1
        position = f"{self._position}.s{self._summaries}"
        key = record_key(self.camera_id, self._epoch, position, "scans")
        self.sink(ScanRecord(key, self.camera_id, dict(scanned), dict(alerted)))

    def _record(self, decisions: Sequence[TrackDecision]) -> list[FaceAlert]:
        if self.sink is None:
            return [alert for d in decisions for alert in self.recorder.record(d)]
        alerts: list[FaceAlert] = []
        for i, d in enumerate(decisions):  # position: the frame that closed it, and its rank
            key = record_key(self.camera_id, self._epoch, f"{self._position}.{i}", "face")
            result = self.sink(FaceRecord.of(key, d))
            if result is not None:  # None: buffered while the database is away
                alerts.extend(a for a in result.alerts if isinstance(a, FaceAlert))
        return alerts
