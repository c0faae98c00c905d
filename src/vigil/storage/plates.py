"""Storage of plate hotlists, their entries, hits on plate reads, plate-read retention and the
bounded scan behind plate search (revision 0004).

Kept out of :class:`vigil.storage.Repository` like :mod:`vigil.storage.governance`: the hotlist
rules (who may change a list, what a hit raises) live in :mod:`vigil.governance.hotlists`; this
module stores and returns typed rows over either engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, or_, select, update

from vigil.core.domain import HotlistEntryRow, HotlistRow
from vigil.core.records import PlateRead
from vigil.errors import NotFoundError
from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import insert_ignore, plate_key


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

    def mark_hit(self, read: PlateRead, hotlist_id: str) -> None:
        key = plate_key(read)
        self.db.write(
            lambda c: c.execute(
                update(t.plate_reads)
                .where(t.plate_reads.c.key == key)
                .values(hotlist_id=hotlist_id)
            )
        )

    def scan_reads(
        self,
        *,
        cameras: Sequence[str] | None,
        since: datetime | None,
        until: datetime | None,
        lengths: tuple[int, int],
        page: int = 2000,
        max_rows: int = 100_000,
    ) -> Iterator[StoredPlateRead]:
        """Reads in the window (newest first) of these cameras (``None``: all) whose text length
        is within ``lengths``, in pages; at most ``max_rows`` rows are read."""
        col = t.plate_reads.c
        q = select(t.plate_reads).where(func.length(col.text).between(*lengths))
        if cameras is not None:
            q = q.where(col.camera_id.in_(list(cameras)))
        if since is not None:
            q = q.where(col.read_at >= since)
        if until is not None:
            q = q.where(col.read_at < until)
        q = q.order_by(col.read_at.desc(), col.key)
        for offset in range(0, max_rows, page):
            with self.db.read() as c:
                rows = c.execute(q.limit(min(page, max_rows - offset)).offset(offset)).all()
            for r in rows:
                yield StoredPlateRead(r.key, _read(r), r.hotlist_id)
            if len(rows) < page:
                return

    def has_read(self, key: str) -> bool:
        """True when a plate read with this key (the id plate search returns) is stored."""
        q = select(t.plate_reads.c.key).where(t.plate_reads.c.key == key)
        with self.db.read() as c:
            return c.execute(q).first() is not None

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
        returns how many were deleted."""

        links, cases = t.case_links.c, t.cases.c
        held = (
            select(links.target_id)
            .join(t.cases, cases.id == links.case_id)
            .where(links.kind == "plate_read", cases.legal_hold.is_(True))
        )

        def run(c: Connection) -> int:
            col = t.plate_reads.c
            free = col.key.not_in(held)  # linked to a case on legal hold: kept whatever its age
            n = c.execute(
                delete(t.plate_reads).where(
                    col.hotlist_id.is_(None), col.read_at < now - unlisted, free
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
