"""Migrations: the shipped revisions build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from tests.support.storage import T0
from vigil.core.domain import CameraRow
from vigil.storage import Database, Repository
from vigil.storage.schema import ENGINE_SPECIFIC, metadata


def _declared(name: str | None, kind: str, _parents: object) -> bool:
    """Leave out the search indexes only one engine has (schema.ENGINE_SPECIFIC): a trigram GIN
    index on PostgreSQL, an FTS5 table and its shadow tables on SQLite."""
    return not (name and name.startswith(ENGINE_SPECIFIC))


def test_migrations_match_the_declared_schema(db: Database) -> None:
    with db.writer.connect() as conn:
        opts = {"compare_type": True, "include_name": _declared}
        ctx = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"schema.py and migrations/versions differ; add a revision: {diff}"


def test_sqlite_runs_in_wal_with_foreign_keys(db: Database) -> None:
    if db.dialect != "sqlite":
        with db.read() as conn:
            assert conn.exec_driver_sql("SHOW server_version_num").scalar()
        return
    with db.writer.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with db.read() as conn:
        assert conn.exec_driver_sql("PRAGMA query_only").scalar() == 1


def test_camera_urls_are_stored_without_credentials(db: Database, tmp_path: Path) -> None:
    """The cameras table never holds a camera password: new rows are stored redacted, and the
    0007 upgrade scrubs rows an older version stored in clear."""
    repo = Repository(db)
    secret_url = "rtsp://admin:p@ss/w0rd@10.0.0.5:554/live?token=t0ps3cret"
    repo.upsert_camera(CameraRow("cam-1", "Gate", secret_url, T0))
    with db.read() as conn:
        stored = conn.execute(text("SELECT source_url FROM cameras")).scalar_one()
    assert stored == "rtsp://***@10.0.0.5:554/live?token=***"
    assert repo.get_camera("cam-1").source_url == stored

    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    old.migrate("0006")
    with old.writer.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cameras (id, name, source_url, updated_at, analytics, fps, "
                "enabled, status) VALUES ('c', 'c', :u, :t, 'persons', 2.0, 1, 'unknown')"
            ),
            {"u": secret_url, "t": T0.isoformat()},
        )
    assert old.migrate() == old.head_revision()
    with old.read() as conn:
        assert conn.execute(text("SELECT source_url FROM cameras")).scalar_one() == stored
    old.dispose()
