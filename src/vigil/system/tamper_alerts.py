"""Tamper alerts: camera tamper signals (frozen, black/covered, scene change) → stored alerts.

Camera workers emit a :class:`~vigil.sources.status.TamperChange` when a signal is raised or
cleared. :class:`TamperAlerter` turns each into an :class:`~vigil.core.records.Alert` of kind
``tamper`` in the system of record, from where the event watcher announces it like any alert
(WebSocket, webhooks, MQTT) and the API lists it:

* **raised** → a new alert, status ``actionable``: a tamper alert is about equipment, not a
  person, so it needs no two-person verification (the verification service refuses decisions on
  an alert that is not pending, so it never enters that queue); score 1.0;
* **cleared** → a second alert, status ``expired``, score 0.0, whose detail names the alert it
  clears and how long the condition lasted; the raised alert moves ``actionable → expired`` so
  "open tamper alerts" is one query. Announcing the clearance as its own record is what lets the
  watcher (which announces new alerts only) tell subscribers the camera recovered.

Capture threads must never wait on the database, so :meth:`TamperAlerter.submit` only puts the
change on a bounded queue that one writer thread drains; if the queue is full (the database has
been unreachable for a long time) the change is dropped, counted and logged. The map from an
active signal to its alert id holds at most one entry per camera and signal and loses it when
the signal clears, so it stays bounded on a 24/7 system.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from dataclasses import dataclass

from vigil.core.records import Alert, AlertKind, AlertStatus
from vigil.errors import ConflictError, NotFoundError
from vigil.sources.status import TamperChange, TamperSignal
from vigil.storage import Repository

log = logging.getLogger(__name__)


@dataclass
class TamperAlertStats:
    """What the alerter has done (scalars only)."""

    raised: int = 0
    cleared: int = 0
    dropped: int = 0
    failures: int = 0


class TamperAlerter:
    """Store tamper changes as alerts, off the capture threads (see the module docstring).

    Args:
        repo: the system of record.
        maxsize: changes waiting to be written; beyond it new ones are dropped and counted. A
            change is ~200 bytes, so the default bounds the backlog at well under a megabyte.
    """

    def __init__(self, repo: Repository, *, maxsize: int = 1000) -> None:
        self.repo = repo
        self._queue: queue.Queue[TamperChange | None] = queue.Queue(maxsize)
        self._open: dict[tuple[str, TamperSignal], str] = {}
        self._thread: threading.Thread | None = None
        self.stats = TamperAlertStats()

    def submit(self, change: TamperChange) -> None:
        """Queue a change for writing (never blocks; the capture thread calls this)."""
        try:
            self._queue.put_nowait(change)
        except queue.Full:
            self.stats.dropped += 1
            log.error(
                "tamper alert queue full: %s %s on camera %s not stored",
                change.signal,
                change.phase,
                change.camera_id,
            )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vigil-tamper-alerts", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Write what is queued (within ``timeout``) and stop the writer thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("tamper alert queue still full at shutdown; pending changes lost")
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while (change := self._queue.get()) is not None:
            self.handle(change)

    def handle(self, change: TamperChange) -> Alert | None:
        """Store one change as an alert (the writer thread calls this; tests may call it)."""
        try:
            return self._store(change)
        except Exception:  # a database hiccup must not end the writer thread
            self.stats.failures += 1
            log.exception("storing tamper %s on camera %s failed", change.phase, change.camera_id)
            return None

    def _store(self, change: TamperChange) -> Alert:
        key = (change.camera_id, change.signal)
        raised_id = self._open.pop(key, None)
        alert = Alert(
            id=f"tamper-{uuid.uuid4().hex}",
            kind=AlertKind.TAMPER,
            camera_id=change.camera_id,
            raised_at=change.at,
            score=1.0 if change.raised else 0.0,
            status=AlertStatus.ACTIONABLE if change.raised else AlertStatus.EXPIRED,
            detail=change.detail(raised_id),
        )
        self.repo.add_alert(alert)
        if change.raised:
            self._open[key] = alert.id
            self.stats.raised += 1
            log.warning(
                "tamper alert %s: %s on camera %s", alert.id, change.signal, change.camera_id
            )
            return alert
        self.stats.cleared += 1
        if raised_id is not None:
            try:
                self.repo.transition_alert(raised_id, AlertStatus.ACTIONABLE, AlertStatus.EXPIRED)
            except (ConflictError, NotFoundError) as exc:  # someone already dealt with it
                log.info("tamper alert %s not expired: %s", raised_id, exc)
        log.warning(
            "tamper cleared on camera %s: %s (%s)", change.camera_id, change.signal, alert.detail
        )
        return alert
