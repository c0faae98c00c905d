"""Idempotency keys on the real databases (SQLite and PostgreSQL): a decision written twice, or by
two writers at once, or in any interleaving of replays, is stored once; a key commits or rolls
back with its decision; keys are pruned by retention."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.storage import FAST, T0
from vigil.core.keys import record_key
from vigil.core.records import Alert, AlertKind, AlertStatus, CrowdSample, PlateRead
from vigil.sources.status import TamperChange, TamperSignal
from vigil.storage import Database, Repository
from vigil.system.decisions import CrowdRecord, Decision, DecisionWriter, PlateRecord
from vigil.system.tamper_alerts import TamperAlerter


def crowd(i: int, camera: str = "cam-1", alert: bool = False) -> CrowdRecord:
    at = T0 + timedelta(seconds=5 * i)
    sample = CrowdSample(camera, at, float(i), "boxes")
    alerts = ()
    if alert:
        alerts = (
            Alert(
                f"crowd-{camera}-{i}",
                AlertKind.CROWD,
                camera,
                at,
                0.9,
                status=AlertStatus.ACTIONABLE,
                detail="count over threshold",
            ),
        )
    return CrowdRecord(record_key(camera, "f:test:0", str(i), "crowd"), sample, alerts)


def plate(i: int) -> PlateRecord:
    read = PlateRead("gate", T0 + timedelta(seconds=i), f"AB{i:03d}", 0.9, "eu", (1, 2, 30, 12), i)
    return PlateRecord(record_key("gate", "f:test:0", f"t{i}", "plate"), read)


def stored(repo: Repository, camera: str = "cam-1") -> list[float]:
    return [s.count for s in repo.list_crowd_samples(camera, limit=1000)]


def test_the_same_decision_written_twice_is_stored_once(repo: Repository) -> None:
    write = DecisionWriter(repo, clock=lambda: T0)
    first = write(crowd(1, alert=True))
    again = write(crowd(1, alert=True))
    assert not first.duplicate and len(first.alerts) == 1
    assert again.duplicate and again.alerts == []
    assert stored(repo) == [1.0]
    assert len(repo.list_alerts(kind=AlertKind.CROWD, limit=10)) == 1
    assert repo.record_key_count("crowd") == 1
    assert not write(plate(1)).duplicate and write(plate(1)).duplicate
    assert len(repo.list_plate_reads(camera_id="gate", limit=10)) == 1


def test_a_key_rolls_back_with_its_decision(repo: Repository) -> None:
    """The key is claimed inside the decision's unit: a decision that fails leaves no key, so
    its retry is written, not skipped as a duplicate."""
    calls = {"n": 0}

    def flaky_hotlist_check(read: PlateRead) -> None:
        repo.add_plate_reads([read])
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("hotlist check failed half-way")

    write = DecisionWriter(repo, plates=flaky_hotlist_check, clock=lambda: T0)
    with pytest.raises(RuntimeError):
        write(plate(7))
    assert repo.record_key_count() == 0 and repo.list_plate_reads(camera_id="gate", limit=10) == []
    assert not write(plate(7)).duplicate
    assert (
        repo.record_key_count() == 1 and len(repo.list_plate_reads(camera_id="gate", limit=10)) == 1
    )


def test_two_writers_replaying_the_same_decisions_at_once_store_each_once(db: Database) -> None:
    """Two connections (as two processes would have) write the same 30 decisions concurrently,
    in opposite orders: every decision once, and every second write counted as a duplicate."""
    other = Database(db.url, FAST)
    records: list[Decision] = [crowd(i, alert=i % 5 == 0) for i in range(30)]
    results: dict[str, list[bool]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def run(name: str, database: Database, order: list[Decision]) -> None:
        write = DecisionWriter(Repository(database), clock=lambda: T0)
        try:
            results[name] = [write(r).duplicate for r in order]
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=("a", db, records)),
        threading.Thread(target=run, args=("b", other, records[::-1])),
    ]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        other.dispose()
    assert not errors, errors
    repo = Repository(db)
    assert stored(repo) == [float(i) for i in range(30)]
    assert len(repo.list_alerts(kind=AlertKind.CROWD, limit=100)) == 6
    assert sum(results["a"]) + sum(results["b"]) == 30  # each decision's second write
    assert repo.record_key_count("crowd") == 30


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(replays=st.lists(st.integers(0, 9), min_size=1, max_size=40))
def test_any_interleaving_of_replays_stores_each_key_once(
    repo: Repository, replays: list[int]
) -> None:
    cam = f"cam-{uuid.uuid4().hex}"  # a fresh camera per example: the database is shared
    write = DecisionWriter(repo, clock=lambda: T0)
    dups = sum(write(crowd(i, cam)).duplicate for i in replays)
    assert stored(repo, cam) == sorted(float(i) for i in set(replays))
    assert dups == len(replays) - len(set(replays))


def test_keys_are_pruned_by_age(repo: Repository) -> None:
    for i in range(4):
        DecisionWriter(repo, clock=lambda i=i: T0 + timedelta(days=i))(crowd(i))  # type: ignore[misc]
    assert repo.prune_record_keys(T0 + timedelta(days=2)) == 2
    assert repo.record_key_count() == 2


def test_a_tamper_change_seen_again_raises_no_second_alert(repo: Repository) -> None:
    """A camera restarted on the same file reaches the same frame again: the tamper change there
    has the same key, so a second alerter (a new process) stores nothing new."""
    change = TamperChange("cam-1", TamperSignal.BLACK, True, T0, T0, position="f:test:0/42")
    first = TamperAlerter(repo)
    assert first.handle(change) is not None
    second = TamperAlerter(repo)
    assert second.handle(change) is None and second.stats.duplicates == 1
    assert len(repo.list_alerts(kind=AlertKind.TAMPER, limit=10)) == 1
    assert repo.record_key_count("tamper") == 1
