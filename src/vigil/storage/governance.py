"""The governance queries the shared repository does not have: purge, retention and reporting.

These read and delete across tables (alerts with their probe crops and sightings, biometric rows
that no record still needs, records past their retention time) for :mod:`vigil.governance`, which
decides when and why; the SQL stays here, in the storage layer. They use the storage schema
and :class:`Database`'s one writer, so they run unchanged on SQLite and PostgreSQL; media bytes
are deleted by the caller only after the rows that referred to them are gone (a key is shared by
identical bytes, so :meth:`GovernanceStore.media_referenced` is checked first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, Table, delete, func, select, update

from vigil.storage import schema as t
from vigil.storage.database import Database


@dataclass(frozen=True, slots=True)
class AlertRef:
    """The parts of a stored alert that purge, verification and reports need."""

    id: str
    deployment_id: str | None
    subject_id: str | None
    sighting_id: str | None
    probe_key: str | None
    status: str
    camera_id: str
    raised_at: datetime
    score: float
    false_alert_rate: float | None
    legal_hold: bool
    detail: str


class GovernanceStore:
    """Cross-table reads and deletes for purge, retention and oversight reports."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- alerts ---------------------------------------------------------------------------------

    def alerts(
        self,
        *,
        deployment_id: str | None = None,
        alert_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[AlertRef]:
        col = t.alerts.c
        q = select(t.alerts).order_by(col.raised_at, col.id)
        if deployment_id is not None:
            q = q.where(col.deployment_id == deployment_id)
        if alert_id is not None:
            q = q.where(col.id == alert_id)
        if since is not None:
            q = q.where(col.raised_at >= since)
        if until is not None:
            q = q.where(col.raised_at < until)
        with self.db.read() as c:
            return [
                AlertRef(
                    r.id,
                    r.deployment_id,
                    r.subject_id,
                    r.sighting_id,
                    r.probe_key,
                    r.status,
                    r.camera_id,
                    r.raised_at,
                    r.score,
                    r.false_alert_rate,
                    bool(r.legal_hold),
                    r.detail,
                )
                for r in c.execute(q)
            ]

    def delete_alerts(self, alert_ids: Sequence[str], *, with_sightings: bool) -> list[str]:
        """Delete alerts (and their verifications; with ``with_sightings`` also the sightings and
        sighting embeddings they point at). Held alerts are kept. Returns the media keys the
        deleted rows referred to (the caller deletes the bytes if nothing else refers to them)."""
        ids = list(alert_ids)

        def run(c: Connection) -> list[str]:
            col = t.alerts.c
            rows = c.execute(
                select(col.id, col.probe_key, col.sighting_id).where(
                    col.id.in_(ids), col.legal_hold.is_(False)
                )
            ).all()
            victims = [r.id for r in rows]
            keys = [r.probe_key for r in rows if r.probe_key]
            sightings = [r.sighting_id for r in rows if r.sighting_id]
            c.execute(delete(t.verifications).where(t.verifications.c.alert_id.in_(victims)))
            c.execute(delete(t.alerts).where(col.id.in_(victims)))
            if with_sightings and sightings:
                keys += self._delete_sightings(c, sightings)
            return keys

        return self.db.write(run) if ids else []

    @staticmethod
    def _delete_sightings(c: Connection, sighting_ids: list[str]) -> list[str]:
        s = t.sightings.c
        keep = select(t.alerts.c.sighting_id).where(t.alerts.c.sighting_id.in_(sighting_ids))
        rows = c.execute(
            select(s.id, s.crop_key).where(
                s.id.in_(sighting_ids), s.legal_hold.is_(False), s.id.not_in(keep)
            )
        ).all()
        victims = [r.id for r in rows]
        c.execute(
            delete(t.sighting_embeddings).where(t.sighting_embeddings.c.sighting_id.in_(victims))
        )
        c.execute(delete(t.sightings).where(s.id.in_(victims)))
        return [r.crop_key for r in rows if r.crop_key]

    # -- biometrics of sightings ----------------------------------------------------------------

    def unmatched_biometric_sightings(
        self, *, ended_before: datetime, object_class: str = "face"
    ) -> list[tuple[str, str, datetime, datetime]]:
        """Sightings that still hold a crop or an embedding, are referred to by no alert and are
        not on legal hold: ``(id, camera_id, started_at, ended_at)``."""
        s = t.sightings.c
        has_vec = select(t.sighting_embeddings.c.sighting_id)
        alerted = select(t.alerts.c.sighting_id).where(t.alerts.c.sighting_id.is_not(None))
        q = (
            select(s.id, s.camera_id, s.started_at, s.ended_at)
            .where(
                s.object_class == object_class,
                s.ended_at < ended_before,
                s.legal_hold.is_(False),
                (s.crop_key.is_not(None)) | s.id.in_(has_vec),
                s.id.not_in(alerted),
            )
            .order_by(s.ended_at)
        )
        with self.db.read() as c:
            return [(r.id, r.camera_id, r.started_at, r.ended_at) for r in c.execute(q)]

    def vector_ids_of(self, sighting_ids: Sequence[str]) -> list[int]:
        """Archive vector ids of the sightings' stored embeddings."""
        ids = list(sighting_ids)
        if not ids:
            return []
        e = t.sighting_embeddings.c
        with self.db.read() as c:
            return [int(r[0]) for r in c.execute(select(e.vector_id).where(e.sighting_id.in_(ids)))]

    def strip_biometrics(self, sighting_ids: Sequence[str]) -> tuple[list[int], list[str]]:
        """Delete the embeddings and detach the crops of sightings (the sighting rows stay, with
        no biometric data). Returns the removed vector ids and the detached media keys."""
        ids = list(sighting_ids)

        def run(c: Connection) -> tuple[list[int], list[str]]:
            e = t.sighting_embeddings.c
            vids = [int(r[0]) for r in c.execute(select(e.vector_id).where(e.sighting_id.in_(ids)))]
            c.execute(delete(t.sighting_embeddings).where(e.sighting_id.in_(ids)))
            s = t.sightings.c
            keys = [
                r[0]
                for r in c.execute(select(s.crop_key).where(s.id.in_(ids), s.crop_key.is_not(None)))
            ]
            c.execute(update(t.sightings).where(s.id.in_(ids)).values(crop_key=None))
            return vids, keys

        return self.db.write(run) if ids else ([], [])

    def media_references(self, key: str) -> dict[str, int]:
        """How many rows of each kind refer to media ``key``."""
        with self.db.read() as c:

            def n(table: Table, column: Column[str]) -> int:
                q = select(func.count()).select_from(table).where(column == key)
                return int(c.execute(q).scalar_one())

            return {
                "alerts": n(t.alerts, t.alerts.c.probe_key),
                "sightings": n(t.sightings, t.sightings.c.crop_key),
                "templates": n(t.templates, t.templates.c.image_key),
            }

    def media_referenced(self, key: str) -> bool:
        """Whether any row still refers to media ``key`` (alert probe, sighting crop, template)."""
        return any(self.media_references(key).values())

    def biometric_counts(self) -> dict[str, int]:
        """Rows holding biometric data per kind (for the purge checks and reports)."""
        with self.db.read() as c:

            def count(table: Table, column: Column[str] | None = None) -> int:
                q = select(func.count()).select_from(table)
                if column is not None:
                    q = q.where(column.is_not(None))
                return int(c.execute(q).scalar_one())

            return {
                "sighting_embeddings": count(t.sighting_embeddings),
                "sighting_crops": count(t.sightings, t.sightings.c.crop_key),
                "templates": count(t.templates),
                "alert_probes": count(t.alerts, t.alerts.c.probe_key),
            }

    # -- retention ------------------------------------------------------------------------------

    def expired_alerts(self, before: datetime) -> list[str]:
        col = t.alerts.c
        q = select(col.id).where(col.raised_at < before, col.legal_hold.is_(False))
        with self.db.read() as c:
            return [r[0] for r in c.execute(q)]

    def expired_sightings(self, before: datetime) -> list[str]:
        s = t.sightings.c
        alerted = select(t.alerts.c.sighting_id).where(t.alerts.c.sighting_id.is_not(None))
        q = select(s.id).where(s.ended_at < before, s.legal_hold.is_(False), s.id.not_in(alerted))
        with self.db.read() as c:
            return [r[0] for r in c.execute(q)]

    def detach_media(self, before: datetime) -> list[str]:
        """Detach probe crops of alerts raised before ``before`` and crops of sightings that ended
        before it (held records, and sightings of held alerts, keep theirs). The records stay.
        Returns the detached media keys (the caller deletes unreferenced bytes)."""

        def run(c: Connection) -> list[str]:
            a, s = t.alerts.c, t.sightings.c
            old_alerts = (a.raised_at < before) & a.legal_hold.is_(False) & a.probe_key.is_not(None)
            keys = [r[0] for r in c.execute(select(a.probe_key).where(old_alerts))]
            c.execute(update(t.alerts).where(old_alerts).values(probe_key=None))
            held = select(a.sighting_id).where(a.legal_hold.is_(True), a.sighting_id.is_not(None))
            old_sightings = (
                (s.ended_at < before)
                & s.legal_hold.is_(False)
                & s.crop_key.is_not(None)
                & s.id.not_in(held)
            )
            keys += [r[0] for r in c.execute(select(s.crop_key).where(old_sightings))]
            c.execute(update(t.sightings).where(old_sightings).values(crop_key=None))
            return keys

        return self.db.write(run)

    def delete_sightings(self, sighting_ids: Sequence[str]) -> list[str]:
        ids = list(sighting_ids)
        return self.db.write(lambda c: self._delete_sightings(c, ids)) if ids else []
