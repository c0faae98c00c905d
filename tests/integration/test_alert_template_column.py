"""Revision 0002 moves the enrolled-image reference of alerts out of the ``detail`` text into
``alerts.template_id``: old rows are backfilled (and stay readable with their text unchanged), a
reference to a template removed earlier becomes NULL, and removing a subject later nulls the
column through its foreign key. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import column, table

from tests.support.storage import FAST, PG_ADMIN_URL, T0, libpq_url, with_database
from vigil.core.domain import (
    DeploymentRow,
    DeploymentState,
    SubjectRow,
    TemplateRow,
    WatchlistRow,
)
from vigil.storage import Database, Repository


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database with no schema yet (each test migrates it step by step)."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'old.db'}", FAST)
        yield db
        db.dispose()
        return
    name = f"vigil_mig_{uuid.uuid4().hex[:12]}"
    admin = libpq_url(PG_ADMIN_URL)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database(with_database(PG_ADMIN_URL, name), FAST)
    try:
        yield db
    finally:
        db.dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def old_rows(db: Database) -> None:
    """Rows as revision 0001 held them: the template id only inside ``detail``. Tables that
    0002 leaves alone are written through the repository; alerts through their 0001 shape."""
    repo = Repository(db)
    repo.add_watchlist(WatchlistRow("wl", "l", "wanted_by_court", "u", T0, "r", None, 1))
    repo.add_subject(SubjectRow("s1", "wl", "A", "u", T0))
    repo.add_templates(
        [TemplateRow("t1", "s1", "m", np.ones(4, np.float32) / 2, "court", 0.9, "u", T0, "k1")]
    )
    repo.add_deployment(
        DeploymentRow(
            "d1",
            "victim_or_missing_person",
            "ref",
            T0,
            T0,
            DeploymentState.EXPIRED,
            "u",
            T0,
            watchlists=(("wl", "h"),),
        )
    )
    alerts_0001 = table(
        "alerts",
        *(column(n) for n in ("id", "kind", "camera_id", "raised_at", "score", "status")),
        *(column(n) for n in ("deployment_id", "false_alert_rate", "detail", "legal_hold")),
    )
    with db.writer.begin() as c:
        for aid, kind, detail in [
            ("a-live", "face_match", "template=t1 watchlist=wl gallery=3"),
            ("a-gone", "face_match", "template=t-removed watchlist=wl gallery=3"),
            ("a-plate", "plate_hit", "plate ABC123"),
        ]:
            c.execute(
                alerts_0001.insert().values(
                    id=aid,
                    kind=kind,
                    camera_id="cam-1",
                    raised_at=T0,
                    score=0.7,
                    status="pending",
                    deployment_id="d1",
                    false_alert_rate=0.01,
                    detail=detail,
                    legal_hold=False,
                )
            )


def test_upgrade_backfills_template_id_and_keeps_old_rows_readable(empty_db: Database) -> None:
    assert empty_db.migrate("0001") == "0001"
    old_rows(empty_db)
    assert empty_db.migrate("0002") == "0002"
    empty_db.migrate()  # and later revisions keep the rows readable
    repo = Repository(empty_db)
    live, gone, plate = (repo.get_alert(a) for a in ("a-live", "a-gone", "a-plate"))
    assert live.template_id == "t1" and live.detail == "template=t1 watchlist=wl gallery=3"
    assert gone.template_id is None and plate.template_id is None
    assert repo.get_template("t1").image_key == "k1"
    repo.delete_subject("s1")  # the template goes; the alert's reference follows it
    assert repo.get_alert("a-live").template_id is None
