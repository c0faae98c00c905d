"""``/cases``: open a case, link an alert and a plate read to it (legal hold), read it back;
roles, unknown records, bad input, and the audit entries - through the real app and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.api_env import Env, add_alert
from vigil.core.domain import Role
from vigil.core.records import PlateRead
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.purge import RetentionPolicy
from vigil.storage.plates import PlateStore
from vigil.storage.repository import plate_key


def stored_read_id(env: Env, text: str, days_ago: float) -> str:
    at = datetime.now(UTC) - timedelta(days=days_ago)
    read = PlateRead("cam-1", at, text, 0.9, "us", (0, 0, 10, 5), 1)
    env.repo.add_plate_reads([read])
    assert PlateStore(env.repo.db).has_read(plate_key(read))
    return plate_key(read)


def test_a_case_holds_its_records_past_retention(env: Env) -> None:
    inv = env.client(Role.INVESTIGATOR)
    r = inv.post("/api/v1/cases", json={"title": "burglary, 4 Elm St", "reason": "new case"})
    assert r.status_code == 201, r.text
    case_id = r.json()["id"]
    alert = add_alert(env.repo, env.svc.media)  # type: ignore[arg-type]
    held_read = stored_read_id(env, "KEEP11", days_ago=30)
    stored_read_id(env, "DROP22", days_ago=30)
    for kind, target in (("alert", alert.id), ("plate_read", held_read)):
        r = inv.post(
            f"/api/v1/cases/{case_id}/links",
            json={"kind": kind, "target_id": target, "reason": "seen at the scene"},
        )
        assert r.status_code == 201, r.text
    got = inv.get(f"/api/v1/cases/{case_id}").json()
    assert got["legal_hold"] is True and got["title"] == "burglary, 4 Elm St"
    assert {(k["kind"], k["target_id"]) for k in got["links"]} == {
        ("alert", alert.id),
        ("plate_read", held_read),
    }
    counts = env.svc.purger.apply_retention(RetentionPolicy(plate_reads=timedelta(days=7)))
    assert counts["plate_reads"] == 1
    assert [r.text for r in env.repo.list_plate_reads()] == ["KEEP11"]
    actions = [(e.action, e.target) for e in iter_entries(env.repo)]
    assert (AuditAction.CASE_OPEN.value, f"case:{case_id}") in actions
    assert (AuditAction.LEGAL_HOLD.value, f"plate_read:{held_read}") in actions
    assert env.svc.audit.verify().ok


def test_roles_unknown_records_and_bad_input(env: Env) -> None:
    sup = env.client(Role.SUPERVISOR)
    case_id = sup.post("/api/v1/cases", json={"title": "t", "reason": "why"}).json()["id"]
    for role in (Role.OPERATOR, Role.AUDITOR, Role.AUTHORISING_OFFICER):
        c = env.client(role)
        assert c.post("/api/v1/cases", json={"title": "t", "reason": "r"}).status_code == 403
        # Auditors read every case (oversight); the others may not read cases at all.
        assert c.get(f"/api/v1/cases/{case_id}").status_code == (
            200 if role is Role.AUDITOR else 403
        )
    link = f"/api/v1/cases/{case_id}/links"
    body = {"kind": "plate_read", "target_id": "f" * 64, "reason": "r"}
    r = sup.post(link, json=body)  # a hold on an id that holds nothing protects nothing
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert sup.post(link, json={**body, "kind": "export"}).status_code == 422
    assert sup.post(link, json={**body, "target_id": "../etc"}).status_code == 422
    assert sup.post(link, json={**body, "extra": 1}).status_code == 422
    assert sup.post("/api/v1/cases", json={"title": "", "reason": "r"}).status_code == 422
    assert sup.get("/api/v1/cases/nope").status_code == 404
    assert sup.post("/api/v1/cases/nope/links", json=body).status_code == 404
    assert sup.get(f"/api/v1/cases/{case_id}").json()["links"] == []
