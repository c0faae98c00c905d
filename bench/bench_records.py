"""Bytes each stored record costs in PostgreSQL, the cluster-mode database (for `vigil capacity`).

`vigil capacity` turns cameras into terabytes with a per-record size; this benchmark is where that
size comes from. It creates a database of its own, migrates it, then for each record kind the live
path writes (a face sighting with its crop key, its archived embedding, a fused plate read, a
crowd sample, an audit entry of the kind a camera writes: ``deployment.scan_summary``) inserts
``n`` rows through the real repository / audit code, runs ``VACUUM ANALYZE`` and reads
``pg_total_relation_size`` (heap + indexes + TOAST) of the table before and after. The figure is
the growth divided by ``n``: it includes index entries, row headers and page fill, which a sum of
column widths would miss, and it excludes WAL and backups (an operator sizes those separately).

Trade-offs: rows are synthetic but shaped like live ones (uuid ids, 64-hex crop keys, realistic
text lengths, one embedding of the default fusion's width, float32 random so it does not
compress); ``n`` is large enough that the fixed first pages of each table are noise (quick 2,000,
full 20,000 per kind). SQLite is not measured: cluster mode refuses it.

``python -m bench --only records`` (or ``--quick``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np

from vigil.config.settings import FaceEmbedderConfig
from vigil.core.records import CrowdSample, ObjectClass, PlateRead, Sighting
from vigil.governance.audit import AuditAction, AuditLog
from vigil.perception.faces.embedders import EMBEDDER_SPECS
from vigil.storage import Database, DatabaseOptions, Repository

PG_ADMIN = os.environ.get(
    "VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def fusion_dim() -> int:
    """Width of the default embedder's template (the fusion's members side by side)."""
    return sum(EMBEDDER_SPECS[m][1] for m in FaceEmbedderConfig().fusion_members)


def _table_bytes(url: str, table: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"VACUUM ANALYZE {table}")
        row = conn.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
    assert row is not None
    return int(row[0])


def _measure(db: Database, url: str, n: int) -> dict[str, object]:
    """Insert ``n`` rows of each kind; bytes of table growth per row, per kind."""

    def per_row(table: str, write: Callable[[], None]) -> float:
        before = _table_bytes(url, table)
        write()
        return round((_table_bytes(url, table) - before) / n, 1)

    repo = Repository(db)
    audit = AuditLog(repo)
    rng = np.random.default_rng(16)
    ids = [uuid.uuid4().hex for _ in range(n)]
    dim = fusion_dim()

    def sightings() -> None:
        rows = []
        for i, sid in enumerate(ids):
            t = T0 + timedelta(seconds=i)
            key = uuid.uuid4().hex * 2  # a sha256 media key: 64 hex characters
            rows.append(Sighting(sid, f"cam-{i % 500:05d}", ObjectClass.FACE, t, t, 0.8, key))
        for s in range(0, n, 500):
            repo.add_sightings(rows[s : s + 500])

    def embeddings() -> None:
        for s in range(0, n, 500):
            batch = rng.standard_normal((min(500, n - s), dim)).astype(np.float32)
            items = [(ids[s + j], v) for j, v in enumerate(batch)]
            repo.add_embeddings("fusion(sface+fr_feature+mobilefacenet)", items, at=T0)

    def plates() -> None:
        reads = [
            PlateRead(
                f"cam-{i % 500:05d}",
                T0 + timedelta(seconds=i),
                f"AB{i % 100000:05d}",
                0.9,
                "us",
                (100.0, 200.0, 260.0, 250.0),
                i,
            )
            for i in range(n)
        ]
        for s in range(0, n, 500):
            repo.add_plate_reads(reads[s : s + 500])

    def crowd() -> None:
        samples = [
            CrowdSample(f"cam-{i % 500:05d}", T0 + timedelta(seconds=5 * i), 12.5, "boxes")
            for i in range(n)
        ]
        for s in range(0, n, 500):
            repo.add_crowd_samples(samples[s : s + 500])

    def audits() -> None:
        for i in range(n):
            audit.append(
                "system",
                AuditAction.DEPLOYMENT_SCAN_SUMMARY,
                f"deployment:{uuid.uuid4()}",
                "faces compared on this camera",
                [("camera", f"cam-{i % 500:05d}"), ("faces_scanned", "42"), ("alerts", "0")],
            )

    return {
        "records_rows_per_kind": n,
        "records_embedding_dim": dim,
        "records_pg_bytes_per_face_sighting": per_row("sightings", sightings),
        "records_pg_bytes_per_embedding": per_row("sighting_embeddings", embeddings),
        "records_pg_bytes_per_plate_read": per_row("plate_reads", plates),
        "records_pg_bytes_per_crowd_sample": per_row("crowd_samples", crowd),
        "records_pg_bytes_per_audit_entry": per_row("audit_entries", audits),
    }


def run(quick: bool) -> dict[str, object]:
    import psycopg

    n = 2_000 if quick else 20_000
    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    admin = PG_ADMIN.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        version = conn.execute("SHOW server_version").fetchone()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    db = Database(url, DatabaseOptions())
    try:
        db.migrate()
        out = _measure(db, url.replace("+psycopg", ""), n)
        out["records_pg_server_version"] = str(version[0]) if version else "?"
        return out
    finally:
        db.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    import json

    print(json.dumps(run(quick=True), indent=1))
