"""Integrity on both engines: SIGKILL mid-batch, a killed server connection mid-write, an
unreachable server, concurrent writers, query time limits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import psycopg
import pytest
from sqlalchemy import Connection, text

from tests.support.storage import FAST, libpq_url, make_sighting
from vigil.storage import (
    Database,
    DatabaseOptions,
    QueryTimeoutError,
    Repository,
    StorageUnavailableError,
)
from vigil.storage import schema as t
from vigil.storage.repository import insert_ignore

WRITER = textwrap.dedent(
    """
    import sys
    from tests.support.storage import make_sighting
    from vigil.storage import Database, Repository
    repo = Repository(Database(sys.argv[1]))
    batch = 0
    while True:
        repo.add_sightings([make_sighting(batch * 1000 + i) for i in range(400)])
        print(batch, flush=True)  # acknowledged: the commit returned
        batch += 1
    """
)


def test_sigkill_mid_batch_keeps_every_acknowledged_write(db: Database) -> None:
    url = db.url.render_as_string(hide_password=False)
    tests_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": tests_dir}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    acked: list[int] = []
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= 12:
            break
    os.kill(proc.pid, signal.SIGKILL)  # most likely inside the next batch's transaction
    proc.wait(timeout=30)
    db.dispose()
    if db.dialect == "sqlite":
        with db.writer.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    repo = Repository(db)
    stored = {s.id for s in repo.list_sightings(limit=10_000)}
    for batch in acked:
        assert all(make_sighting(batch * 1000 + i).id in stored for i in range(400))
    assert len(stored) % 400 == 0  # no torn batch: a transaction is all or nothing


@pytest.mark.services
def test_server_kills_connection_mid_batch_retried_without_duplicates(pg_url: str) -> None:
    db = Database(pg_url, FAST)
    with db.writer.begin() as conn:
        conn.execute(text("TRUNCATE sightings CASCADE"))
    rows = [
        {
            "id": s.id,
            "camera_id": s.camera_id,
            "object_class": s.object_class.value,
            "started_at": s.started_at,
            "ended_at": s.ended_at,
            "best_quality": s.best_quality,
            "legal_hold": False,
        }
        for s in (make_sighting(i) for i in range(300))
    ]
    attempts: list[int] = []

    def write(conn: Connection) -> int:
        attempts.append(1)
        first = insert_ignore(conn, t.sightings, rows[:150])
        if len(attempts) == 1:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(libpq_url(pg_url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return len(first) + len(insert_ignore(conn, t.sightings, rows[150:]))

    assert db.write(write) == 300
    assert len(attempts) == 2
    assert Repository(db).count_sightings() == 300
    assert Repository(db).add_sightings([make_sighting(i) for i in range(300)]) == 0
    db.dispose()


def test_unreachable_server_raises_after_retry_window() -> None:
    db = Database(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", DatabaseOptions(write_retry_s=0.5)
    )
    with pytest.raises(StorageUnavailableError, match="attempts"):
        Repository(db).add_sightings([make_sighting(1)])


def test_concurrent_writers_and_readers(db: Database) -> None:
    repo = Repository(db)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for b in range(10):
                repo.add_sightings([make_sighting(w * 100_000 + b * 100 + i) for i in range(20)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(30):
                repo.list_sightings(limit=50)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not errors
    assert repo.count_sightings() == 4 * 10 * 20


def test_slow_reads_are_cancelled(db: Database) -> None:
    slow = (
        "SELECT pg_sleep(5)"
        if db.dialect == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
    )
    with pytest.raises(QueryTimeoutError), db.read(timeout_s=0.2) as conn:
        conn.exec_driver_sql(slow).all()
    with db.read() as conn:  # the pooled connection is usable again
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


@pytest.mark.services
def test_pooled_connections_killed_between_writes_are_replaced(pg_url: str) -> None:
    repo = Repository(Database(pg_url, FAST))
    with repo.db.writer.begin() as conn:
        conn.execute(text("TRUNCATE sightings CASCADE"))
    repo.add_sightings([make_sighting(i) for i in range(5)])
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(libpq_url(pg_url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    assert repo.add_sightings([make_sighting(i) for i in range(3, 10)]) == 5
    assert {s.id for s in repo.list_sightings()} == {make_sighting(i).id for i in range(10)}
    repo.db.dispose()
