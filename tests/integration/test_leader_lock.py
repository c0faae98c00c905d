"""The leader lock on the real PostgreSQL: one holder at a time, released with its connection.

Several processes sharing one database agree on which of them sends notifications and runs the
housekeeper through :class:`~vigil.storage.leases.LeaderLock`; here two locks stand for two
processes (each has its own connection, as two processes would).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.support.storage import truncate_all
from vigil.config import VigilConfig
from vigil.storage import Database
from vigil.storage.leases import LeaderLock
from vigil.system.assembly import Assembly, assemble
from vigil.system.governance import Housekeeper
from vigil.system.leader import LeaderOnly


def test_one_holder_at_a_time_and_a_clean_release_hands_over(pg_url: str) -> None:
    db = Database(pg_url)
    first, second = LeaderLock(db), LeaderLock(db)
    try:
        assert first.try_acquire() and first.held
        assert not second.try_acquire() and not second.held
        assert first.try_acquire()  # the holder confirms it still holds it
        first.release()
        assert not first.held
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.release()
        second.release()
        db.dispose()


def test_a_holder_whose_connection_dies_loses_the_lock_to_the_next(pg_url: str) -> None:
    """What a killed leader looks like from the server: its backend ends, the lock is free."""
    db = Database(pg_url)
    first, second = LeaderLock(db), LeaderLock(db)
    try:
        assert first.try_acquire()
        with db.writer.begin() as conn:  # end the holder's backend, as a crash would
            ended = (
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND objid = :k AND granted"
                    ),
                    {"k": first.key},
                )
                .scalars()
                .all()
            )
        assert ended == [True]
        assert second.try_acquire()
        assert not first.try_acquire()  # it notices the loss, and the lock is taken
        assert not first.held
    finally:
        first.release()
        second.release()
        db.dispose()


def test_on_sqlite_the_one_process_always_leads(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'v.db'}")
    lock, other = LeaderLock(db), LeaderLock(db)
    assert lock.held and lock.try_acquire() and other.try_acquire()
    lock.release()
    assert lock.held  # nothing to hand over: the embedded mode is one process
    db.dispose()


def test_two_heads_take_turns_at_housekeeping(pg_url: str, tmp_path: Path) -> None:
    """Two head assemblies (each with its archive index) on one database: one housekeeper runs;
    when its process stops, the other's starts; an API-only assembly (no index) runs none."""
    truncate_all(db := Database(pg_url))
    db.dispose()

    def head(name: str, *, index: bool = True) -> Assembly:
        config = VigilConfig.model_validate(
            {
                "system": {"data_dir": str(tmp_path / name)},
                "storage": {"url": pg_url},
                "cluster": {"leader_check_s": 0.2},
            }
        )
        return assemble(config, cameras=False, index=index)

    first, second, api = head("first"), head("second"), head("api", index=False)
    try:
        first.start()
        second.start()
        api.start()
        assert _keeper(first).passes >= 1  # start() runs a first pass before returning
        assert _keeper(second).passes == 0
        assert _keeper(api) is None
        first.stop()
        deadline = time.monotonic() + 10
        while _keeper(second).passes == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _keeper(second).passes >= 1
    finally:
        for built in (first, second, api):
            built.stop()
            built.services.repo.db.dispose()


def _keeper(built: Assembly) -> Any:
    leaders = [b for b in built.services.background if isinstance(b, LeaderOnly)]
    keepers = [p for b in leaders for p in b.parts if isinstance(p, Housekeeper)]
    return keepers[0] if keepers else None
