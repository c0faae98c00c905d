"""Queries behind the console's audit page, crowd dashboard and watchlist expiry.

Kept out of :class:`vigil.storage.Repository` like :mod:`vigil.storage.plates`: the rules (who
may read, what is audited) live in the API and :mod:`vigil.governance.watchlists`; this module
reads and writes typed rows over either engine.

The audit page filters the chain newest first by actor, action, target and time, and pages by
``seq`` (keyset: "entries before this seq"), so a page deep in a long chain costs the same as
the first and entries appended meanwhile do not shift the pages.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from vigil.core.records import AuditEntry
from vigil.errors import NotFoundError
from vigil.storage import schema as t
from vigil.storage.database import Database

MAX_CROWD_ROWS = 20_000  # crowd samples read for one chart (a week at one sample per 30 s)
#: Crossing buckets read for one chart: a week of one-minute buckets is 10,080 per line and
#: direction, so this holds a busy week of about two lines in both directions.
MAX_CROSSING_ROWS = 40_000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries the audit page shows. Text filters match a prefix (``alert.`` finds every
    alert action; ``watchlist:ab`` every watchlist whose id starts so); ``None``: any."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_seq: int | None = None


def _prefix(text: str) -> str:
    """A LIKE pattern matching ``text`` as a literal prefix."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class ConsoleStore:
    """Reads for the console pages and the watchlist expiry write (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def audit_page(self, f: AuditFilter, limit: int) -> list[AuditEntry]:
        """Up to ``limit`` entries matching ``f``, newest first."""
        col = t.audit_entries.c
        q = select(t.audit_entries).order_by(col.seq.desc()).limit(limit)
        if f.actor is not None:
            q = q.where(col.actor == f.actor)
        if f.action is not None:
            q = q.where(col.action.like(_prefix(f.action), escape="\\"))
        if f.target is not None:
            q = q.where(col.target.like(_prefix(f.target), escape="\\"))
        if f.since is not None:
            q = q.where(col.at >= f.since)
        if f.until is not None:
            q = q.where(col.at < f.until)
        if f.before_seq is not None:
            q = q.where(col.seq < f.before_seq)
        with self.db.read() as c:
            return [
                AuditEntry(
                    seq=r.seq,
                    at=r.at,
                    actor=r.actor,
                    action=r.action,
                    target=r.target,
                    reason=r.reason,
                    prev_hash=r.prev_hash,
                    entry_hash=r.entry_hash,
                    details=tuple((str(k), str(v)) for k, v in json.loads(r.details)),
                )
                for r in c.execute(q)
            ]

    def action_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """How many entries of each action the chain holds in ``[since, until)``."""
        col = t.audit_entries.c
        q = (
            select(col.action, func.count())
            .where(col.at >= since, col.at < until)
            .group_by(col.action)
            .order_by(col.action)
        )
        with self.db.read() as c:
            return {str(a): int(n) for a, n in c.execute(q)}

    def user_names(self, ids: Sequence[str] | None = None) -> dict[str, tuple[str, str]]:
        """``id -> (username, display name)`` of the given users (every user when ``None``)."""
        col = t.users.c
        q = select(col.id, col.username, col.display_name)
        if ids is not None:
            if not ids:
                return {}
            q = q.where(col.id.in_(sorted(set(ids))))
        with self.db.read() as c:
            return {str(r.id): (str(r.username), str(r.display_name or "")) for r in c.execute(q)}

    def user_id(self, username: str) -> str | None:
        col = t.users.c
        with self.db.read() as c:
            row = c.execute(select(col.id).where(col.username == username)).first()
        return None if row is None else str(row.id)

    def crowd_window(
        self, camera_id: str, zone: str | None, since: datetime, until: datetime
    ) -> tuple[list[tuple[datetime, float]], bool]:
        """The camera's crowd samples of one zone (``None``: the whole view) in
        ``[since, until)``, oldest first, and whether older ones were left out (at most
        :data:`MAX_CROWD_ROWS`, the newest, are read)."""
        col = t.crowd_samples.c
        q = (
            select(col.sampled_at, col["count"])
            .where(col.camera_id == camera_id, col.zone == (zone or ""))
            .where(col.sampled_at >= since, col.sampled_at < until)
            .order_by(col.sampled_at.desc())
            .limit(MAX_CROWD_ROWS + 1)
        )
        with self.db.read() as c:
            rows = [(r[0], float(r[1])) for r in c.execute(q)]
        more = len(rows) > MAX_CROWD_ROWS
        return rows[:MAX_CROWD_ROWS][::-1], more

    def crossing_window(
        self, camera_id: str, line: str | None, since: datetime, until: datetime
    ) -> tuple[list[tuple[str, str, datetime, int]], bool]:
        """The camera's stored crossing buckets (``line``, ``direction``, ``bucket_start``,
        ``count``) of one line (``None``: every line) in ``[since, until)``, oldest first, and
        whether older ones were left out (at most :data:`MAX_CROSSING_ROWS`, the newest)."""
        col = t.line_crossings.c
        q = select(col.line, col.direction, col.bucket_start, col["count"]).where(
            col.camera_id == camera_id, col.bucket_start >= since, col.bucket_start < until
        )
        if line is not None:
            q = q.where(col.line == line)
        q = q.order_by(col.bucket_start.desc()).limit(MAX_CROSSING_ROWS + 1)
        with self.db.read() as c:
            rows = [(str(r[0]), str(r[1]), r[2], int(r[3])) for r in c.execute(q)]
        more = len(rows) > MAX_CROSSING_ROWS
        return rows[:MAX_CROSSING_ROWS][::-1], more

    def crossing_lines(self, camera_id: str) -> list[str]:
        """Lines with stored crossings on the camera."""
        col = t.line_crossings.c
        q = select(col.line).where(col.camera_id == camera_id).distinct().order_by(col.line)
        with self.db.read() as c:
            return [str(r[0]) for r in c.execute(q)]

    def crowd_zones(self, camera_id: str) -> list[str]:
        """Zones with stored samples on the camera ('' is the whole view)."""
        col = t.crowd_samples.c
        q = select(col.zone).where(col.camera_id == camera_id).distinct().order_by(col.zone)
        with self.db.read() as c:
            return [str(r[0]) for r in c.execute(q)]

    def set_watchlist_expiry(self, watchlist_id: str, expires_at: datetime) -> None:
        """Move a watchlist's expiry (the caller bumps its version in the same unit of work)."""
        col = t.watchlists.c
        stmt = update(t.watchlists).where(col.id == watchlist_id).values(expires_at=expires_at)
        done = self.db.write(lambda c: c.execute(stmt).rowcount)
        if not done:
            raise NotFoundError(f"no watchlist {watchlist_id!r}")
