"""The case lifecycle's SQL: outcomes, clip windows, status, release of holds, export reads.

:class:`vigil.governance.cases.CaseService` decides when and why (and writes the audit entry in
the same unit of work); these methods only read and write rows, on SQLite and PostgreSQL alike,
through :class:`Database`'s one writer (inside a caller's transaction they join it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select, update

from vigil.core.domain import Float32
from vigil.errors import NotFoundError
from vigil.storage import schema as t
from vigil.storage.database import Database

OUTCOMES = ("arrest", "charged", "no_further_action", "false_match", "other")
"""What a case (or one alert of it) led to; stable strings, grouped by the oversight report."""


@dataclass(frozen=True, slots=True)
class CaseOutcome:
    id: str
    case_id: str
    outcome: str
    reason: str
    alert_id: str | None
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class CaseClip:
    """A camera and a time window a case keeps (the footage itself is the recording's)."""

    id: str
    case_id: str
    camera_id: str
    start_at: datetime
    end_at: datetime
    added_by: str
    added_at: datetime


@dataclass(frozen=True, slots=True)
class PlateReadRef:
    key: str
    camera_id: str
    read_at: datetime
    text: str


def _row(cls: type, r: Any) -> Any:
    return cls(**{f.name: getattr(r, f.name) for f in fields(cls)})


class CaseStore:
    """Rows of the case lifecycle over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- outcomes and clips ---------------------------------------------------------------------

    def add_outcome(self, row: CaseOutcome) -> None:
        values = {f.name: getattr(row, f.name) for f in fields(row)}
        self.db.write(lambda c: c.execute(t.case_outcomes.insert().values(**values)))

    def outcomes(self, case_id: str) -> list[CaseOutcome]:
        col = t.case_outcomes.c
        q = select(t.case_outcomes).where(col.case_id == case_id).order_by(col.recorded_at, col.id)
        with self.db.read() as c:
            return [_row(CaseOutcome, r) for r in c.execute(q)]

    def add_clip(self, row: CaseClip) -> None:
        values = {f.name: getattr(row, f.name) for f in fields(row)}
        self.db.write(lambda c: c.execute(t.case_clips.insert().values(**values)))

    def clips(self, case_id: str) -> list[CaseClip]:
        col = t.case_clips.c
        q = select(t.case_clips).where(col.case_id == case_id).order_by(col.start_at, col.id)
        with self.db.read() as c:
            return [_row(CaseClip, r) for r in c.execute(q)]

    def held_windows(self, camera_id: str) -> list[tuple[datetime, datetime]]:
        """Time windows of ``camera_id`` that cases on legal hold keep (for recording retention:
        a segment overlapping one of these is kept)."""
        col, cases = t.case_clips.c, t.cases.c
        q = (
            select(col.start_at, col.end_at)
            .join(t.cases, cases.id == col.case_id)
            .where(col.camera_id == camera_id, cases.legal_hold.is_(True))
            .order_by(col.start_at)
        )
        with self.db.read() as c:
            return [(r.start_at, r.end_at) for r in c.execute(q)]

    # -- status and holds -----------------------------------------------------------------------

    def set_status(
        self, case_id: str, status: str, *, closed_at: datetime | None, closed_by: str | None
    ) -> None:
        col = t.cases.c
        values = {"status": status, "closed_at": closed_at, "closed_by": closed_by}
        self.db.write(lambda c: c.execute(update(t.cases).where(col.id == case_id).values(values)))

    def release_hold(self, case_id: str) -> dict[str, int]:
        """Take a case off legal hold, and its alerts and sightings too unless another held case
        links them. Returns how many alerts and sightings lost their hold."""

        def run(c: Connection) -> dict[str, int]:
            c.execute(update(t.cases).where(t.cases.c.id == case_id).values(legal_hold=False))
            links, cases = t.case_links.c, t.cases.c
            out = {}
            for kind, table in (("alert", t.alerts), ("sighting", t.sightings)):
                mine = select(links.target_id).where(links.case_id == case_id, links.kind == kind)
                still = (
                    select(links.target_id)
                    .join(t.cases, cases.id == links.case_id)
                    .where(links.kind == kind, cases.legal_hold.is_(True))
                )
                res = c.execute(
                    update(table)
                    .where(table.c.id.in_(mine), table.c.id.not_in(still))
                    .values(legal_hold=False)
                )
                out[f"{kind}s_released"] = int(res.rowcount or 0)
            return out

        return self.db.write(run)

    def hold_again(self, case_id: str) -> None:
        """Put a case (and the alerts and sightings it links) back on legal hold."""

        def run(c: Connection) -> None:
            c.execute(update(t.cases).where(t.cases.c.id == case_id).values(legal_hold=True))
            links = t.case_links.c
            for kind, table in (("alert", t.alerts), ("sighting", t.sightings)):
                mine = select(links.target_id).where(links.case_id == case_id, links.kind == kind)
                c.execute(update(table).where(table.c.id.in_(mine)).values(legal_hold=True))

        self.db.write(run)

    # -- reads for evidence export --------------------------------------------------------------

    def plate_reads(self, keys: Sequence[str]) -> list[PlateReadRef]:
        ids = list(keys)
        if not ids:
            return []
        col = t.plate_reads.c
        q = select(col.key, col.camera_id, col.read_at, col.text).where(col.key.in_(ids))
        with self.db.read() as c:
            return [PlateReadRef(r.key, r.camera_id, r.read_at, r.text) for r in c.execute(q)]

    def subject_templates(self, subject_ids: Sequence[str]) -> list[tuple[str, Float32]]:
        """``(model, vector)`` of every template of these subjects (biometric: the caller uses
        them in memory to recognise the case's subject, never writes them out)."""
        ids = list(subject_ids)
        if not ids:
            return []
        col = t.templates.c
        q = select(col.model, col.vector).where(col.subject_id.in_(ids)).order_by(col.id)
        with self.db.read() as c:
            return [(r.model, np.frombuffer(r.vector, np.float32).copy()) for r in c.execute(q)]

    def watchlist_versions(self, deployment_id: str) -> list[tuple[str, str]]:
        """``(watchlist_id, version_hash)`` the deployment pinned."""
        col = t.deployment_watchlists.c
        q = select(t.deployment_watchlists).where(col.deployment_id == deployment_id)
        with self.db.read() as c:
            rows = c.execute(q).all()
        return sorted((r.watchlist_id, str(r.version_hash)) for r in rows)

    def search_entry_exists(self, seq: int, actions: Sequence[str]) -> bool:
        col = t.audit_entries.c
        q = select(col.seq).where(col.seq == seq, col.action.in_(list(actions)))
        with self.db.read() as c:
            return c.execute(q).first() is not None

    def require_case(self, case_id: str) -> None:
        with self.db.read() as c:
            if c.execute(select(t.cases.c.id).where(t.cases.c.id == case_id)).first() is None:
                raise NotFoundError(f"no case {case_id!r}")
