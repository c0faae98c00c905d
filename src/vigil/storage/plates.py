"""Storage of plate hotlists, their entries, hits on plate reads, plate-read retention and the
indexed, paged query behind plate search (revisions 0004 and 0010).

Kept out of :class:`vigil.storage.Repository` like :mod:`vigil.storage.governance`: the hotlist
rules (who may change a list, what a hit raises) live in :mod:`vigil.governance.hotlists`; this
module stores and returns typed rows over either engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    and_,
    column,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    table,
    update,
)

from vigil.core.domain import HotlistEntryRow, HotlistRow
from vigil.core.records import AlertStatus, PlateRead
from vigil.errors import NotFoundError
from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import insert_ignore, plate_key


@dataclass(frozen=True, slots=True)
class ReadPosition:
    """Where a page of plate search ended: the last read's time and key (newest-first order)."""

    read_at: datetime
    key: str


@dataclass(frozen=True, slots=True)
class ReadMatch:
    """What plate search asks the index for, on the folded text (``plate_reads.canon``).

    ``pattern`` alone (``pieces`` is ``None``): reads equal to it, or matching it when it holds
    ``?``/``*`` - the exact answer of a distance-0 search. With ``pieces``: candidates of a fuzzy
    search, reads of a length in ``lengths`` containing at least one piece (a read within ``k``
    edits keeps one of ``k + 1`` disjoint pieces of the pattern intact); the caller computes the
    distance of each.
    """

    pattern: str
    pieces: tuple[str, ...] | None = None
    lengths: tuple[int, int] = (1, 16)


@dataclass(frozen=True, slots=True)
class StoredPlateRead:
    """A stored plate read with its key and the hotlist it hit (if any)."""

    key: str
    read: PlateRead
    hotlist_id: str | None


def _fields(row: Row[Any], cls: type) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(cls)}


