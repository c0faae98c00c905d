"""Plate hotlists, plate_hit alerts through the face verification/audit path, plate-read
retention and the audited plate search - on SQLite and the real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.governance_world import (
    AUDITOR,
    INVESTIGATOR,
    OPERATOR,
    SUPERVISOR,
    World,
    make_world,
)
from vigil.core.domain import CaseRow, Decision
from vigil.core.records import AlertKind, AlertStatus, PlateRead
from vigil.errors import ConflictError, PermissionDeniedError, ValidationError
from vigil.governance.audit import AuditAction, iter_entries, verify_chain
from vigil.governance.hotlists import HotlistService, PlateHitChecker
from vigil.governance.plate_search import PlateSearch
from vigil.governance.purge import RetentionPolicy
from vigil.governance.verification import VerificationService
from vigil.perception.plates.profiles import HK, US
from vigil.storage import Repository
from vigil.storage.plates import PlateStore


@pytest.fixture
def w(repo: Repository, tmp_path: Path) -> World:
    return make_world(repo, tmp_path)


def parts(w: World) -> tuple[HotlistService, PlateHitChecker, PlateSearch]:
    store = PlateStore(w.repo.db)
    return (
        HotlistService(store, w.audit, clock=w.clock),
        PlateHitChecker(w.repo, store, w.audit, US, refresh_s=0, clock=w.clock),
        PlateSearch(store, w.audit, US, clock=w.clock),
    )


def read(w: World, text: str, cam: str = "cam-1", track: int = 1, **ago: float) -> PlateRead:
    at = w.clock() - timedelta(**ago) if ago else w.clock()
    return PlateRead(cam, at, text, 0.9, "us", (0, 0, 10, 5), track)


def actions(w: World) -> list[str]:
    return [e.action for e in iter_entries(w.repo)]


def test_hotlist_changes_are_audited_and_guarded(w: World) -> None:
    lists, _, _ = parts(w)
    with pytest.raises(PermissionDeniedError):
        lists.create(OPERATOR, name="x", priority=5, reason="r", retention_days=30)
    for bad in ({"priority": 101}, {"reason": " "}, {"retention_days": 0}):
        args = {"name": "x", "priority": 5, "reason": "why", "retention_days": 30.0, **bad}
        with pytest.raises(ValidationError):
            lists.create(SUPERVISOR, **args)  # type: ignore[arg-type]
    hl = lists.create(SUPERVISOR, name="stolen", priority=80, reason="theft", retention_days=90)
    e = lists.add_entry(SUPERVISOR, hl.id, "ab-1234", "report 17")
    assert e.pattern == "AB1234"
    with pytest.raises(ConflictError):
        lists.add_entry(INVESTIGATOR, hl.id, "AB1234", "again")
    for bad_pattern in ("***", "AB_12", "", "A" * 17):
        with pytest.raises(ValidationError):
            lists.add_entry(SUPERVISOR, hl.id, bad_pattern, "bad")
    lists.remove_entry(INVESTIGATOR, hl.id, e.id, "recovered")
    lists.delete(SUPERVISOR, hl.id, "case closed")
    got = actions(w)
    for action in ("create", "add_entry", "remove_entry", "delete"):
        assert f"hotlist.{action}" in got
    assert verify_chain(iter_entries(w.repo)).ok


def test_hit_raises_an_alert_that_one_confirmation_makes_actionable(w: World) -> None:
    lists, check, _ = parts(w)
    low = lists.create(SUPERVISOR, name="watch", priority=10, reason="r", retention_days=30)
    high = lists.create(SUPERVISOR, name="amber", priority=95, reason="child", retention_days=60)
    lists.add_entry(SUPERVISOR, low.id, "7?B55*", "partial from a witness")
    lists.add_entry(SUPERVISOR, high.id, "7XB123", "amber alert")
    assert check(read(w, "ZZZ999")) is None  # on no list: stored, no alert
    alert = check(read(w, "7XB123", track=2))
    assert alert is not None and alert.kind is AlertKind.PLATE_HIT
    assert "priority=95" in alert.detail and f"hotlist={high.id}" in alert.detail
    # Confusables fold: an OCR 8/B slip still hits; wildcard hits the lower list.
    assert check(read(w, "7X8123", track=3)) is not None
    wild = check(read(w, "7QB55", track=4))
    assert wild is not None and f"hotlist={low.id}" in wild.detail
    # The same verification as faces; plate hits need one confirmation by default.
    status = w.verification.decide(OPERATOR, alert.id, Decision.CONFIRM, "plate checked")
    assert status is AlertStatus.ACTIONABLE
    got = actions(w)
    assert got.count(AuditAction.ALERT_RAISE.value) == 3
    assert AuditAction.ALERT_ACTIONABLE.value in got and verify_chain(iter_entries(w.repo)).ok
    hits = {r.text: r for r in w.repo.list_plate_reads()}
    assert set(hits) == {"ZZZ999", "7XB123", "7X8123", "7QB55"}


def test_hit_confirmations_are_configurable_and_faces_stay_at_two(w: World) -> None:
    lists, check, _ = parts(w)
    hl = lists.create(SUPERVISOR, name="x", priority=50, reason="r", retention_days=30)
    lists.add_entry(SUPERVISOR, hl.id, "ABC123", "r")
    alert = check(read(w, "ABC123"))
    assert alert is not None
    two = VerificationService(
        w.repo, w.audit, clock=w.clock, confirmations={AlertKind.PLATE_HIT: 2}
    )
    assert two.decide(OPERATOR, alert.id, Decision.CONFIRM, "ok") is AlertStatus.ONE_CONFIRMED
    assert two.decide(SUPERVISOR, alert.id, Decision.CONFIRM, "ok") is AlertStatus.ACTIONABLE
    with pytest.raises(ValidationError):
        VerificationService(w.repo, w.audit, confirmations={AlertKind.FACE_MATCH: 1})
    with pytest.raises(ValidationError):
        VerificationService(w.repo, w.audit, confirmations={AlertKind.PLATE_HIT: 0})


def test_expired_lists_and_entries_do_not_hit(w: World) -> None:
    lists, check, _ = parts(w)
    hl = lists.create(
        SUPERVISOR,
        name="short",
        priority=50,
        reason="r",
        retention_days=30,
        expires_at=w.clock() + timedelta(hours=1),
    )
    lists.add_entry(SUPERVISOR, hl.id, "ABC123", "r")
    w.clock.advance(hours=2)
    assert check(read(w, "ABC123")) is None


def test_retention_keeps_hits_for_their_list_and_others_for_the_read_retention(w: World) -> None:
    lists, check, _ = parts(w)
    hl = lists.create(SUPERVISOR, name="x", priority=50, reason="r", retention_days=30)
    lists.add_entry(SUPERVISOR, hl.id, "HIT111", "r")
    check(read(w, "HIT111", days=10))
    check(read(w, "MISS22", days=10, track=2))
    check(read(w, "NEW333", days=1, track=3))
    policy = RetentionPolicy(plate_reads=timedelta(days=7))
    counts = w.purger.apply_retention(policy)
    assert counts["plate_reads"] == 1
    assert {r.text for r in w.repo.list_plate_reads()} == {"HIT111", "NEW333"}
    w.clock.advance(days=25)  # the hit is now 35 days old: past its list's 30
    w.purger.apply_retention(policy)
    assert w.repo.list_plate_reads() == []


def test_a_plate_read_on_legal_hold_outlives_its_retention(w: World) -> None:
    _, check, search = parts(w)
    check(read(w, "KEEP11", days=10))
    check(read(w, "DROP22", days=10, track=2))
    (hit,) = search.search(INVESTIGATOR, pattern="KEEP11", reason="burglary case 41").hits
    w.repo.add_case(CaseRow("case-7", "burglary", INVESTIGATOR.id, w.clock()))
    with pytest.raises(PermissionDeniedError):
        w.purger.hold(OPERATOR, "case-7", "plate_read", hit.key, "evidence")
    w.purger.hold(INVESTIGATOR, "case-7", "plate_read", hit.key, "vehicle seen at the scene")
    counts = w.purger.apply_retention(RetentionPolicy(plate_reads=timedelta(days=7)))
    assert counts["plate_reads"] == 1
    assert [r.text for r in w.repo.list_plate_reads()] == ["KEEP11"]
    w.clock.advance(days=3650)  # ten years on: a hold has no expiry
    w.purger.apply_retention(RetentionPolicy(plate_reads=timedelta(days=7)))
    assert [r.text for r in w.repo.list_plate_reads()] == ["KEEP11"]
    entries = [e for e in iter_entries(w.repo) if e.action == AuditAction.LEGAL_HOLD.value]
    assert [e.target for e in entries] == [f"plate_read:{hit.key}"]


def test_plate_search_wildcards_fuzzy_cameras_time_and_audit(w: World) -> None:
    _, check, search = parts(w)
    for i, (text, cam) in enumerate(
        [("ABC123", "cam-1"), ("ABC128", "cam-1"), ("X8C123", "cam-2"), ("QQQ999", "cam-1")]
    ):
        check(read(w, text, cam=cam, track=i, minutes=10 * i))

    def texts(**kw: object) -> list[str]:
        result = search.search(INVESTIGATOR, reason="case 4", **kw)  # type: ignore[arg-type]
        return [h.read.text for h in result.hits]

    assert texts(pattern="ABC123") == ["ABC123"]
    assert sorted(texts(pattern="ABC12?")) == ["ABC123", "ABC128"]
    assert sorted(texts(pattern="*C123")) == ["ABC123", "X8C123"]
    assert texts(pattern="ABC123", max_distance=1)[0] == "ABC123"  # best first
    assert sorted(texts(pattern="ABC123", max_distance=1)) == ["ABC123", "ABC128", "X8C123"]
    assert texts(pattern="A8C123") == ["ABC123"]  # B/8 fold: an OCR slip is no edit
    assert sorted(texts(pattern="A8C123", max_distance=1)) == ["ABC123", "ABC128", "X8C123"]
    assert texts(pattern="*C123", allowed={"cam-2"}) == ["X8C123"]  # caller's cameras
    assert texts(pattern="*C123", cameras=["cam-1"], allowed={"cam-2"}) == []
    assert texts(pattern="ABC12?", since=w.clock() - timedelta(minutes=5)) == ["ABC123"]
    with pytest.raises(PermissionDeniedError):
        search.search(SUPERVISOR, pattern="ABC123", reason="r")
    with pytest.raises(PermissionDeniedError):
        search.search(AUDITOR, pattern="ABC123", reason="r")
    for bad in ({"reason": ""}, {"pattern": "*"}, {"max_distance": 3}, {"pattern": "AB%"}):
        with pytest.raises(ValidationError):
            search.search(INVESTIGATOR, **{"pattern": "ABC", "reason": "r", **bad})  # type: ignore[arg-type]
    runs = [e for e in iter_entries(w.repo) if e.action == AuditAction.SEARCH.value]
    assert len(runs) == 10 and all(("kind", "plate") in e.details for e in runs)
    assert ("cameras", "cam-2") in runs[7].details


def test_hong_kong_checker_folds_i_o_q(w: World) -> None:
    store = PlateStore(w.repo.db)
    lists = HotlistService(store, w.audit, clock=w.clock)
    check = PlateHitChecker(w.repo, store, w.audit, HK, refresh_s=0, clock=w.clock)
    hl = lists.create(SUPERVISOR, name="hk", priority=50, reason="r", retention_days=30)
    lists.add_entry(SUPERVISOR, hl.id, "AB1O23", "typed with a letter O")
    assert check(PlateRead("cam-1", w.clock(), "AB1023", 0.9, "hk", (0, 0, 1, 1), 1)) is not None
