"""The leader lock on the real PostgreSQL: one holder at a time, released with its connection.

Several processes sharing one database agree on which of them sends notifications and runs the
housekeeper through :class:`~vigil.storage.leases.LeaderLock`; here two locks stand for two
processes (each has its own connection, as two processes would).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from vigil.storage import Database
from vigil.storage.leases import LeaderLock


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
