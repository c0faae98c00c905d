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
  watcher (which announces new alerts only) tell subscribers the camera recovered;
* an alert still open from a previous run (stopped or killed while a signal was active) is
  closed the same way at start, with ``reason=monitoring_restarted``: the detectors start
  afresh and raise a new alert if the condition persists (:meth:`TamperAlerter.close_stale`).

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
from datetime import UTC, datetime

from vigil.core.keys import record_key
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
    duplicates: int = 0


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
        """Close alerts a previous run left open (see :meth:`close_stale`), then start writing."""
        try:
            self.close_stale(datetime.now(UTC))
        except Exception:  # the database may be down at start; the writer retries nothing
            self.stats.failures += 1
            log.exception("closing tamper alerts left open by a previous run failed")
        self._thread = threading.Thread(target=self._run, name="vigil-tamper-alerts", daemon=True)
        self._thread.start()

    def close_stale(self, now: datetime) -> list[Alert]:
        """Expire the tamper alerts still ``actionable`` from before this alerter started.

        The map from a signal to its open alert lives in memory, so after a stop or a crash a
        later "cleared" could not find the alert it clears, and the alert would stay actionable
        for ever. The cameras' tamper detectors start afresh with the process and raise a new
        alert if the condition persists, so an alert from before the start is stale: it moves
        to ``expired`` beside a "cleared" record that says why (announced like any alert).
        """
        closed: list[Alert] = []
        while stale := self.repo.list_alerts(
            status=AlertStatus.ACTIONABLE, kind=AlertKind.TAMPER, until=now, limit=500
        ):
            for old in stale:
                try:
                    self.repo.transition_alert(old.id, AlertStatus.ACTIONABLE, AlertStatus.EXPIRED)
                except (ConflictError, NotFoundError):  # dealt with meanwhile
                    continue
                words = TamperChange.parse_detail(old.detail)
                detail = (
                    f"signal={words.get('signal', 'unknown')} phase=cleared "
                    f"reason=monitoring_restarted raised_alert={old.id}"
                )
                note = Alert(
                    id=f"tamper-{uuid.uuid4().hex}",
                    kind=AlertKind.TAMPER,
                    camera_id=old.camera_id,
                    raised_at=now,
                    score=0.0,
                    status=AlertStatus.EXPIRED,
                    detail=detail,
                )
                self.repo.add_alert(note)
                closed.append(note)
        if closed:
            log.warning(
                "closed %d tamper alert(s) left open by a previous run; cameras are re-checked",
                len(closed),
            )
        return closed

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

    def _store(self, change: TamperChange) -> Alert | None:
        """The change's alert (and, for a clearance, the raised alert's expiry) in one unit with
        its idempotency key; ``None`` when the key was recorded before (a repeat). The map of
        open alerts changes only after the unit committed (a unit may run more than once)."""
        slot = (change.camera_id, change.signal)
        raised_id = self._open.get(slot)
        key = None
        if change.position:
            epoch, _, frame = change.position.rpartition("/")
            key = record_key(
                change.camera_id, epoch, f"{frame}.{change.signal}.{change.phase}", "tamper"
            )

        def unit() -> Alert | None:
            if key is not None and not self.repo.claim_record_key(
                key, "tamper", change.camera_id, change.at
            ):
                return None
            return self._write(change, raised_id)

        alert = self.repo.db.unit(unit)
        if alert is None:
            self.stats.duplicates += 1
            return None
        self._open.pop(slot, None)
        if change.raised:
            self._open[slot] = alert.id
            self.stats.raised += 1
            log.warning(
                "tamper alert %s: %s on camera %s", alert.id, change.signal, change.camera_id
            )
        else:
            self.stats.cleared += 1
            log.warning(
                "tamper cleared on camera %s: %s (%s)",
                change.camera_id,
                change.signal,
                alert.detail,
            )
        return alert

    def _write(self, change: TamperChange, raised_id: str | None) -> Alert:
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
        if not change.raised and raised_id is not None:
            try:
                self.repo.transition_alert(raised_id, AlertStatus.ACTIONABLE, AlertStatus.EXPIRED)
            except (ConflictError, NotFoundError) as exc:  # someone already dealt with it
                log.info("tamper alert %s not expired: %s", raised_id, exc)
        return alert
