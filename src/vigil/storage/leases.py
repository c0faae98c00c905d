"""Which process of several sharing one database is the leader: a PostgreSQL advisory lock.

Several API processes may serve one PostgreSQL database (cluster mode, behind a load balancer).
Most of what they do is stateless (sessions live in the database, CSRF tokens are derived from the
shared secret), but two things must happen **once**, not once per process: sending notifications
(webhooks, MQTT) and housekeeping (deadlines, expiry, the non-match purge, retention).
:class:`LeaderLock` decides which process does them.

Why a session-level advisory lock rather than a lease row with a renewal time: the lock belongs
to one database connection, so it is released the moment that connection ends, whether the
process exits, is killed (``SIGKILL``) or its machine loses power and the server notices. A
follower that asks again every few seconds takes over within that period; there is no clock
to trust and no expiry to tune. The cost is one idle connection held by the leader (and one
per follower between its tries), and a half-open connection (a network partition) holds the lock
until TCP notices: the connection asks the server for short keepalives (``tcp_keepalives_*``,
about 15 s) and the client side for the same plus ``tcp_user_timeout``, so a partitioned
leader loses the lock on the server and learns it has lost it on its next check.

On SQLite (the embedded mode) there is one process by construction: it is always the leader.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from vigil.logs import redact
from vigil.storage.database import Database

log = logging.getLogger(__name__)

LEADER_LOCK_KEY = 0x56494732  # "VIG2": notifications; the audit chain's transaction lock is "VIG1"
HOUSEKEEPING_LOCK_KEY = 0x56494733  # "VIG3": the housekeeper, among processes keeping the index

# Server and client keepalives: a dead peer is noticed after about idle + interval * count s.
_KEEPALIVE = {"idle": 5, "interval": 2, "count": 5}


class LeaderLock:
    """The leader lock of one database (see the module docstring).

    Not thread-safe: one owner (the :class:`~vigil.system.leader.LeaderOnly` thread) calls
    :meth:`try_acquire` periodically and :meth:`release` once.
    """

    def __init__(self, db: Database, *, key: int = LEADER_LOCK_KEY) -> None:
        self.db = db
        self.key = key
        self.always = db.dialect == "sqlite"
        self._engine: Engine | None = None
        self._conn: Connection | None = None
        self._held = self.always

    @property
    def held(self) -> bool:
        """Whether this process was the leader at the last :meth:`try_acquire`."""
        return self._held

    def try_acquire(self) -> bool:
        """Take the lock if it is free, or check that the held one is still ours; never blocks
        on another holder. A lost connection means a lost lock: returns ``False`` then, and the
        next call tries again on a new connection."""
        if self.always:
            return True
        try:
            conn = self._connection()
            if self._held:
                conn.execute(text("SELECT 1"))  # the lock lives as long as this connection
            else:
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
                self._held = bool(got.scalar())
        except Exception as exc:  # the database is away: whatever we held is gone with it
            if self._held:
                log.error("leader lock lost: %s", redact(str(exc))[:200])
            self._drop()
        return self._held

    def release(self) -> None:
        """Give the lock up (a clean stop), so a follower takes over at its next try."""
        if self.always:
            return
        if self._conn is not None and self._held:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except Exception:  # closing the connection below releases it all the same
                log.warning("leader lock: unlock failed; closing the connection releases it")
        self._drop()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _connection(self) -> Connection:
        if self._conn is None:
            if self._engine is None:
                self._engine = create_engine(
                    self.db.url, poolclass=NullPool, connect_args=_connect_args()
                )
            # Autocommit: a session-level lock must not sit inside an open transaction.
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _drop(self) -> None:
        self._held = False
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken; nothing more to release
                log.debug("leader lock: closing a broken connection failed", exc_info=True)


def _connect_args() -> dict[str, Any]:
    k = _KEEPALIVE
    server = " ".join(
        [
            f"-c tcp_keepalives_idle={k['idle']}",
            f"-c tcp_keepalives_interval={k['interval']}",
            f"-c tcp_keepalives_count={k['count']}",
        ]
    )
    return {
        "connect_timeout": 5,
        "options": server,
        "keepalives": 1,
        "keepalives_idle": k["idle"],
        "keepalives_interval": k["interval"],
        "keepalives_count": k["count"],
        "tcp_user_timeout": 1000 * (k["idle"] + k["interval"] * k["count"]),
    }
