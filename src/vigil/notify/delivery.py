"""Exactly-once announcement of alerts per sink: a claim in memory, a record in the database.

A sender asks :meth:`DeliveryGuard.claim` before it sends an alert: the claim fails when the
database says this sink has delivered it (an earlier run, or the leader before a takeover) or
when another thread of this process is sending it right now (the watcher and a new leader's
replay may hand the same alert over at once). After the receiver acknowledged it the sender
calls :meth:`done`, which writes the record; after a failure, :meth:`release`, so a later replay
may try again. Other events (camera status, crowd counts) are states, not announcements: they
pass without a record. See :mod:`vigil.storage.deliveries` for the at-least-once edge.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from vigil.governance.audit import utc_now
from vigil.storage.deliveries import DeliveryLog

log = logging.getLogger(__name__)

KEEP = timedelta(days=1)  # delivery rows older than this are pruned ...
PRUNE_EVERY = timedelta(hours=1)  # ... when a sender starts and then at most this often


def sink_name(kind: str, target: str) -> str:
    """A stable name of one target that never shows it (a URL may hold credentials)."""
    return f"{kind}:{hashlib.sha256(target.encode()).hexdigest()[:40]}"


class DeliveryGuard:
    """The delivery record of one sink; ``log=None`` keeps claims in memory only (tests)."""

    def __init__(
        self,
        sink: str,
        log: DeliveryLog | None,
        *,
        clock: Callable[[], datetime] = utc_now,
        max_in_flight: int = 10_000,
    ) -> None:
        self.sink = sink
        self.log = log
        self.clock = clock
        self.max_in_flight = max_in_flight
        self._in_flight: set[str] = set()
        self._lock = threading.Lock()
        self._pruned_at: datetime | None = None
        self.skipped = 0

    def prune(self) -> None:
        """Drop rows older than :data:`KEEP` (far beyond any replay window), so the table
        stays bounded by a day of alerts on a system that runs for months."""
        if self.log is not None:
            now = self.clock()
            self.log.prune(now - KEEP)
            self._pruned_at = now

    def claim(self, alert_id: str) -> bool:
        """Whether to send ``alert_id`` now (then it is this caller's until done/release)."""
        with self._lock:
            if alert_id in self._in_flight or len(self._in_flight) >= self.max_in_flight:
                self.skipped += 1
                return False
            self._in_flight.add(alert_id)
        try:
            sent = self.log is not None and alert_id in self.log.delivered(self.sink, [alert_id])
        except Exception:
            self.release(alert_id)
            raise
        if sent:
            self.release(alert_id)
            self.skipped += 1
        return not sent

    def done(self, alert_id: str) -> None:
        """The receiver acknowledged ``alert_id``: record it (a failed write is logged; the
        alert may then go out again after a restart, never be lost)."""
        try:
            if self.log is not None:
                now = self.clock()
                self.log.record(self.sink, alert_id, now)
                if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
                    self.prune()
        except Exception:
            log.exception("could not record the delivery of an alert by %s", self.sink)
        finally:
            self.release(alert_id)

    def release(self, alert_id: str) -> None:
        with self._lock:
            self._in_flight.discard(alert_id)