class PlateStore:
    """Hotlists, entries, plate-read hits and plate-read retention over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- hotlists -------------------------------------------------------------------------------

    def add_hotlist(self, row: HotlistRow) -> None:
        values = _fields_of(row)
        self.db.write(lambda c: insert_ignore(c, t.hotlists, [values]))

    def get_hotlist(self, hotlist_id: str) -> HotlistRow:
        with self.db.read() as c:
            r = c.execute(select(t.hotlists).where(t.hotlists.c.id == hotlist_id)).first()
        if r is None:
            raise NotFoundError(f"no hotlist {hotlist_id!r}")
        return HotlistRow(**_fields(r, HotlistRow))

    def list_hotlists(self) -> list[HotlistRow]:
        q = select(t.hotlists).order_by(t.hotlists.c.priority.desc(), t.hotlists.c.id)
        with self.db.read() as c:
            return [HotlistRow(**_fields(r, HotlistRow)) for r in c.execute(q)]

    def delete_hotlist(self, hotlist_id: str) -> None:
        """Delete a list and its entries; its hits become ordinary reads (retention applies)."""
        self.db.write(lambda c: c.execute(delete(t.hotlists).where(t.hotlists.c.id == hotlist_id)))

    # -- entries --------------------------------------------------------------------------------

    def add_entry(self, row: HotlistEntryRow) -> bool:
        """Add an entry; ``False`` when the list already holds that pattern."""
        values = _fields_of(row)

        def run(c: Connection) -> bool:
            col = t.hotlist_entries.c
            dup = c.execute(
                select(col.id).where(col.hotlist_id == row.hotlist_id, col.pattern == row.pattern)
            ).first()
            return dup is None and bool(insert_ignore(c, t.hotlist_entries, [values]))

        return self.db.write(run)

    def list_entries(self, hotlist_id: str) -> list[HotlistEntryRow]:
        col = t.hotlist_entries.c
        q = select(t.hotlist_entries).where(col.hotlist_id == hotlist_id).order_by(col.pattern)
        with self.db.read() as c:
            return [HotlistEntryRow(**_fields(r, HotlistEntryRow)) for r in c.execute(q)]

    def delete_entry(self, hotlist_id: str, entry_id: str) -> None:
        col = t.hotlist_entries.c

        def run(c: Connection) -> None:
            done = c.execute(
                delete(t.hotlist_entries).where(col.id == entry_id, col.hotlist_id == hotlist_id)
            )
            if not done.rowcount:
                raise NotFoundError(f"no entry {entry_id!r} in hotlist {hotlist_id!r}")

        self.db.write(run)

    def active_entries(self, at: datetime) -> list[tuple[HotlistRow, HotlistEntryRow]]:
        """Entries of unexpired lists that have not expired themselves, most urgent list first."""
        h, e = t.hotlists.c, t.hotlist_entries.c
        q = (
            select(t.hotlists, t.hotlist_entries)
            .join(t.hotlist_entries, e.hotlist_id == h.id)
            .where(or_(h.expires_at.is_(None), h.expires_at > at))
            .where(or_(e.expires_at.is_(None), e.expires_at > at))
            .order_by(h.priority.desc(), h.id, e.pattern)
        )
        out = []
        with self.db.read() as c:
            for r in c.execute(q):
                m = r._mapping
                lst = HotlistRow(**{f.name: m[h[f.name]] for f in fields(HotlistRow)})
                ent = HotlistEntryRow(**{f.name: m[e[f.name]] for f in fields(HotlistEntryRow)})
                out.append((lst, ent))
        return out

    # -- reads ----------------------------------------------------------------------------------

    def mark_hit(self, read: PlateRead, hotlist_id: str, alert_id: str) -> None:
        """Mark ``read`` as a hit on the list, naming the alert it raised (retention asks it)."""
        key = plate_key(read)
        self.db.write(
            lambda c: c.execute(
                update(t.plate_reads)
                .where(t.plate_reads.c.key == key)
                .values(hotlist_id=hotlist_id, hit_alert_id=alert_id)
            )
        )

    def search_reads(
        self,
        match: ReadMatch,
        *,
        cameras: Sequence[str] | None,
        since: datetime | None,
        until: datetime | None,
        before: ReadPosition | None,
        limit: int,
        timeout_s: float,
    ) -> list[StoredPlateRead]:
        """Up to ``limit`` reads that ``match`` selects, newest first, strictly older than
        ``before`` (keyset paging: complete over the window however many reads it holds).

        The read is cancelled after ``timeout_s`` (:class:`QueryTimeoutError`). Exact plates use
        the ``(canon, read_at)`` index; wildcards and fuzzy pieces the trigram index of the
        engine (see :data:`vigil.storage.schema.ENGINE_SPECIFIC`).
        """
        col = t.plate_reads.c
        q = select(t.plate_reads).where(self._match(match))
        if cameras is not None:
            q = q.where(col.camera_id.in_(list(cameras)))
        if since is not None:
            q = q.where(col.read_at >= since)
        if until is not None:
            q = q.where(col.read_at < until)
        if before is not None:
            q = q.where(
                or_(
                    col.read_at < before.read_at,
                    and_(col.read_at == before.read_at, col.key < before.key),
                )
            )
        q = q.order_by(col.read_at.desc(), col.key.desc()).limit(limit)
        with self.db.read(timeout_s=timeout_s) as c:
            rows = c.execute(q).all()
        return [StoredPlateRead(r.key, _read(r), r.hotlist_id) for r in rows]

    def _match(self, match: ReadMatch) -> ColumnElement[bool]:
        col = t.plate_reads.c
        if match.pieces is None:
            if "?" not in match.pattern and "*" not in match.pattern:
                return col.canon == match.pattern
            return self._glob(match.pattern)
        lo, hi = match.lengths
        anywhere = [self._glob(f"*{p}*") for p in match.pieces]
        return and_(func.length(col.canon).between(lo, hi), or_(*anywhere))

    def _glob(self, glob: str) -> ColumnElement[bool]:
        """``canon`` matches ``glob`` (``?``/``*``; only letters and digits otherwise)."""
        canon = t.plate_reads.c.canon
        if self.db.dialect == "postgresql":  # pg_trgm's GIN index serves LIKE
            return canon.like(glob.replace("?", "_").replace("*", "%"))
        runs = glob.replace("*", "?").split("?")
        longest = max(len(r) for r in runs)
        if len(runs[0]) >= longest or longest < 3:
            # The longest fixed run leads: a range of the (canon, read_at) b-tree is narrower
            # than FTS5. Without a run of three FTS5 cannot use its index and would read all of
            # it for every page; a plain filter walks the time index once across the pages.
            return canon.op("GLOB")(glob)
        fts = table("plate_reads_fts", column("rowid"), column("canon"))
        found = select(fts.c.rowid).where(fts.c.canon.op("GLOB")(glob))
        return literal_column("plate_reads.rowid").in_(found)

    def has_read(self, key: str) -> bool:
        """True when a plate read with this key (the id plate search returns) is stored."""
        q = select(t.plate_reads.c.key).where(t.plate_reads.c.key == key)
        with self.db.read() as c:
            return c.execute(q).first() is not None

    def get_read(self, key: str) -> StoredPlateRead | None:
        """The stored plate read with this key, or ``None`` when none is stored."""
        q = select(t.plate_reads).where(t.plate_reads.c.key == key)
        with self.db.read() as c:
            r = c.execute(q).first()
        return None if r is None else StoredPlateRead(r.key, _read(r), r.hotlist_id)

    def read_camera(self, key: str) -> str | None:
        """The camera of the stored plate read with this key, or ``None`` when none is stored
        (camera scope checks a read named by its key before anything touches it)."""
        q = select(t.plate_reads.c.camera_id).where(t.plate_reads.c.key == key)
        with self.db.read() as c:
            found = c.execute(q).scalar()
        return None if found is None else str(found)

    def delete_expired_reads(self, now: datetime, unlisted: timedelta) -> int:
        """Retention: delete reads that hit no list older than ``unlisted``, and hits older
        than their list's ``retention_days``, except reads linked to a case on legal hold;
        returns how many were deleted.

        Only a true hit earns the list's retention: a read whose ``plate_hit`` alert people
        rejected (the wrong vehicle, a misread) is kept like a read on no list.
        """
        alerts = t.alerts.c

        links, cases = t.case_links.c, t.cases.c
        held = (
            select(links.target_id)
            .join(t.cases, cases.id == links.case_id)
            .where(links.kind == "plate_read", cases.legal_hold.is_(True))
        )

        def run(c: Connection) -> int:
            col = t.plate_reads.c
            free = col.key.not_in(held)  # linked to a case on legal hold: kept whatever its age
            false_hit = exists().where(
                alerts.id == col.hit_alert_id, alerts.status == AlertStatus.REJECTED.value
            )
            n = c.execute(
                delete(t.plate_reads).where(
                    or_(col.hotlist_id.is_(None), false_hit), col.read_at < now - unlisted, free
                )
            ).rowcount
            for hid, days in c.execute(select(t.hotlists.c.id, t.hotlists.c.retention_days)).all():
                n += c.execute(
                    delete(t.plate_reads).where(
                        col.hotlist_id == hid, col.read_at < now - timedelta(days=float(days)), free
                    )
                ).rowcount
            return int(n)

        return self.db.write(run)


def _fields_of(row: HotlistRow | HotlistEntryRow) -> dict[str, Any]:
    return {f.name: getattr(row, f.name) for f in fields(row)}


def _read(r: Row[Any]) -> PlateRead:
    return PlateRead(
        camera_id=r.camera_id,
        read_at=r.read_at,
        text=r.text,
        confidence=r.confidence,
        region=r.region,
        xyxy=(r.x1, r.y1, r.x2, r.y2),
        track_id=r.track_id,
    )
