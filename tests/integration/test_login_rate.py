"""The per-client login window in the database (shared by every API process on it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.storage import truncate_all
from vigil.storage import Database, Repository
from vigil.storage import schema as t

T0 = datetime(2026, 12, 4, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Repository:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'v.db'}")
        db.migrate()
    else:
        db = Database(request.getfixturevalue("pg_url"))
        truncate_all(db)
    request.addfinalizer(db.dispose)
    return Repository(db)


def test_the_window_counts_this_minute_and_the_rest_of_the_last(repo: Repository) -> None:
    for i in range(1, 6):
        assert repo.count_login_attempt("10.0.0.1", T0 + timedelta(seconds=i)) == i
    assert repo.count_login_attempt("10.0.0.2", T0 + timedelta(seconds=7)) == 1  # per client
    # 45 s into the next minute: 1 here + 5 from the last minute's remaining quarter.
    rate = repo.count_login_attempt("10.0.0.1", T0 + timedelta(minutes=1, seconds=45))
    assert rate == pytest.approx(1 + 5 * 0.25)
    # Two minutes on, the first minute is gone (and its rows deleted: the table stays small).
    assert repo.count_login_attempt("10.0.0.1", T0 + timedelta(minutes=3)) == 1
    with repo.db.read() as conn:
        rows = conn.execute(select(func.count()).select_from(t.login_rate)).scalar()
    assert rows == 1  # only this minute's: every client's older rows went
