"""The repository on both engines (SQLite and the real PostgreSQL server), same tests for each."""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.storage import T0, make_sighting
from vigil.core.domain import (
    CameraRow,
    CaseLink,
    CaseRow,
    Decision,
    DeploymentRow,
    DeploymentState,
    Role,
    SessionRow,
    SubjectRow,
    TemplateRow,
    UserRow,
    VerificationRow,
    WatchlistRow,
)
from vigil.core.records import (
    Alert,
    AlertKind,
    AlertStatus,
    AuditEntry,
    CrowdSample,
    PlateRead,
)
from vigil.errors import ConflictError, NotFoundError
from vigil.storage import Database, Repository

H = "a" * 64
_EXAMPLE = itertools.count(1)


def test_migrated_to_head(db: Database) -> None:
    assert db.current_revision() == db.head_revision() is not None
    assert db.migrate() == db.head_revision()  # idempotent


def test_sightings_round_trip_and_idempotent(repo: Repository) -> None:
    batch = [make_sighting(i, camera="cam-1" if i % 2 else "cam-2") for i in range(50)]
    assert repo.add_sightings(batch) == 50
    assert repo.add_sightings(batch) == 0  # replay writes nothing twice
    assert repo.count_sightings() == 50
    got = repo.get_sighting(batch[3].id)
    assert got == batch[3]
    assert got.started_at.tzinfo is not None
    cam1 = repo.list_sightings(camera_id="cam-1", limit=1000)
    assert [s.id for s in cam1] == [s.id for s in batch if s.camera_id == "cam-1"]
    window = repo.list_sightings(since=T0 + timedelta(seconds=10), until=T0 + timedelta(seconds=20))
    assert [s.id for s in window] == [s.id for s in batch[10:20]]
    with pytest.raises(NotFoundError):
        repo.get_sighting("nope")


def test_embeddings_are_float32_bytes_and_purged_with_ids(repo: Repository) -> None:
    repo.add_sightings([make_sighting(i) for i in range(4)])
    vecs = np.random.default_rng(1).standard_normal((4, 512)).astype(np.float32)
    items = [(f"s-{i:08d}", vecs[i]) for i in range(4)]
    ids = repo.add_embeddings("arcface", items, at=T0)
    assert len(set(ids)) == 4
    assert repo.add_embeddings("arcface", items, at=T0) == ids  # replay returns the same ids
    stored = {e.vector_id: e for e in repo.get_embeddings(ids)}
    np.testing.assert_array_equal(stored[ids[2]].vector, vecs[2])
    assert [e.vector_id for e in repo.embeddings_after(ids[1])] == ids[2:]
    assert sorted(repo.delete_embeddings(["s-00000000", "s-00000001"])) == sorted(ids[:2])
    assert repo.count_embeddings() == 2
    assert repo.count_sightings() == 4  # the sightings stay, only the biometrics go
    assert sorted(repo.delete_sightings(["s-00000002"])) == [ids[2]]
    assert repo.count_embeddings() == 1


def test_legal_hold_keeps_sighting(repo: Repository) -> None:
    repo.add_sightings([make_sighting(1), make_sighting(2)])
    repo.set_sighting_hold("s-00000001", True)
    assert repo.expired_sighting_ids(T0 + timedelta(hours=1)) == ["s-00000002"]
    assert repo.expired_sighting_ids(T0) == []
    repo.delete_sightings(["s-00000001", "s-00000002"])
    assert [s.id for s in repo.list_sightings()] == ["s-00000001"]


def test_plate_reads_and_crowd_samples(repo: Repository) -> None:
    reads = [
        PlateRead("cam-1", T0 + timedelta(seconds=i), f"AB{i}CD", 0.9, "GB", (1, 2, 3, 4), i)
        for i in range(5)
    ]
    assert repo.add_plate_reads(reads) == 5
    assert repo.add_plate_reads(reads) == 0
    assert repo.list_plate_reads(text="AB3CD") == [reads[3]]
    samples = [CrowdSample("cam-1", T0 + timedelta(seconds=i), float(i), "boxes") for i in range(3)]
    samples.append(CrowdSample("cam-1", T0, 7.0, "density", zone="north"))
    assert repo.add_crowd_samples(samples) == 4
    assert repo.add_crowd_samples(samples) == 0
    assert len(repo.list_crowd_samples("cam-1")) == 4
    assert repo.list_crowd_samples("cam-1", since=T0 + timedelta(seconds=2)) == [samples[2]]


