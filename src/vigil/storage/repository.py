"""The repository: one typed interface to the system of record, the same over both engines.

Callers get and give :mod:`vigil.core.records` (sightings, plate reads, crowd samples, alerts, audit
entries) or the rows of :mod:`vigil.core.domain`; no method returns ``dict[str, Any]``.

Every write is idempotent so that :meth:`Database.write` may replay it after a lost connection:
pipeline records use client-generated ids (sightings, alerts) or deterministic keys (plate reads are
keyed by a hash of camera, time, text and track; crowd samples by camera, time and zone) and are
inserted with ``ON CONFLICT DO NOTHING``. Batch inserts return how many rows were new, so a replay
is visible (0 new) rather than silently doubled.

This module holds the pipeline-facing half; :mod:`vigil.storage.repo_admin` the administrative and
governance half. :class:`Repository` combines both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy.typing as npt
from sqlalchemy import Connection, Row, Table, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from vigil.core.domain import StoredEmbedding
from vigil.core.plates import fold_confusables
from vigil.core.records import (
    Alert,
    AlertKind,
    AlertStatus,
    AuditEntry,
    CrossingCount,
    CrowdSample,
    ObjectClass,
    PlateRead,
    Sighting,
)
from vigil.errors import ConflictError, NotFoundError, ValidationError
from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.types import pack_vector, unpack_vector

MAX_PAGE = 10_000
AUDIT_LOCK_KEY = 0x56494731  # PostgreSQL advisory lock serialising audit appends ("VIG1")


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """``INSERT ... ON CONFLICT DO NOTHING`` on either engine; returns the new rows' first key."""
    if not rows:
        return []
    make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    key = next(iter(table.primary_key.columns))
    stmt = make(table).on_conflict_do_nothing().returning(key)
    return [r[0] for r in conn.execute(stmt, list(rows))]


def plate_key(read: PlateRead) -> str:
    """Deterministic key of a plate read: the same read replayed maps to the same row."""
    raw = f"{read.camera_id}|{read.read_at.astimezone(UTC).isoformat()}|{read.text}|{read.track_id}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be in [1, {MAX_PAGE}], got {limit}")
    return limit


def _sighting(r: Row[Any]) -> Sighting:
    return Sighting(
        id=r.id,
        camera_id=r.camera_id,
        object_class=ObjectClass(r.object_class),
        started_at=r.started_at,
        ended_at=r.ended_at,
        best_quality=r.best_quality,
        crop_key=r.crop_key,
        plate_text=r.plate_text,
        upper_colour=r.upper_colour,
        lower_colour=r.lower_colour,
        body_colour=r.body_colour,
        colour_score=r.colour_score,
        height_frac=r.height_frac,
        direction=r.direction,
    )


def _alert(r: Row[Any]) -> Alert:
    return Alert(
        id=r.id,
        kind=AlertKind(r.kind),
        camera_id=r.camera_id,
        raised_at=r.raised_at,
        score=r.score,
        status=AlertStatus(r.status),
        deployment_id=r.deployment_id,
        subject_id=r.subject_id,
        false_alert_rate=r.false_alert_rate,
        rank2_margin=r.rank2_margin,
        detail=r.detail,
        template_id=r.template_id,
        false_alert_point=r.false_alert_point,
        calibration_count=r.calibration_count,
        calibration_comparisons=r.calibration_comparisons,
    )


def _audit(r: Row[Any]) -> AuditEntry:
    details = tuple((str(k), str(v)) for k, v in json.loads(r.details))
    return AuditEntry(
        seq=r.seq,
        at=r.at,
        actor=r.actor,
        action=r.action,
        target=r.target,
        reason=r.reason,
        prev_hash=r.prev_hash,
        entry_hash=r.entry_hash,
        details=details,
    )


def _audit_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "reason": entry.reason,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "details": json.dumps([list(p) for p in entry.details]),
    }


