"""Migrations: the shipped revisions build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from vigil.storage import Database
from vigil.storage.schema import metadata

pytest_plugins = ["storage_fixtures"]


def test_migrations_match_the_declared_schema(db: Database) -> None:
    with db.writer.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
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