def _governance(repo: Repository) -> DeploymentRow:
    repo.add_user(UserRow("u1", "olive", "h1", T0, roles=(Role.OPERATOR,)))
    repo.add_user(UserRow("u2", "sam", "h2", T0, roles=(Role.SUPERVISOR, Role.INVESTIGATOR)))
    repo.add_watchlist(WatchlistRow("w1", "wanted", "wanted_by_court", "u2", T0, version_hash=H))
    repo.add_subject(SubjectRow("p1", "w1", "subject 1", "u2", T0, reason="warrant 12"))
    dep = DeploymentRow(
        id="d1",
        purpose="serious_crime_suspect",
        legal_reference="warrant 12",
        starts_at=T0,
        ends_at=T0 + timedelta(hours=8),
        state=DeploymentState.REQUESTED,
        requested_by="u1",
        created_at=T0,
        camera_ids=("cam-1", "cam-2"),
        watchlists=(("w1", H),),
    )
    repo.add_deployment(dep)
    return dep


def test_governance_records_round_trip(repo: Repository) -> None:
    dep = _governance(repo)
    assert repo.get_deployment("d1") == dep
    assert repo.list_deployments(active_at=T0 + timedelta(hours=1)) == []
    repo.set_deployment_state("d1", DeploymentState.APPROVED, at=T0, authorised_by="u2")
    active = repo.list_deployments(active_at=T0 + timedelta(hours=1))
    assert [d.id for d in active] == ["d1"] and active[0].authorised_by == "u2"
    assert repo.list_deployments(active_at=T0 + timedelta(hours=9)) == []
    vec = np.full(512, 1 / np.sqrt(512), np.float32)
    tpl = TemplateRow("t1", "p1", "arcface", vec, "photo 2024-01 by officer 7", 0.8, "u2", T0)
    assert repo.add_templates([tpl]) == 1
    (got,) = repo.templates_for_watchlist("w1")
    np.testing.assert_array_equal(got.vector, vec)
    assert got.provenance == tpl.provenance
    repo.delete_subject("p1")
    assert repo.templates_for_watchlist("w1") == []
    assert repo.get_user(username="sam").roles == (Role.SUPERVISOR, Role.INVESTIGATOR)
    with pytest.raises(ConflictError):
        repo.add_user(UserRow("u9", "sam", "h", T0))
    repo.upsert_camera(CameraRow("cam-1", "Gate", "rtsp://u:p@h/s", T0, zone="north"))
    repo.upsert_camera(CameraRow("cam-1", "Gate A", "rtsp://u:p@h/s", T0, zone="north"))
    assert [c.name for c in repo.list_cameras()] == ["Gate A"]
    assert "rtsp" not in repr(repo.get_camera("cam-1"))


def test_sessions_expire_and_revoke(repo: Repository) -> None:
    repo.add_user(UserRow("u1", "olive", "h1", T0))
    repo.add_session(SessionRow(H, "u1", T0, T0 + timedelta(hours=1), scopes=("read",)))
    s = repo.get_session(H)
    assert s.active_at(T0) and not s.active_at(T0 + timedelta(hours=2)) and s.scopes == ("read",)
    repo.revoke_session(H, T0 + timedelta(minutes=1))
    assert not repo.get_session(H).active_at(T0 + timedelta(minutes=2))


def test_alerts_verifications_and_cases(repo: Repository) -> None:
    _governance(repo)
    repo.add_sightings([make_sighting(1)])
    alert = Alert(
        "a1", AlertKind.FACE_MATCH, "cam-1", T0, 0.71, deployment_id="d1", subject_id="p1",
        false_alert_rate=0.001, rank2_margin=0.2,
    )  # fmt: skip
    assert repo.add_alert(alert, sighting_id="s-00000001")
    assert not repo.add_alert(alert)
    assert repo.get_alert("a1") == alert
    v1 = VerificationRow("a1", "u1", Decision.CONFIRM, "same scar", T0)
    repo.add_verification(v1)
    repo.add_verification(v1)  # exact replay is fine
    with pytest.raises(ConflictError):
        repo.add_verification(VerificationRow("a1", "u1", Decision.REJECT, "changed mind", T0))
    repo.add_verification(VerificationRow("a1", "u2", Decision.CONFIRM, "agree", T0))
    assert [v.user_id for v in repo.list_verifications("a1")] == ["u1", "u2"]
    repo.transition_alert("a1", AlertStatus.PENDING, AlertStatus.ACTIONABLE)
    repo.transition_alert("a1", AlertStatus.PENDING, AlertStatus.ACTIONABLE)  # replay
    with pytest.raises(ConflictError):
        repo.transition_alert("a1", AlertStatus.PENDING, AlertStatus.REJECTED)
    assert repo.list_alerts(status=AlertStatus.ACTIONABLE)[0].id == "a1"
    repo.add_case(CaseRow("c1", "robbery 7", "u2", T0))
    repo.link_case(CaseLink("c1", "sighting", "s-00000001", "u2", T0))
    assert [link.target_id for link in repo.case_links("c1")] == ["s-00000001"]
    assert repo.delete_sightings(["s-00000001"]) == []
    assert repo.count_sightings() == 1  # held by the case


