"""The case lifecycle through the real app and SQLite: outcomes, clips, searches, close, reopen,
release of holds; their audit entries; refusals of bad input, wrong roles and closed cases; and
the oversight report's case statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_env import Env, add_alert
from vigil.core.domain import Decision, Role
from vigil.core.records import AlertKind
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.report import build_oversight
from vigil.storage.cases import OUTCOMES

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _open(c: TestClient, title: str = "robbery at the station") -> str:
    r = c.post("/api/v1/cases", json={"title": title, "reason": "report 41"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _post(c: TestClient, path: str, body: dict[str, Any], code: int = 201) -> Any:
    r = c.post(f"/api/v1/cases/{path}", json=body)
    assert r.status_code == code, r.text
    return r.json()


def _actions(env: Env) -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in iter_entries(env.repo)]


def test_a_case_lives_through_outcome_close_release_and_reopen(env: Env) -> None:
    inv = env.client(Role.INVESTIGATOR)
    case = _open(inv)
    alert = add_alert(env.repo, env.svc.media, kind=AlertKind.FACE_MATCH)  # type: ignore[arg-type]
    _post(inv, f"{case}/links", {"kind": "alert", "target_id": alert.id, "reason": "at scene"})
    clip = _post(
        inv,
        f"{case}/clips",
        {
            "camera_id": "cam-1",
            "start": T0.isoformat(),
            "end": (T0 + timedelta(minutes=2)).isoformat(),
            "reason": "the robbery on camera",
        },
    )["id"]
    out = _post(
        inv,
        f"{case}/outcomes",
        {"outcome": "arrest", "reason": "arrested at home", "alert_id": alert.id},
    )["id"]
    got = inv.get(f"/api/v1/cases/{case}").json()
    assert [o["id"] for o in got["outcomes"]] == [out]
    assert got["outcomes"][0]["alert_id"] == alert.id
    assert [c["id"] for c in got["clips"]] == [clip]
    assert ("clip", clip) in {(k["kind"], k["target_id"]) for k in got["links"]}
    assert env.svc.store.alerts(alert_id=alert.id)[0].legal_hold

    _post(inv, f"{case}/close", {"reason": "charged"}, 200)
    # A closed case takes nothing new, and holds are released only once it is closed.
    link = {"kind": "alert", "target_id": alert.id, "reason": "r"}
    assert inv.post(f"/api/v1/cases/{case}/links", json=link).status_code == 409
    body = {"outcome": "charged", "reason": "r"}
    assert inv.post(f"/api/v1/cases/{case}/outcomes", json=body).status_code == 409
    assert inv.post(f"/api/v1/cases/{case}/close", json={"reason": "r"}).status_code == 409
    got = inv.get(f"/api/v1/cases/{case}").json()
    assert got["status"] == "closed" and got["closed_by"] == env.users[Role.INVESTIGATOR]

    _post(inv, f"{case}/release-holds", {"reason": "court case over"}, 200)
    assert not env.svc.store.alerts(alert_id=alert.id)[0].legal_hold
    assert inv.get(f"/api/v1/cases/{case}").json()["legal_hold"] is False
    again = inv.post(f"/api/v1/cases/{case}/release-holds", json={"reason": "r"})
    assert again.status_code == 409

    _post(inv, f"{case}/reopen", {"reason": "appeal"}, 200)
    assert env.svc.store.alerts(alert_id=alert.id)[0].legal_hold
    assert inv.get(f"/api/v1/cases/{case}").json()["status"] == "open"

    actions = _actions(env)
    for action in ("case.outcome", "case.close", "case.release_holds", "case.reopen"):
        assert (action, f"case:{case}") in actions
    assert (AuditAction.LEGAL_HOLD.value, f"clip:{clip}") in actions
    assert env.svc.audit.verify().ok


def test_release_keeps_records_another_held_case_links(env: Env) -> None:
    inv = env.client(Role.INVESTIGATOR)
    first, second = _open(inv, "one"), _open(inv, "two")
    alert = add_alert(env.repo, env.svc.media)  # type: ignore[arg-type]
    for case in (first, second):
        _post(inv, f"{case}/links", {"kind": "alert", "target_id": alert.id, "reason": "r"})
    _post(inv, f"{first}/close", {"reason": "done"}, 200)
    _post(inv, f"{first}/release-holds", {"reason": "done"}, 200)
    assert env.svc.store.alerts(alert_id=alert.id)[0].legal_hold  # the second case holds it


def test_searches_link_by_their_audit_entry(env: Env) -> None:
    inv = env.client(Role.INVESTIGATOR)
    case = _open(inv)
    entry = env.svc.audit.append(env.users[Role.INVESTIGATOR], AuditAction.SEARCH, "plates", "q")
    _post(inv, f"{case}/searches", {"seq": entry.seq, "reason": "the search that found it"})
    assert ("search", str(entry.seq)) in {(k.kind, k.target_id) for k in env.repo.case_links(case)}
    other = env.svc.audit.append("x", AuditAction.CASE_OPEN, "case:x", "not a search")
    r = inv.post(f"/api/v1/cases/{case}/searches", json={"seq": other.seq, "reason": "r"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_bad_input_roles_and_scope_are_refused(env: Env) -> None:
    inv = env.client(Role.INVESTIGATOR)
    case = _open(inv)
    alert = add_alert(env.repo, env.svc.media)  # type: ignore[arg-type]
    start, end = T0.isoformat(), (T0 + timedelta(minutes=1)).isoformat()
    clip = {"camera_id": "cam-1", "start": start, "end": end, "reason": "r"}
    bad: list[tuple[str, dict[str, Any], int]] = [
        ("outcomes", {"outcome": "cleared", "reason": "r"}, 422),  # not an outcome
        ("outcomes", {"outcome": "arrest", "reason": ""}, 422),
        ("outcomes", {"outcome": "arrest", "reason": "r", "alert_id": alert.id}, 422),  # unlinked
        ("outcomes", {"outcome": "arrest", "reason": "r", "extra": 1}, 422),
        ("clips", {**clip, "end": start}, 422),
        ("clips", {**clip, "end": (T0 + timedelta(hours=3)).isoformat()}, 422),
        ("clips", {**clip, "start": "2026-12-01T09:00:00"}, 422),  # no time zone
        ("clips", {**clip, "camera_id": "nope"}, 404),
        ("clips", {**clip, "camera_id": "../x"}, 422),
        ("searches", {"seq": -1, "reason": "r"}, 422),
        ("searches", {"seq": 10**6, "reason": "r"}, 404),
        ("close", {}, 422),
        ("reopen", {"reason": "not closed"}, 409),
        ("release-holds", {"reason": "still open"}, 409),
        ("exports", {"redact": False}, 422),  # unredacted without a reason
    ]
    for path, body, code in bad:
        r = inv.post(f"/api/v1/cases/{case}/{path}", json=body)
        assert r.status_code == code, (path, body, r.text)
        assert "error" in r.json()
    for role in (Role.OPERATOR, Role.AUDITOR, Role.AUTHORISING_OFFICER, Role.ADMIN):
        r = env.client(role).post(f"/api/v1/cases/{case}/close", json={"reason": "r"})
        assert r.status_code == 403, role
    # A supervisor the case was not shared with sees no such case.
    r = env.client(Role.SUPERVISOR).post(f"/api/v1/cases/{case}/close", json={"reason": "r"})
    assert r.status_code == 404
    assert env.repo.get_case(case).status == "open"
    assert (AuditAction.ACCESS_REFUSED.value, f"case:{case}") in _actions(env)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=40))
def test_only_known_outcomes_are_stored(env: Env, outcome: str) -> None:
    sup = Actor.of(env.users[Role.SUPERVISOR], Role.SUPERVISOR)
    case = env.svc.purger.open_case(sup, "t", "r")
    before = len(env.svc.cases.store.outcomes(case.id))
    try:
        env.svc.cases.record_outcome(sup, case.id, outcome, "why")
    except Exception as exc:  # only a ValidationError may refuse it, and only for unknown ones
        assert outcome not in OUTCOMES and type(exc).__name__ == "ValidationError"
        assert len(env.svc.cases.store.outcomes(case.id)) == before
    else:
        assert outcome in OUTCOMES
        assert len(env.svc.cases.store.outcomes(case.id)) == before + 1


def test_the_oversight_report_counts_alerts_by_what_they_led_to(env: Env) -> None:
    inv = env.client(Role.INVESTIGATOR)
    op = Actor.of(env.users[Role.OPERATOR], Role.OPERATOR)
    sup = Actor.of(env.users[Role.SUPERVISOR], Role.SUPERVISOR)
    case = _open(inv)
    alerts = [
        add_alert(env.repo, env.svc.media, kind=AlertKind.FACE_MATCH)  # type: ignore[arg-type]
        for _ in range(4)
    ]
    for a in alerts:
        env.svc.audit.append(
            "system",
            AuditAction.ALERT_RAISE,
            f"alert:{a.id}",
            "match",
            [
                ("kind", "face_match"),
                ("deployment", a.deployment_id or ""),
                ("watchlist", "wl"),
                ("false_alert_rate", "0.001"),
            ],
        )
    for a in alerts[:3]:  # three confirmed by two people, one rejected
        env.svc.verification.decide(op, a.id, Decision.CONFIRM, "same person")
        env.svc.verification.decide(sup, a.id, Decision.CONFIRM, "agreed")
    env.svc.verification.decide(op, alerts[3].id, Decision.REJECT, "not him")
    for a, outcome in zip(alerts[:3], ("arrest", "false_match", "arrest"), strict=True):
        _post(inv, f"{case}/links", {"kind": "alert", "target_id": a.id, "reason": "r"})
        _post(inv, f"{case}/outcomes", {"outcome": outcome, "reason": "r", "alert_id": a.id})
    _post(inv, f"{case}/outcomes", {"outcome": "charged", "reason": "the case as a whole"})
    now = datetime.now(UTC)
    doc = build_oversight(env.repo, now - timedelta(hours=1), now + timedelta(hours=1))
    stats = doc["cases"]
    assert stats["alerts_raised"] == 4
    assert stats["alerts_confirmed"] == 3 and stats["alerts_rejected"] == 1
    assert stats["alerts_with_outcome"] == 3
    assert stats["alert_outcomes"] == {"arrest": 2, "false_match": 1}
    assert stats["case_outcomes"] == {"arrest": 2, "charged": 1, "false_match": 1}
    # Reviewers saw 2 false matches (1 rejected, 1 confirmed but a false match) of 4 alerts.
    assert stats["reviewer_false_match_rate"] == 0.5
    assert stats["mean_calibrated_false_alert_rate"] == 0.001
    assert stats["cases_opened"] == 1 and stats["cases_closed"] == 0


def test_camera_scope_limits_clips_and_refuses_a_partial_export(env: Env) -> None:
    sup = env.client(Role.SUPERVISOR)
    case = _open(sup)
    alert = add_alert(env.repo, env.svc.media, camera="cam-1")  # type: ignore[arg-type]
    _post(sup, f"{case}/links", {"kind": "alert", "target_id": alert.id, "reason": "r"})
    inv_id = env.users[Role.INVESTIGATOR]
    _post(sup, f"{case}/shares", {"user_id": inv_id, "reason": "joint work"})
    env.svc.accounts.assign_cameras(inv_id, ["cam-2"], by=env.users[Role.ADMIN], reason="district")
    inv = env.client(Role.INVESTIGATOR)
    start = T0.isoformat()
    clip = {"camera_id": "cam-1", "start": start, "end": (T0 + timedelta(minutes=1)).isoformat()}
    r = inv.post(f"/api/v1/cases/{case}/clips", json={**clip, "reason": "r"})
    assert r.status_code == 404  # a camera outside the caller's reads as missing
    r = inv.post(f"/api/v1/cases/{case}/exports", json={"redact": False, "reason": "court"})
    assert r.status_code == 403 and "outside your cameras" in r.json()["error"]["message"]
    assert not [k for k in env.repo.case_links(case) if k.kind in ("clip", "export")]
