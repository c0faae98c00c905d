"""Units of work (``Database.transaction``) on SQLite and PostgreSQL: all or nothing, read your
own writes, after-commit callbacks only after a commit, and audit appends that stay one chain
under concurrency."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

from tests.support.storage import FAST, T0, libpq_url, truncate_all
from vigil.core.domain import CameraRow, CaseRow
from vigil.errors import NotFoundError
from vigil.governance.audit import AuditLog, iter_entries
from vigil.storage import Database, Repository
from vigil.storage import schema as t


class BoomError(RuntimeError):
    pass


def _case(n: int) -> CaseRow:
    return CaseRow(f"case-{n}", "title", "ivan", T0)


def test_a_unit_commits_everything_or_nothing(repo: Repository) -> None:
    with pytest.raises(BoomError), repo.db.transaction():
        repo.add_case(_case(1))
        repo.upsert_camera(CameraRow("cam-9", "nine", "file:///x", T0))
        raise BoomError
    with pytest.raises(Exception, match="case"):
        repo.get_case("case-1")
    assert [c.id for c in repo.list_cameras()] == []
    with repo.db.transaction():
        repo.add_case(_case(2))
        assert repo.get_case("case-2").id == "case-2"  # read inside the unit sees it
        with repo.db.transaction():  # nested: joins the outer unit
            repo.add_case(_case(3))
    assert {repo.get_case("case-2").id, repo.get_case("case-3").id} == {"case-2", "case-3"}


def test_after_commit_runs_only_after_a_commit(repo: Repository) -> None:
    ran: list[str] = []
    with pytest.raises(BoomError), repo.db.transaction():
        repo.db.after_commit(lambda: ran.append("rolled back"))
        raise BoomError
    with repo.db.transaction():
        repo.db.after_commit(lambda: ran.append("committed"))
        assert ran == []
    repo.db.after_commit(lambda: ran.append("outside"))
    assert ran == ["committed", "outside"]


def test_a_caught_constraint_error_does_not_poison_the_unit(repo: Repository) -> None:
    """Each nested write is a savepoint: PostgreSQL would otherwise refuse every later
    statement of a transaction in which one failed."""
    row = {"id": "case-1", "title": "t", "opened_by": "ivan", "opened_at": T0}
    with repo.db.transaction():
        repo.add_case(_case(1))
        with pytest.raises(IntegrityError):  # the same primary key again
            repo.db.write(lambda c: c.execute(t.cases.insert().values(**row)))
        repo.add_case(_case(2))
    assert repo.get_case("case-1").id == "case-1"
    assert repo.get_case("case-2").id == "case-2"


def test_concurrent_audited_units_form_one_unbroken_chain(repo: Repository, tmp_path: Path) -> None:
    audit = AuditLog(repo, anchor_path=tmp_path / "anchor.json")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(8):
                with repo.db.transaction():
                    repo.add_case(_case(worker * 100 + i))
                    audit.append(f"user-{worker}", "case.open", f"case:{worker}-{i}", "test")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    entries = list(iter_entries(repo))
    assert [e.seq for e in entries] == list(range(48))
    report = audit.verify()
    assert report.ok, report.describe()
    anchor = audit.anchor()
    assert anchor is not None and anchor.seq == 47


def test_a_unit_is_run_again_whole_when_its_connection_dies(pg_url: str) -> None:
    """PostgreSQL drops the connection half-way (a restart, a failover): the first attempt is
    rolled back whole and the unit runs again; exactly one attempt's records are stored."""
    db = Database(pg_url, FAST)
    truncate_all(db)
    repo = Repository(db)
    audit = AuditLog(repo)
    attempts: list[int] = []

    def work() -> None:
        attempts.append(1)
        n = len(attempts)
        repo.add_case(_case(n))
        audit.append("ivan", "case.open", f"case:case-{n}", "opened")
        if n == 1:
            with db.transaction() as conn:  # joins the unit: its own connection
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with psycopg.connect(libpq_url(pg_url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            repo.add_case(_case(99))  # the dead connection fails here

    db.unit(work)
    assert len(attempts) == 2
    assert repo.get_case("case-2").id == "case-2"
    for gone in ("case-1", "case-99"):
        with pytest.raises(NotFoundError):
            repo.get_case(gone)
    assert [e.target for e in iter_entries(repo)] == ["case:case-2"]
    assert audit.verify().ok
    db.dispose()
