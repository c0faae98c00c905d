"""Pick committed records up from the system of record and publish them as events.

Why poll rather than hook the pipeline: an alert must be announced only once it is committed
(a notification for a row that a crash then lost would send people after nothing), the writer
may be another process (cluster mode), and the identification code stays free of delivery
concerns. One cheap indexed query every ``poll_s`` (default 50 ms) keeps the commit-to-socket
latency well under the 200 ms target; crowd samples and camera status are polled once a second.

Alerts are found by ``raised_at`` within a ``lookback`` window and deduplicated by id, so an alert
committed up to ``lookback`` after it was raised is still announced once; the set of seen ids is
pruned to that window, so memory stays bounded on a 24/7 system.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from vigil.config.analytics import PEOPLE_ANALYTICS
from vigil.governance.audit import utc_now
from vigil.notify.events import AlertEvent, CameraStatusEvent, CrowdEvent, DriftEvent
from vigil.notify.hub import Hub
from vigil.storage import Repository
from vigil.storage.drift import DriftStore

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=2)
"""How far back alerts are looked for: at start (committed during a restart) and by a new
notification leader's replay; each sink's delivery record keeps either from sending twice."""

StatusSource = Callable[[], list[tuple[str, str, str | None]]]
"""Returns ``(camera_id, state, last_error)`` per running camera."""


class EventWatcher:
    """Background thread: alerts every ``poll_s``, crowd and camera status every ``slow_s``."""

    def __init__(
        self,
        repo: Repository,
        hub: Hub,
        *,
        statuses: StatusSource | None = None,
        poll_s: float = 0.05,
        slow_s: float = 1.0,
        lookback: timedelta = LOOKBACK,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.hub = hub
        self.statuses = statuses
        self.poll_s = poll_s
        self.slow_s = slow_s
        self.lookback = lookback
        self.clock = clock
        self._seen: dict[str, datetime] = {}
        self._started_at = clock()
        self._crowd_mark: dict[str, datetime] = {}
        self._camera_state: dict[str, str] = {}
        self._drift_mark: datetime | None = None  # flags after this are new (bounded state)
        self.drift = DriftStore(repo.db)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    def status(self) -> dict[str, object]:
        """Whether announcing works: failed polls so far (no personal data)."""
        return {"name": "event_watcher", "failures": self.failures}

    def start(self) -> None:
        self._started_at = self.clock()
        self._thread = threading.Thread(target=self._run, name="vigil-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        next_slow = 0.0
        elapsed = 0.0
        while not self._stop.wait(self.poll_s):
            elapsed += self.poll_s
            try:
                self.poll_alerts()
                if elapsed >= next_slow:
                    next_slow = elapsed + self.slow_s
                    self.poll_crowd()
                    self.poll_status()
                    self.poll_drift()
            except Exception:  # keep announcing; the failure is counted and logged
                self.failures += 1
                log.exception("event watcher poll failed")

    def poll_alerts(self) -> int:
        """Publish alerts committed since the last poll; returns how many."""
        now = self.clock()
        since = max(now - self.lookback, self._started_at - self.lookback)
        fresh = [a for a in self.repo.list_alerts(since=since, limit=500) if a.id not in self._seen]
        for alert in sorted(fresh, key=lambda a: (a.raised_at, a.id)):
            self._seen[alert.id] = alert.raised_at
            if alert.raised_at >= self._started_at - self.lookback:
                self.hub.publish(AlertEvent(alert))
        cutoff = now - 2 * self.lookback
        for key in [k for k, at in self._seen.items() if at < cutoff]:
            del self._seen[key]
        return len(fresh)

    def poll_crowd(self) -> int:
        n = 0
        for cam in self.repo.list_cameras():
            if not PEOPLE_ANALYTICS & set(cam.analytics):  # cameras that count people
                continue
            mark = self._crowd_mark.get(cam.id, self._started_at)
            for sample in self.repo.list_crowd_samples(cam.id, since=mark, limit=100):
                if sample.sampled_at >= mark:
                    self.hub.publish(CrowdEvent(sample))
                    n += 1
                    self._crowd_mark[cam.id] = sample.sampled_at + timedelta(microseconds=1)
        return n

    def poll_drift(self) -> int:
        """Announce drift flags raised since start (minus the lookback) once each."""
        n = 0
        since = self._drift_mark or self._started_at - self.lookback
        for row in self.drift.flagged_since(since):
            if row.flagged_at is None:
                continue
            self._drift_mark = row.flagged_at + timedelta(microseconds=1)
            cams = self.repo.get_deployment(row.deployment_id).camera_ids
            self.hub.publish(
                DriftEvent(
                    row.deployment_id,
                    cams[0] if cams else "",
                    row.flagged_at,
                    row.flagged_searches or row.searches,
                    row.flagged_false_alerts or row.false_alerts,
                    row.predicted_rate,
                )
            )
            n += 1
        return n

    def poll_status(self) -> int:
        if self.statuses is None:
            return 0
        n = 0
        for camera_id, state, error in self.statuses():
            if self._camera_state.get(camera_id) != state:
                self._camera_state[camera_id] = state
                self.hub.publish(CameraStatusEvent(camera_id, state, self.clock(), error))
                n += 1
        return n