def test_camera_limited_listings_cases_shared_and_a_reads_camera(repo: Repository) -> None:
    """What camera scope and case visibility ask of the storage, on both engines."""
    repo.add_sightings([make_sighting(i, camera=f"cam-{i % 3}") for i in range(9)])
    mine = repo.list_sightings(cameras={"cam-1", "cam-2"}, limit=4, offset=2)
    assert [s.id for s in mine] == ["s-00000004", "s-00000005", "s-00000007", "s-00000008"]
    assert repo.list_sightings(cameras=set()) == []
    for i in range(6):
        repo.add_alert(Alert(f"a{i}", AlertKind.PLATE_HIT, f"cam-{i % 2}", T0, 0.9))
    assert {a.camera_id for a in repo.list_alerts(cameras=["cam-1"])} == {"cam-1"}
    assert len(repo.list_alerts(cameras=["cam-1"], limit=2, offset=2)) == 1
    repo.add_case(CaseRow("c1", "robbery 7", "u1", T0))
    repo.add_case(CaseRow("c2", "theft 2", "u2", T0 + timedelta(hours=1)))
    repo.share_case("c1", "u3", "u1", T0)
    repo.share_case("c1", "u3", "u1", T0 + timedelta(hours=2))  # twice: one share
    repo.share_case("c2", "u3", "u2", T0)
    assert repo.case_sharers("c1") == ["u3"] and repo.case_sharers("c2") == ["u3"]
    assert [c.id for c in repo.list_cases(visible_to="u1")] == ["c1"]
    assert [c.id for c in repo.list_cases(visible_to="u3")] == ["c2", "c1"]
    assert repo.list_cases(visible_to="u9") == []
    assert [c.id for c in repo.list_cases(visible_to=None)] == ["c2", "c1"]
    from vigil.storage.plates import PlateStore
    from vigil.storage.repository import plate_key

    read = PlateRead("cam-2", T0, "AB123", 0.9, "us", (0, 0, 10, 5), 1)
    repo.add_plate_reads([read])
    plates = PlateStore(repo.db)
    assert plates.read_camera(plate_key(read)) == "cam-2"
    assert plates.read_camera("f" * 64) is None


def _entry(seq: int, prev: str, digest: str) -> AuditEntry:
    return AuditEntry(seq, T0, "u1", "alert.confirm", "a1", "ok", prev, digest, (("k", "v"),))


def test_audit_append_is_idempotent_and_ordered(repo: Repository) -> None:
    e0 = _entry(0, "0" * 64, "1" * 64)
    e1 = _entry(1, "1" * 64, "2" * 64)
    assert repo.append_audit(e0) and repo.append_audit(e1)
    assert not repo.append_audit(e1)
    with pytest.raises(ConflictError):
        repo.append_audit(_entry(1, "1" * 64, "3" * 64))
    assert repo.audit_entries() == [e0, e1]
    assert repo.last_audit() == e1


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.lists(st.integers(0, 40), max_size=15), min_size=1, max_size=6),
)
def test_replayed_batches_store_each_record_once(
    repo: Repository, batches: list[list[int]]
) -> None:
    """Any sequence of overlapping batches (replays) leaves exactly the union, each row once."""
    base = repo.count_sightings()
    offset = 1000 * next(_EXAMPLE)  # hypothesis reuses the fixture: keep ids disjoint
    new = 0
    for batch in batches:
        new += repo.add_sightings([make_sighting(offset + i) for i in batch])
    union = {offset + i for b in batches for i in b}
    assert new == len(union)
    assert repo.count_sightings() - base == len(union)
