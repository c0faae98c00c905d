"""Which alerts each notification sink has delivered: the record that makes announcing exactly once.

Every process's event watcher sees each committed alert, and only the leader's senders deliver
it (:mod:`vigil.system.leader`). Two moments broke "once" before this record: a restart, whose
watcher re-reads the last minutes of alerts so that none committed during the restart is lost
(each was sent again), and a takeover, whose new leader had seen the alerts while it was a
follower (whatever the dead leader had not sent yet was lost). Now a sender writes a row per
(sink, alert) once the receiver acknowledged the alert (a 2xx answer, an MQTT PUBACK) and skips
alerts that have a row; a new leader replays its watcher's window and sends only what has none.

The trade-off: the row is written *after* the acknowledgement, so a sender killed between the
two sends that alert again after the restart (at least once, never lost within the window). A
row written before sending would turn that into a loss. ``sink`` is a stable name of the target
(see the senders), so a restarted sender with the same target finds its rows, and two targets
never share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select

from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import insert_ignore


class DeliveryLog:
    """The ``notification_deliveries`` rows over one database (thread-safe as the database is)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def delivered(self, sink: str, alert_ids: Iterable[str]) -> set[str]:
        """Which of ``alert_ids`` ``sink`` has already delivered."""
        ids = list(dict.fromkeys(alert_ids))
        if not ids:
            return set()
        table = t.notification_deliveries
        found: set[str] = set()
        with self.db.read() as conn:
            for start in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[start : start + 500]
                query = select(table.c.alert_id).where(
                    table.c.sink == sink, table.c.alert_id.in_(chunk)
                )
                found.update(conn.execute(query).scalars())
        return found

    def record(self, sink: str, alert_id: str, at: datetime) -> None:
        """Note that ``sink`` delivered ``alert_id`` (idempotent)."""
        row = {"sink": sink, "alert_id": alert_id, "delivered_at": at}
        self.db.write(lambda conn: insert_ignore(conn, t.notification_deliveries, [row]))

    def prune(self, before: datetime) -> int:
        """Forget deliveries older than ``before`` (far beyond any replay window)."""
        table = t.notification_deliveries
        stmt = delete(table).where(table.c.delivered_at < before)
        return int(self.db.write(lambda conn: conn.execute(stmt).rowcount) or 0)
