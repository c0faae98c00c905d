"""Fixtures for the storage tests: a migrated database on each engine, and record factories.

PostgreSQL tests run against the real server on 127.0.0.1:5432 (``VIGIL_TEST_PG_URL`` overrides
the admin URL). Each test session creates a uniquely named database, migrates it once, truncates
it before every test, and drops it at the end. When the server is down the tests **fail** (CI
starts it): they never skip silently.

SQLite tests copy a database file migrated once per session, so each test starts from a fresh,
fully migrated schema in its own ``tmp_path``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import text

from vigil.core.records import ObjectClass, Sighting
from vigil.storage import Database, DatabaseOptions, Repository
from vigil.storage.schema import ALL_TABLES

PG_ADMIN_URL = os.environ.get(
    "VIGIL_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FAST = DatabaseOptions(write_retry_s=10.0, busy_timeout_ms=5000)


def libpq_url(url: str) -> str:
    """SQLAlchemy URL -> libpq URL (drop the ``+psycopg`` driver suffix)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def with_database(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A freshly created, migrated PostgreSQL database for this test session (dropped after)."""
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(PG_ADMIN_URL)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(PG_ADMIN_URL, name)
    db = Database(url, FAST)
    db.migrate()
    db.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "vigil.db"
    db = Database(f"sqlite:///{path}", FAST)
    db.migrate()
    db.dispose()
    return path


def truncate_all(db: Database) -> None:
    names = ", ".join(tbl.name for tbl in ALL_TABLES)
    with db.writer.begin() as conn:
        conn.execute(text(f"TRUNCATE {names}, alembic_version RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": db.head_revision()})


def fresh_sqlite(template: Path, folder: Path) -> Database:
    path = folder / "vigil.db"
    shutil.copyfile(template, path)
    return Database(f"sqlite:///{path}", FAST)


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


@pytest.fixture(params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each engine."""
    if request.param == "sqlite":
        database = fresh_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        database = Database(request.getfixturevalue("pg_url"), FAST)
        truncate_all(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def repo(db: Database) -> Repository:
    return Repository(db)


def make_sighting(i: int, camera: str = "cam-1", minutes: int = 0) -> Sighting:
    start = T0 + timedelta(minutes=minutes, seconds=i)
    return Sighting(
        id=f"s-{i:08d}",
        camera_id=camera,
        object_class=ObjectClass.PERSON,
        started_at=start,
        ended_at=start + timedelta(seconds=5),
        best_quality=0.5 + (i % 50) / 100,
        crop_key=None,
    )


def unit_vectors(n: int, dim: int = 512, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)