class PipelineRepository:
    """Sightings, embeddings, plate reads, crowd samples, alerts and the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- sightings ------------------------------------------------------------------------------

    def add_sightings(self, sightings: Iterable[Sighting]) -> int:
        """Store sightings (idempotent by id); returns how many were new."""
        rows = [
            {
                "id": s.id,
                "camera_id": s.camera_id,
                "object_class": s.object_class.value,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
                "best_quality": s.best_quality,
                "crop_key": s.crop_key,
                "plate_text": s.plate_text,
                "legal_hold": False,
                "upper_colour": s.upper_colour,
                "lower_colour": s.lower_colour,
                "body_colour": s.body_colour,
                "colour_score": s.colour_score,
                "height_frac": s.height_frac,
                "direction": s.direction,
            }
            for s in sightings
        ]
        return len(self.db.write(lambda c: insert_ignore(c, t.sightings, rows)))

    def get_sighting(self, sighting_id: str) -> Sighting:
        with self.db.read() as c:
            row = c.execute(select(t.sightings).where(t.sightings.c.id == sighting_id)).first()
        if row is None:
            raise NotFoundError(f"no sighting {sighting_id!r}")
        return _sighting(row)

    def list_sightings(
        self,
        *,
        camera_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        cameras: Collection[str] | None = None,
    ) -> list[Sighting]:
        """Sightings started in ``[since, until)``, oldest first, optionally of one camera
        (``offset`` skips that many, for paging). ``cameras`` limits them to the cameras a
        caller may see, in the query, so pages stay full and ``offset`` stays right."""
        q = select(t.sightings).order_by(t.sightings.c.started_at, t.sightings.c.id)
        if camera_id is not None:
            q = q.where(t.sightings.c.camera_id == camera_id)
        if cameras is not None:
            q = q.where(t.sightings.c.camera_id.in_(sorted(cameras)))
        if since is not None:
            q = q.where(t.sightings.c.started_at >= since)
        if until is not None:
            q = q.where(t.sightings.c.started_at < until)
        if offset:
            q = q.offset(max(0, offset))
        with self.db.read() as c:
            return [_sighting(r) for r in c.execute(q.limit(_limit(limit)))]

    def count_sightings(self) -> int:
        with self.db.read() as c:
            return int(c.execute(select(func.count()).select_from(t.sightings)).scalar_one())

    def delete_sightings(self, sighting_ids: Sequence[str]) -> list[int]:
        """Delete sightings and their embeddings; returns the removed embeddings' vector ids
        (remove them from the archive index too). Sightings on legal hold are kept."""
        ids = list(sighting_ids)

        def run(c: Connection) -> list[int]:
            held = {
                r[0]
                for r in c.execute(
                    select(t.sightings.c.id).where(
                        t.sightings.c.id.in_(ids), t.sightings.c.legal_hold.is_(True)
                    )
                )
            }
            victims = [i for i in ids if i not in held]
            vector_ids = self._delete_embeddings(c, victims)
            c.execute(delete(t.sightings).where(t.sightings.c.id.in_(victims)))
            return vector_ids

        return self.db.write(run) if ids else []

    def expired_sighting_ids(self, before: datetime, limit: int = 1000) -> list[str]:
        """Ids of sightings that ended before ``before`` and are not on legal hold (retention:
        pass them to :meth:`delete_sightings`, then remove the returned vector ids)."""
        col = t.sightings.c
        q = (
            select(col.id)
            .where(col.ended_at < before, col.legal_hold.is_(False))
            .order_by(col.ended_at, col.id)
            .limit(_limit(limit))
        )
        with self.db.read() as c:
            return [r[0] for r in c.execute(q)]

    def set_sighting_hold(self, sighting_id: str, hold: bool) -> None:
        self.db.write(
            lambda c: c.execute(
                update(t.sightings).where(t.sightings.c.id == sighting_id).values(legal_hold=hold)
            )
        )

    # -- sighting embeddings (biometric) -------------------------------------------------------

    def add_embeddings(
        self, model: str, items: Sequence[tuple[str, npt.ArrayLike]], *, at: datetime
    ) -> list[int]:
        """Store one embedding per ``(sighting_id, vector)`` for ``model`` (idempotent); returns
        every item's vector id, in order (existing ids for replays)."""
        rows = []
        for sighting_id, vector in items:
            packed = pack_vector(vector)
            rows.append(
                {
                    "sighting_id": sighting_id,
                    "model": model,
                    "dim": len(packed) // 4,
                    "vector": packed,
                    "created_at": at,
                }
            )
        ids = [sid for sid, _ in items]
        col = t.sighting_embeddings.c

        def run(c: Connection) -> list[int]:
            insert_ignore(c, t.sighting_embeddings, rows)
            q = select(col.sighting_id, col.vector_id).where(
                col.model == model, col.sighting_id.in_(ids)
            )
            found = {r.sighting_id: int(r.vector_id) for r in c.execute(q)}
            return [found[i] for i in ids]

        return self.db.write(run) if rows else []

    def get_embeddings(self, vector_ids: Sequence[int]) -> list[StoredEmbedding]:
        """Embeddings by vector id (missing ids, e.g. purged, are simply absent)."""
        col = t.sighting_embeddings.c
        with self.db.read() as c:
            rows = c.execute(
                select(t.sighting_embeddings).where(col.vector_id.in_(list(vector_ids)))
            ).all()
        return [self._embedding(r) for r in rows]

    def embeddings_of(self, sighting_id: str) -> list[StoredEmbedding]:
        """The stored embeddings of one sighting (none once purged or never kept)."""
        col = t.sighting_embeddings.c
        q = select(t.sighting_embeddings).where(col.sighting_id == sighting_id)
        with self.db.read() as c:
            return [self._embedding(r) for r in c.execute(q.order_by(col.vector_id))]

    def embeddings_after(self, vector_id: int, limit: int = 1000) -> list[StoredEmbedding]:
        """Embeddings with ``vector_id`` above the given one, in id order (index catch-up)."""
        col = t.sighting_embeddings.c
        q = select(t.sighting_embeddings).where(col.vector_id > vector_id).order_by(col.vector_id)
        with self.db.read() as c:
            return [self._embedding(r) for r in c.execute(q.limit(_limit(limit)))]

    def count_embeddings(self) -> int:
        with self.db.read() as c:
            q = select(func.count()).select_from(t.sighting_embeddings)
            return int(c.execute(q).scalar_one())

    def delete_embeddings(self, sighting_ids: Sequence[str]) -> list[int]:
        """Purge the embeddings of these sightings (keeping the sightings); returns vector ids."""
        ids = list(sighting_ids)
        return self.db.write(lambda c: self._delete_embeddings(c, ids)) if ids else []

    @staticmethod
    def _delete_embeddings(c: Connection, sighting_ids: list[str]) -> list[int]:
        col = t.sighting_embeddings.c
        where = col.sighting_id.in_(sighting_ids)
        vector_ids = [int(r[0]) for r in c.execute(select(col.vector_id).where(where))]
        c.execute(delete(t.sighting_embeddings).where(where))
        return vector_ids

    @staticmethod
    def _embedding(r: Row[Any]) -> StoredEmbedding:
        return StoredEmbedding(
            vector_id=int(r.vector_id),
            sighting_id=r.sighting_id,
            model=r.model,
            vector=unpack_vector(r.vector, r.dim),
            created_at=r.created_at,
        )

    # -- plate reads and crowd samples ---------------------------------------------------------

    def add_plate_reads(self, reads: Iterable[PlateRead]) -> int:
        """Store plate reads (idempotent by :func:`plate_key`); returns how many were new."""
        rows = [
            {
                "key": plate_key(p),
                "camera_id": p.camera_id,
                "read_at": p.read_at,
                "text": p.text,
                "canon": fold_confusables(p.text),  # what plate search matches on
                "confidence": p.confidence,
                "region": p.region,
                "x1": p.xyxy[0],
                "y1": p.xyxy[1],
                "x2": p.xyxy[2],
                "y2": p.xyxy[3],
                "track_id": p.track_id,
            }
            for p in reads
        ]
        return len(self.db.write(lambda c: insert_ignore(c, t.plate_reads, rows)))

    def list_plate_reads(
        self,
        *,
        camera_id: str | None = None,
        text: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[PlateRead]:
        col = t.plate_reads.c
        q = select(t.plate_reads).order_by(col.read_at, col.key)
        if camera_id is not None:
            q = q.where(col.camera_id == camera_id)
        if text is not None:
            q = q.where(col.text == text)
        if since is not None:
            q = q.where(col.read_at >= since)
        if until is not None:
            q = q.where(col.read_at < until)
        with self.db.read() as c:
            return [
                PlateRead(
                    camera_id=r.camera_id,
                    read_at=r.read_at,
                    text=r.text,
                    confidence=r.confidence,
                    region=r.region,
                    xyxy=(r.x1, r.y1, r.x2, r.y2),
                    track_id=r.track_id,
                )
                for r in c.execute(q.limit(_limit(limit)))
            ]

    def add_crowd_samples(self, samples: Iterable[CrowdSample]) -> int:
        """Store crowd samples (idempotent by camera, time and zone); returns how many were new."""
        rows = [
            {
                "camera_id": s.camera_id,
                "sampled_at": s.sampled_at,
                "zone": s.zone or "",
                "count": s.count,
                "method": s.method,
            }
            for s in samples
        ]
        return len(self.db.write(lambda c: insert_ignore(c, t.crowd_samples, rows)))

    def add_crossing_counts(self, counts: Iterable[CrossingCount]) -> int:
        """Add crossing counts to their stored buckets (a new bucket row, or its count raised);
        returns how many rows were touched. Not idempotent by itself: the outbox's record key,
        claimed in the same unit of work, is what keeps a replayed record from adding twice."""
        rows = [
            {
                "camera_id": c.camera_id,
                "line": c.line,
                "direction": c.direction,
                "bucket_start": c.bucket_start,
                "count": c.count,
            }
            for c in counts
        ]
        if not rows:
            return 0

        def upsert(conn: Connection) -> int:
            make = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            ins = make(t.line_crossings)
            stmt = ins.on_conflict_do_update(
                index_elements=[c.name for c in t.line_crossings.primary_key.columns],
                set_={"count": t.line_crossings.c["count"] + ins.excluded["count"]},
            )
            for row in rows:  # one statement per row: a batch may name the same bucket twice
                conn.execute(stmt, row)
            return len(rows)

        return self.db.write(upsert)

    def list_crowd_samples(
        self,
        camera_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[CrowdSample]:
        col = t.crowd_samples.c
        q = select(t.crowd_samples).where(col.camera_id == camera_id)
        if since is not None:
            q = q.where(col.sampled_at >= since)
        if until is not None:
            q = q.where(col.sampled_at < until)
        q = q.order_by(col.sampled_at, col.zone).limit(_limit(limit))
        with self.db.read() as c:
            return [
                CrowdSample(
                    r.camera_id, r.sampled_at, r._mapping["count"], r.method, r.zone or None
                )
                for r in c.execute(q)
            ]

    # -- idempotency keys of recorded decisions ------------------------------------------------

    def claim_record_key(self, key: str, kind: str, camera_id: str, at: datetime) -> bool:
        """Insert a decision's idempotency key; ``False`` if it is already there (a replay).

        Call it inside the decision's unit of work, before its writes: the key and the decision
        commit or roll back together. Two units claiming the same key at once (two processes
        replaying the same spool) serialise on the primary key: the second waits for the first
        to commit and then finds the key taken.
        """
        row = {"key": key, "kind": kind, "camera_id": camera_id, "recorded_at": at}
        return bool(self.db.write(lambda c: insert_ignore(c, t.record_keys, [row])))

    def record_key_count(self, kind: str | None = None) -> int:
        q = select(func.count()).select_from(t.record_keys)
        if kind is not None:
            q = q.where(t.record_keys.c.kind == kind)
        with self.db.read() as c:
            return int(c.execute(q).scalar_one())

    def prune_record_keys(self, before: datetime) -> int:
        """Delete keys recorded before ``before`` (retention: a replay is never that late)."""
        stmt = delete(t.record_keys).where(t.record_keys.c.recorded_at < before)
        return int(self.db.write(lambda c: c.execute(stmt).rowcount or 0))

    # -- alerts ---------------------------------------------------------------------------------

    def add_alert(
        self, alert: Alert, *, sighting_id: str | None = None, probe_key: str | None = None
    ) -> bool:
        """Store an alert (idempotent by id); returns whether it was new."""
        row = {
            "id": alert.id,
            "kind": alert.kind.value,
            "camera_id": alert.camera_id,
            "raised_at": alert.raised_at,
            "score": alert.score,
            "status": alert.status.value,
            "deployment_id": alert.deployment_id,
            "subject_id": alert.subject_id,
            "sighting_id": sighting_id,
            "false_alert_rate": alert.false_alert_rate,
            "rank2_margin": alert.rank2_margin,
            "detail": alert.detail,
            "probe_key": probe_key,
            "legal_hold": False,
            "template_id": alert.template_id,
            "false_alert_point": alert.false_alert_point,
            "calibration_count": alert.calibration_count,
            "calibration_comparisons": alert.calibration_comparisons,
        }
        return bool(self.db.write(lambda c: insert_ignore(c, t.alerts, [row])))

    def get_alert(self, alert_id: str) -> Alert:
        with self.db.read() as c:
            row = c.execute(select(t.alerts).where(t.alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"no alert {alert_id!r}")
        return _alert(row)

    def list_alerts(
        self,
        *,
        status: AlertStatus | None = None,
        camera_id: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        until: datetime | None = None,
        offset: int = 0,
        kind: AlertKind | None = None,
        cameras: Collection[str] | None = None,
    ) -> list[Alert]:
        """Alerts raised in ``[since, until)``, newest first (``offset`` skips that many);
        ``cameras`` limits them to the cameras a caller may see (in the query, for paging)."""
        col = t.alerts.c
        q = select(t.alerts).order_by(col.raised_at.desc(), col.id)
        if cameras is not None:
            q = q.where(col.camera_id.in_(sorted(cameras)))
        if status is not None:
            q = q.where(col.status == status.value)
        if kind is not None:
            q = q.where(col.kind == kind.value)
        if camera_id is not None:
            q = q.where(col.camera_id == camera_id)
        if since is not None:
            q = q.where(col.raised_at >= since)
        if until is not None:
            q = q.where(col.raised_at < until)
        if offset:
            q = q.offset(max(0, offset))
        with self.db.read() as c:
            return [_alert(r) for r in c.execute(q.limit(_limit(limit)))]

    def transition_alert(self, alert_id: str, expected: AlertStatus, new: AlertStatus) -> None:
        """Compare-and-set an alert's status; :class:`ConflictError` if it is not ``expected``.

        A replay after a lost acknowledgement finds the status already ``new`` and succeeds.
        """

        def run(c: Connection) -> None:
            col = t.alerts.c
            current = c.execute(select(col.status).where(col.id == alert_id)).scalar_one_or_none()
            if current is None:
                raise NotFoundError(f"no alert {alert_id!r}")
            if current == new.value:
                return
            if current != expected.value:
                raise ConflictError(
                    f"alert {alert_id} is {current}, expected {expected.value} to move to {new}"
                )
            c.execute(update(t.alerts).where(col.id == alert_id).values(status=new.value))

        self.db.write(run)

    # -- audit log ------------------------------------------------------------------------------

    def append_audit_next(self, make: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        """Append the entry ``make`` builds from the current last entry, in the caller's unit.

        The last entry is read and the new one inserted in one transaction (the caller's, when
        it is inside :meth:`Database.transaction`, so the entry commits or rolls back with the
        state change it records). Appenders are serialised: on SQLite by the single writer, on
        PostgreSQL by a transaction-scoped advisory lock, so no two transactions (even in
        different processes) link to the same predecessor.
        """

        def run(c: Connection) -> AuditEntry:
            if c.dialect.name == "postgresql":
                c.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})
            col = t.audit_entries.c
            last = c.execute(select(t.audit_entries).order_by(col.seq.desc()).limit(1)).first()
            entry = make(None if last is None else _audit(last))
            c.execute(t.audit_entries.insert().values(**_audit_row(entry)))
            return entry

        return self.db.write(run)

    def audit_entry_at(self, seq: int) -> AuditEntry | None:
        """The entry with this ``seq``, or ``None`` (anchor and external-head checks)."""
        with self.db.read() as c:
            row = c.execute(select(t.audit_entries).where(t.audit_entries.c.seq == seq)).first()
        return None if row is None else _audit(row)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the caller's unit of work commits (at once outside one)."""
        self.db.after_commit(callback)

    def append_audit(self, entry: AuditEntry) -> bool:
        """Append one audit entry; returns ``False`` for an exact replay of a stored entry.

        :class:`ConflictError` when ``entry.seq`` is taken by a *different* entry (a concurrent
        appender won the race; recompute the chain link and try again).
        """
        row = _audit_row(entry)

        def run(c: Connection) -> bool:
            if insert_ignore(c, t.audit_entries, [row]):
                return True
            col = t.audit_entries.c
            stored = c.execute(select(col.entry_hash).where(col.seq == entry.seq)).scalar()
            if stored != entry.entry_hash:
                raise ConflictError(f"audit seq {entry.seq} is already taken by another entry")
            return False

        return self.db.write(run)

    def last_audit(self) -> AuditEntry | None:
        col = t.audit_entries.c
        with self.db.read() as c:
            row = c.execute(select(t.audit_entries).order_by(col.seq.desc()).limit(1)).first()
        return None if row is None else _audit(row)

    def audit_entries(self, from_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Audit entries with ``seq >= from_seq`` in order (page through for verification)."""
        col = t.audit_entries.c
        q = select(t.audit_entries).where(col.seq >= from_seq).order_by(col.seq)
        with self.db.read() as c:
            return [_audit(r) for r in c.execute(q.limit(_limit(limit)))]

    def cameras_switched_off(self) -> set[str]:
        """Cameras whose newest ``camera.enable``/``camera.disable`` entry is a disable: switched
        off by a person through :class:`vigil.governance.cameras.CameraService` and not back on.

        The start-up sync keeps these off whatever the config file's flag says, so a restart does
        not switch back on a camera someone stopped (say, one pointed at a private space). Read
        from the chain rather than a column of its own: the entry is already there, in the
        switch's own transaction, so the two cannot disagree. The trade-off is a scan of the
        audit table (no index on ``action``) at each start, once.
        """
        col = t.audit_entries.c
        q = (
            select(col.action, col.target)
            .where(col.action.in_(("camera.enable", "camera.disable")))
            .order_by(col.seq)
        )
        last: dict[str, str] = {}
        with self.db.read() as c:
            for action, target in c.execute(q):
                last[str(target).removeprefix("camera:")] = str(action)
        return {cam for cam, action in last.items() if action == "camera.disable"}
