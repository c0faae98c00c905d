"""The index of recorded segments (revision 0013): insert, window queries, gaps, retention.

SQL for recordings lives here; the rules (who may play what, what retention deletes, which
files to remove) live in :mod:`vigil.recording` and :mod:`vigil.governance.recordings`.

**Legal hold extends to segments.** A segment is held when a case on legal hold links it
explicitly (``case_links.kind = 'segment'``), links an alert, sighting or plate read of the
same camera whose time falls inside the segment (a sighting: whose span overlaps it), or links a
clip (``case_clips``: a camera and a time window) that overlaps it. The hold is
computed by a query, not copied into a flag, so a case released or a link removed frees the
footage at the next retention run without a second bookkeeping step that could drift.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, exists, or_, select

from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import insert_ignore


@dataclass(frozen=True, slots=True)
class SegmentRow:
    """One finished segment as indexed (``path`` relative to the recording directory)."""

    id: str
    camera_id: str
    started_at: datetime
    ended_at: datetime
    path: str
    bytes: int
    sha256: str
    encrypted: bool
    created_at: datetime

    def __post_init__(self) -> None:
        if self.ended_at < self.started_at:
            raise ValueError(f"segment {self.id} ends before it starts")
        if self.bytes < 0 or len(self.sha256) != 64:
            raise ValueError(f"segment {self.id}: bytes must be >= 0 and sha256 64 hex digits")


_NAMES = tuple(f.name for f in fields(SegmentRow))


def _row(r: Any) -> SegmentRow:
    return SegmentRow(**{n: getattr(r, n) for n in _NAMES})


def _held(seg: Any) -> ColumnElement[bool]:
    """SQL condition: the segment row ``seg`` is held by a case on legal hold (module doc)."""
    link, case = t.case_links.c, t.cases.c
    a, s, p = t.alerts.c, t.sightings.c, t.plate_reads.c
    held_case = select(case.id).where(case.legal_hold.is_(True))
    linked = and_(link.case_id.in_(held_case))
    explicit = exists().where(linked, link.kind == "segment", link.target_id == seg.id)
    alert = exists().where(
        linked,
        link.kind == "alert",
        a.id == link.target_id,
        a.camera_id == seg.camera_id,
        a.raised_at >= seg.started_at,
        a.raised_at <= seg.ended_at,
    )
    sighting = exists().where(
        linked,
        link.kind == "sighting",
        s.id == link.target_id,
        s.camera_id == seg.camera_id,
        s.started_at <= seg.ended_at,
        s.ended_at >= seg.started_at,
    )
    plate = exists().where(
        linked,
        link.kind == "plate_read",
        p.key == link.target_id,
        p.camera_id == seg.camera_id,
        p.read_at >= seg.started_at,
        p.read_at <= seg.ended_at,
    )
    clips = t.case_clips.c
    clip = exists().where(
        clips.case_id.in_(held_case),
        clips.camera_id == seg.camera_id,
        clips.start_at <= seg.ended_at,
        clips.end_at >= seg.started_at,
    )
    return or_(explicit, alert, sighting, plate, clip)


class RecordingStore:
    """Recorded segments over one database (either engine)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, row: SegmentRow) -> bool:
        """Index a finished segment; ``False`` when its id is already there (a replay)."""
        values = {n: getattr(row, n) for n in _NAMES}
        return bool(self.db.write(lambda c: insert_ignore(c, t.recording_segments, [values])))

    def get(self, segment_id: str) -> SegmentRow | None:
        col = t.recording_segments.c
        with self.db.read() as c:
            r = c.execute(select(t.recording_segments).where(col.id == segment_id)).first()
        return None if r is None else _row(r)

    def window(
        self, camera_id: str, start: datetime, end: datetime, *, limit: int = 5000
    ) -> list[SegmentRow]:
        """Segments of a camera overlapping ``[start, end]``, oldest first."""
        col = t.recording_segments.c
        q = (
            select(t.recording_segments)
            .where(col.camera_id == camera_id, col.started_at <= end, col.ended_at > start)
            .order_by(col.started_at)
            .limit(limit)
        )
        with self.db.read() as c:
            return [_row(r) for r in c.execute(q)]

    def gaps(
        self, camera_id: str, start: datetime, end: datetime, *, tolerance_s: float = 1e-3
    ) -> list[tuple[datetime, datetime]]:
        """Holes between consecutive segments of a camera within ``[start, end]`` (each hole as
        ``(end of one, start of the next)``); overlaps are not holes."""
        rows = self.window(camera_id, start, end, limit=1_000_000)
        tol = timedelta(seconds=tolerance_s)
        return [
            (a.ended_at, b.started_at)
            for a, b in itertools.pairwise(rows)
            if b.started_at - a.ended_at > tol
        ]

    def expired(
        self,
        cutoffs: Mapping[str, datetime],
        default_cutoff: datetime,
        *,
        limit: int = 10_000,
    ) -> list[SegmentRow]:
        """Segments that ended before their camera's cutoff (``default_cutoff`` for cameras not
        in ``cutoffs``) and that no case holds, oldest first."""
        seg = t.recording_segments.c
        known = list(cutoffs)
        per_camera = [and_(seg.camera_id == cam, seg.ended_at < at) for cam, at in cutoffs.items()]
        other = and_(seg.camera_id.not_in(known), seg.ended_at < default_cutoff)
        q = (
            select(t.recording_segments)
            .where(or_(*per_camera, other), ~_held(seg))
            .order_by(seg.ended_at)
            .limit(limit)
        )
        with self.db.read() as c:
            return [_row(r) for r in c.execute(q)]

    def without_events(
        self,
        camera_ids: Sequence[str],
        ended_before: datetime,
        pre: timedelta,
        post: timedelta,
        *,
        ended_after: datetime | None = None,
        limit: int = 10_000,
    ) -> tuple[list[SegmentRow], datetime | None]:
        """``events`` mode: segments of these cameras, ended before ``ended_before``, with no
        alert, sighting or plate read of their camera from ``post`` before their start to
        ``pre`` after their end, and not held (they hold no footage anyone needs).
        ``ended_after`` bounds the look-back: segments kept for their events stay in the table,
        and without a lower bound they would fill every page before a newer quiet one.

        Returns the quiet segments and the end time of the last segment examined when the page
        was full (``None``: every candidate was examined), where the next page starts."""
        if not camera_ids:
            return [], None
        seg = t.recording_segments.c
        q = (
            select(t.recording_segments)
            .where(
                seg.camera_id.in_(list(camera_ids)),
                seg.ended_at < ended_before,
                seg.ended_at > (ended_after or datetime.min.replace(tzinfo=ended_before.tzinfo)),
                ~_held(seg),
            )
            .order_by(seg.ended_at)
            .limit(limit)
        )
        with self.db.read() as c:
            rows = [_row(r) for r in c.execute(q)]
            if not rows:
                return [], None
            # Event times are compared in Python: interval arithmetic on a timestamp column is
            # not portable between SQLite and PostgreSQL, and the candidates are bounded.
            lo = min(r.started_at for r in rows) - post
            hi = max(r.ended_at for r in rows) + pre
            spans = self._event_spans(c, sorted({r.camera_id for r in rows}), lo, hi)
        quiet = [
            r
            for r in rows
            if not any(
                b >= r.started_at - post and a <= r.ended_at + pre
                for a, b in spans.get(r.camera_id, ())
            )
        ]
        return quiet, (rows[-1].ended_at if len(rows) == limit else None)

    @staticmethod
    def _event_spans(
        c: Connection, cameras: list[str], lo: datetime, hi: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Alerts, sightings and plate reads of the cameras in ``[lo, hi]`` as time spans."""
        a, s, p = t.alerts.c, t.sightings.c, t.plate_reads.c
        out: dict[str, list[tuple[datetime, datetime]]] = {}
        queries = (
            select(a.camera_id, a.raised_at, a.raised_at).where(
                a.camera_id.in_(cameras), a.raised_at >= lo, a.raised_at <= hi
            ),
            select(s.camera_id, s.started_at, s.ended_at).where(
                s.camera_id.in_(cameras), s.started_at <= hi, s.ended_at >= lo
            ),
            select(p.camera_id, p.read_at, p.read_at).where(
                p.camera_id.in_(cameras), p.read_at >= lo, p.read_at <= hi
            ),
        )
        for q in queries:
            for cam, first, last in c.execute(q):
                out.setdefault(cam, []).append((first, last))
        return out

    def delete(self, segment_ids: Sequence[str]) -> int:
        """Remove index rows (the caller deletes the files after the commit)."""
        ids = list(segment_ids)
        if not ids:
            return 0

        def run(c: Connection) -> int:
            col = t.recording_segments.c
            return int(c.execute(delete(t.recording_segments).where(col.id.in_(ids))).rowcount)

        return self.db.write(run)
