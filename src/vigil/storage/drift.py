"""The ``deployment_drift`` rows: each deployment's drift-watch state (see vigil.governance.drift).

One row per deployment, written inside the caller's unit of work (the verification decision that
fed it, or the scan summary), so the state and the audit entry that reports a flag commit
together. Reads for reports and the deployment view are plain selects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import insert_ignore


@dataclass(frozen=True, slots=True)
class DriftRow:
    """A deployment's drift watch as stored."""

    deployment_id: str
    predicted_rate: float
    statistic: float
    searches: int
    false_alerts: int
    updated_at: datetime
    flagged_at: datetime | None = None
    flagged_searches: int | None = None
    flagged_false_alerts: int | None = None


class DriftStore:
    """Read and write ``deployment_drift`` over one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, deployment_id: str) -> DriftRow | None:
        table = t.deployment_drift
        with self.db.read() as conn:
            row = conn.execute(select(table).where(table.c.deployment_id == deployment_id)).first()
        return DriftRow(**row._mapping) if row is not None else None

    def all(self) -> list[DriftRow]:
        table = t.deployment_drift
        with self.db.read() as conn:
            rows = conn.execute(select(table).order_by(table.c.deployment_id)).all()
        return [DriftRow(**r._mapping) for r in rows]

    def flagged_since(self, since: datetime, limit: int = 100) -> list[DriftRow]:
        """Deployments flagged at or after ``since`` (indexed on ``flagged_at``)."""
        table = t.deployment_drift
        query = (
            select(table)
            .where(table.c.flagged_at >= since)
            .order_by(table.c.flagged_at)
            .limit(limit)
        )
        with self.db.read() as conn:
            return [DriftRow(**r._mapping) for r in conn.execute(query).all()]

    def put(self, row: DriftRow) -> None:
        """Insert or replace the row (joins the caller's transaction when there is one)."""
        values = {
            "deployment_id": row.deployment_id,
            "predicted_rate": row.predicted_rate,
            "statistic": row.statistic,
            "searches": row.searches,
            "false_alerts": row.false_alerts,
            "flagged_at": row.flagged_at,
            "flagged_searches": row.flagged_searches,
            "flagged_false_alerts": row.flagged_false_alerts,
            "updated_at": row.updated_at,
        }
        table = t.deployment_drift

        def write(conn: Connection) -> None:
            if not insert_ignore(conn, table, [values]):
                conn.execute(
                    update(table)
                    .where(table.c.deployment_id == row.deployment_id)
                    .values(**{k: v for k, v in values.items() if k != "deployment_id"})
                )

        self.db.write(write)
