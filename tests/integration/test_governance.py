"""Deployments, the matcher's guard, two-person verification, purge, retention and the audit
chain, on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from tests.support.governance_world import (
    AUDITOR,
    INVESTIGATOR,
    OFFICER,
    OPERATOR,
    OPERATOR2,
    SUPERVISOR,
    SUPERVISOR2,
    World,
    fake_alert,
    make_world,
    post_event,
    request,
    seed_watchlist,
    unit,
)
from vigil.core.domain import CaseRow, Decision, DeploymentState, SubjectRow, TemplateRow
from vigil.core.records import AlertStatus, ObjectClass, Sighting
from vigil.errors import ConflictError, PermissionDeniedError, PolicyViolationError
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.deployments import DeploymentRequest, DeploymentService, Purpose
from vigil.governance.purge import RetentionPolicy
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.matcher import WatchlistMatcher
from vigil.storage import Repository
from vigil.storage import schema as t
from vigil.storage.governance import GovernanceStore
from vigil.system.identification import DeploymentAuthority

CURVE = FalseAlertModel.from_counts(
    np.linspace(-1, 1, 21), np.round(np.geomspace(1.0, 1e-6, 21) * 1e7), 10_000_000
)


@pytest.fixture
def w(repo: Repository, tmp_path: Path) -> World:
    return make_world(repo, tmp_path)


def actions(w: World) -> list[str]:
    return [e.action for e in iter_entries(w.repo)]


def test_request_roles_and_separation_of_duties(w: World) -> None:
    wl = seed_watchlist(w, unit(3))
    with pytest.raises(PermissionDeniedError):
        w.deployments.request(
            OPERATOR,
            DeploymentRequest(
                Purpose.IMMINENT_THREAT,
                "ref",
                w.clock(),
                w.clock() + timedelta(hours=1),
                (wl,),
                ("cam-1",),
                reason="r",
            ),
        )
    dep = request(w, wl)
    assert w.deployments.activate("cam-1") == []  # requested is not active
    with pytest.raises(PermissionDeniedError):
        w.deployments.approve(SUPERVISOR2, dep, "looks fine")  # not an authorising officer
    both = dataclasses.replace(OFFICER, id=SUPERVISOR.id)
    with pytest.raises(PolicyViolationError):
        w.deployments.approve(both, dep, "self-approval")  # requester may not authorise
    w.deployments.approve(OFFICER, dep, "necessary and proportionate")
    row = w.repo.get_deployment(dep)
    assert row.state is DeploymentState.APPROVED and row.authorised_by == OFFICER.id
    assert row.watchlists == ((wl, w.repo.get_watchlist(wl).version_hash),)
    assert [h.id for h in w.deployments.activate("cam-1")] == [dep]
    assert w.deployments.activate("cam-2") == []  # camera not covered
    with pytest.raises(ConflictError):
        w.deployments.approve(OFFICER, dep, "again")
    assert actions(w) == ["deployment.request", "deployment.approve"]


def test_expiry_stops_matching_even_in_a_matcher_built_earlier(w: World) -> None:
    vecs = unit(4)
    wl = seed_watchlist(w, vecs)
    dep = request(w, wl, hours=2)
    w.deployments.approve(OFFICER, dep, "ok")
    (handle,) = w.deployments.activate("cam-1")
    matcher = WatchlistMatcher.for_deployment(handle, w.repo, CURVE, threshold=0.5)
    d = matcher.match(vecs[2], "cam-1", w.clock())
    assert d.is_match and d.score == pytest.approx(1.0) and d.gallery_size == 4
    assert d.candidate is not None and d.candidate.entry.subject_id.endswith("-s2")
    assert 0 < d.false_alert_rate < 1e-3 and d.rank2_margin is not None
    with pytest.raises(PolicyViolationError):
        matcher.match(vecs[2], "cam-2", w.clock())  # not a covered camera
    w.clock.advance(hours=2)
    with pytest.raises(PolicyViolationError):
        matcher.match(vecs[2], "cam-1", w.clock())  # window over
    assert w.deployments.activate("cam-1") == []
    assert handle.stopped  # tick expired it and stopped every handle
    assert w.repo.get_deployment(dep).state is DeploymentState.EXPIRED
    assert "deployment.expire" in actions(w)


def test_handles_issued_every_refresh_are_not_kept_and_held_ones_still_stop(w: World) -> None:
    """Every camera refresh activates again (a new handle each time): on a 24/7 system the
    service must not keep every handle it ever issued, only stop those still in use."""
    dep = request(w, seed_watchlist(w, unit(2)), hours=2)
    w.deployments.approve(OFFICER, dep, "ok")
    (held,) = w.deployments.activate("cam-1")
    for _ in range(1000):  # a refresh whose snapshot was replaced: nothing holds the handle
        w.deployments.activate("cam-1")
    assert len(w.deployments._issued[dep]) <= 2
    w.deployments.revoke(OFFICER, dep, "no longer necessary")
    assert held.stopped


def test_a_node_drops_a_gallery_revoked_or_expired_in_another_process(w: World) -> None:
    """A camera node has its own DeploymentService: a revocation made by the head stops none of
    its handles, so its refresh is what must notice, and then let the gallery go."""
    node = DeploymentService(w.repo, w.media, w.audit, clock=w.clock)
    authority = DeploymentAuthority(node, w.repo, CURVE, 0.5, refresh_s=0.0, clock=w.clock)
    wl = seed_watchlist(w, unit(4))
    dep = request(w, wl, hours=2)
    w.deployments.approve(OFFICER, dep, "ok")
    assert [m.deployment.id for m in authority.for_camera("cam-1").matchers] == [dep]
    assert authority.for_camera("cam-2").matchers == ()  # not covered: no gallery for it
    assert authority.galleries_loaded == 1
    w.deployments.revoke(OFFICER, dep, "no longer necessary")  # the head's service
    assert authority.for_camera("cam-1").matchers == () and authority.galleries_loaded == 0

    ending = request(w, wl, hours=1)
    w.deployments.approve(OFFICER, ending, "ok")
    assert authority.for_camera("cam-1").matchers and authority.galleries_loaded == 1
    w.clock.advance(hours=1)
    assert authority.for_camera("cam-1").matchers == () and authority.galleries_loaded == 0


def test_changed_watchlist_needs_a_new_authorisation(w: World) -> None:
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "ok")
    w.repo.set_watchlist_version(wl, 2, "f" * 64)
    (handle,) = w.deployments.activate("cam-1")
    with pytest.raises(PolicyViolationError, match="changed since"):
        WatchlistMatcher.for_deployment(handle, w.repo, CURVE, threshold=0.5)


@pytest.mark.parametrize("ending", ["refused", "deadline"])
def test_urgent_deployment_refused_or_late_is_stopped_and_purged(w: World, ending: str) -> None:
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl, hours=48, urgent=True)
    row = w.repo.get_deployment(dep)
    assert row.state is DeploymentState.URGENT_PENDING
    assert row.urgent_deadline == w.clock() + timedelta(hours=24)
    (handle,) = w.deployments.activate("cam-1")  # runs at once, pending authorisation
    alerts = [fake_alert(w, dep, i) for i in range(3)]
    other = request(w, wl)
    w.deployments.approve(OFFICER, other, "ok")
    kept = fake_alert(w, other)
    assert handle.valid_until == row.urgent_deadline
    if ending == "refused":
        w.deployments.refuse(OFFICER, dep, "not proportionate")
    else:
        w.clock.advance(hours=24)
        assert w.deployments.activate("cam-1") == []
    assert handle.stopped
    assert w.repo.get_deployment(dep).state is DeploymentState.REFUSED
    store = GovernanceStore(w.repo.db)
    assert store.alerts(deployment_id=dep) == []  # every output deleted
    assert [a.id for a in store.alerts()] == [kept.id]  # other deployments untouched
    assert w.repo.count_embeddings() == 1 and w.repo.count_sightings() == 1
    assert len(list(w.media.keys())) == 1
    assert all(w.repo.list_verifications(a.id) == [] for a in alerts)
    assert "deployment.purge" in actions(w)


def test_two_person_verification(w: World) -> None:
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "ok")
    a = fake_alert(w, dep)
    v = w.verification
    with pytest.raises(ValueError):
        v.decide(OPERATOR, a.id, Decision.CONFIRM, "  ")
    with pytest.raises(PermissionDeniedError):
        v.decide(AUDITOR, a.id, Decision.CONFIRM, "looks like him")
    assert v.decide(OPERATOR, a.id, Decision.CONFIRM, "same scar") is AlertStatus.ONE_CONFIRMED
    with pytest.raises(ConflictError):
        v.decide(OPERATOR, a.id, Decision.CONFIRM, "really sure")  # same person twice
    with pytest.raises(PermissionDeniedError):
        v.decide(OPERATOR2, a.id, Decision.CONFIRM, "agree")  # second must be a supervisor
    w.clock.advance(minutes=2)
    assert v.decide(SUPERVISOR, a.id, Decision.CONFIRM, "agree") is AlertStatus.ACTIONABLE
    with pytest.raises(ConflictError):
        v.decide(SUPERVISOR2, a.id, Decision.REJECT, "late")
    decisions = w.repo.list_verifications(a.id)
    assert [(d.user_id, d.decision) for d in decisions] == [
        (OPERATOR.id, Decision.CONFIRM),
        (SUPERVISOR.id, Decision.CONFIRM),
    ]
    assert decisions[1].decided_at - decisions[0].decided_at == timedelta(minutes=2)
    b = fake_alert(w, dep, 1)
    v.decide(OPERATOR, b.id, Decision.CONFIRM, "maybe")
    assert v.decide(SUPERVISOR, b.id, Decision.REJECT, "different ears") is AlertStatus.REJECTED
    c = fake_alert(w, dep, 2)
    assert v.decide(OPERATOR2, c.id, Decision.REJECT, "not him") is AlertStatus.REJECTED
    with pytest.raises(PermissionDeniedError):
        v.view_biometric(AUDITOR, a.id, "probe", "audit")
    v.view_biometric(SUPERVISOR, a.id, "probe", "to decide")
    log = actions(w)
    assert log.count("alert.confirm") == 3 and log.count("alert.reject") == 2
    assert log.count("alert.actionable") == 1 and log.count("media.view_biometric") == 1


def test_purge_leaves_no_non_match_biometrics_unless_post_event_authorised(w: World) -> None:
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "ok")
    alerted = fake_alert(w, dep)
    # An approved post-event search authorisation for cam-2 over the next hour.
    post = post_event(w, ("cam-2",))
    w.deployments.approve(OFFICER, post, "ok")
    stray, vector_of = [], {}
    for i, cam in enumerate(["cam-1", "cam-1", "cam-2", "cam-3"]):
        key = w.media.put(f"crop{i}".encode())
        s = Sighting(
            f"s{i}", cam, ObjectClass.FACE, w.clock(), w.clock() + timedelta(seconds=5), 0.7, key
        )
        w.repo.add_sightings([s])
        vec = unit(1, seed=i)
        (vector_of[s.id],) = w.repo.add_embeddings("test", [(s.id, vec[0])], at=w.clock())
        w.archive.add(np.array([vector_of[s.id]]), vec)  # as the live identifier archives them
        stray.append(s)
    w.clock.advance(seconds=10)
    result = w.purger.purge_unmatched()
    assert result.sightings == 3 and result.vectors == 3 and result.media == 3
    store = GovernanceStore(w.repo.db)
    assert store.unmatched_biometric_sightings(ended_before=w.clock() + timedelta(days=1)) == [
        ("s2", "cam-2", stray[2].started_at, stray[2].ended_at)  # covered by post-event search
    ]
    # Scan the stores: every remaining biometric row belongs to an alert or the covered sighting.
    kept_sightings = {alerted_sighting(w, alerted.id), "s2"}
    with w.repo.db.read() as c:
        vec_owners = {
            r[0]
            for r in c.execute(
                t.sighting_embeddings.select().with_only_columns(
                    t.sighting_embeddings.c.sighting_id
                )
            )
        }
        crop_owners = {r.id for r in c.execute(t.sightings.select()) if r.crop_key}
    assert vec_owners == kept_sightings and crop_owners == kept_sightings
    assert all(store.media_referenced(k) for k in list(w.media.keys()))
    # ... and the archive index: only the covered sighting's template is searchable, and the
    # purged rows of vectors.f32 are zeros (fails if the purger's archive hook is unwired).
    probes = np.vstack([unit(1, seed=i) for i in range(4)])
    found = w.archive.search(probes, k=4).ids
    assert {int(v) for v in found.ravel() if v >= 0} == {vector_of["s2"]} and len(w.archive) == 1
    raw = np.fromfile(w.archive.dir / "vectors.f32", dtype="<f4").reshape(-1, 32)
    for sid, vid in vector_of.items():
        assert raw[vid].any() == (sid == "s2"), sid
    assert "purge.sightings" in actions(w)


def alerted_sighting(w: World, alert_id: str) -> str:
    (a,) = GovernanceStore(w.repo.db).alerts(alert_id=alert_id)
    assert a.sighting_id is not None
    return a.sighting_id


def test_retention_deletes_old_records_but_keeps_legal_hold(w: World) -> None:
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl, hours=24 * 30)
    w.deployments.approve(OFFICER, dep, "ok")
    old, held = fake_alert(w, dep, 0), fake_alert(w, dep, 1)
    w.repo.add_case(CaseRow("case-1", "robbery", INVESTIGATOR.id, w.clock()))
    w.purger.hold(INVESTIGATOR, "case-1", "alert", held.id, "evidence")
    w.purger.hold(INVESTIGATOR, "case-1", "sighting", alerted_sighting(w, held.id), "evidence")
    w.clock.advance(days=40)
    fresh = fake_alert(w, dep, 2)
    counts = w.purger.apply_retention(RetentionPolicy())
    assert counts["alerts"] == 1
    remaining = {a.id for a in GovernanceStore(w.repo.db).alerts()}
    assert remaining == {held.id, fresh.id} and old.id not in remaining
    assert w.repo.count_sightings() == 2 and w.repo.count_embeddings() == 2
    assert "retention.run" in actions(w) and "case.legal_hold" in actions(w)


def test_audit_chain_in_the_database_detects_an_edited_row(w: World) -> None:
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "ok")
    w.deployments.revoke(OFFICER, dep, "operation over")
    report = w.audit.verify()
    assert report.ok and report.checked == 3
    with w.repo.db.writer.begin() as c:
        c.execute(
            update(t.audit_entries).where(t.audit_entries.c.seq == 1).values(reason="rubber stamp")
        )
    report = w.audit.verify()
    assert not report.ok and report.broken_seq == 1 and "edited" in report.problem
    assert AuditAction.DEPLOYMENT_REVOKE.value in actions(w)


def test_subject_rows_are_not_templates() -> None:
    # Guard for the seed helper: subjects and templates stay separate typed rows.
    assert {f.name for f in dataclasses.fields(TemplateRow)} >= {"vector", "provenance"}
    assert "vector" not in SubjectRow.__slots__
