"""Per-person camera assignments: an operator assigned to one district sees only its cameras.

Covers the account layer, the admin route that changes an assignment (audited, with a reason),
every read that is filtered by camera (cameras, camera status, alerts, one alert, sightings) and
the intersection with an API key's camera scopes.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.api_env import PASSWORD, Env, add_alert
from vigil.core.domain import Role, UserRow
from vigil.governance.accounts import Principal
from vigil.governance.audit import iter_entries


def operator_on(env: Env, cameras: list[str] | None, role: str = "operator") -> dict[str, str]:
    admin = env.client(Role.ADMIN)
    resp = admin.post(
        "/api/v1/users",
        json={
            "username": "district-op",
            "password": PASSWORD,
            "roles": [role],
            "cameras": cameras,
        },
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["cameras"] == cameras
    user = env.repo.get_user(resp.json()["id"])
    token = env.svc.accounts.start_session(user)[0]
    return {"Authorization": f"Bearer {token}", "X-User-Id": user.id}


def test_an_assigned_supervisor_sees_only_its_cameras(env: Env) -> None:
    media = env.svc.media
    a1 = add_alert(env.repo, media, "cam-1")  # type: ignore[arg-type]
    a2 = add_alert(env.repo, media, "cam-2")  # type: ignore[arg-type]
    headers = operator_on(env, ["cam-2"], role="supervisor")
    c = env.client()
    assert [x["id"] for x in c.get("/api/v1/cameras", headers=headers).json()] == ["cam-2"]
    assert c.get("/api/v1/cameras/cam-1", headers=headers).status_code == 404
    alerts = c.get("/api/v1/alerts", headers=headers).json()
    assert [a["id"] for a in alerts["items"]] == [a2.id]
    assert c.get(f"/api/v1/alerts/{a1.id}", headers=headers).status_code == 404
    assert c.get(f"/api/v1/alerts/{a2.id}", headers=headers).status_code == 200
    cams = {s["camera_id"] for s in c.get("/api/v1/sightings", headers=headers).json()["items"]}
    assert cams == {"cam-2"}
    # The unassigned supervisor of the test environment still sees both.
    both = env.client(Role.SUPERVISOR).get("/api/v1/alerts").json()["items"]
    assert {a["id"] for a in both} >= {a1.id, a2.id}


def test_admin_changes_an_assignment_with_a_reason_and_it_is_audited(env: Env) -> None:
    headers = operator_on(env, ["cam-1"])
    uid = headers.pop("X-User-Id")
    admin = env.client(Role.ADMIN)
    url = f"/api/v1/users/{uid}/cameras"
    resp = admin.put(url, json={"cameras": ["cam-2"], "reason": "moved to the north district"})
    assert resp.status_code == 200 and resp.json()["cameras"] == ["cam-2"]
    seen = [x["id"] for x in env.client().get("/api/v1/cameras", headers=headers).json()]
    assert seen == ["cam-2"]  # takes effect on the next request, same session
    resp = admin.put(url, json={"cameras": None, "reason": "city-wide duty"})
    assert resp.status_code == 200 and resp.json()["cameras"] is None
    assert len(env.client().get("/api/v1/cameras", headers=headers).json()) == 2
    entries = [e for e in iter_entries(env.repo) if e.action == "user.cameras"]
    assert [e.reason for e in entries] == ["moved to the north district", "city-wide duty"]
    assert [dict(e.details)["cameras"] for e in entries] == ["cam-2", "*"]
    assert env.svc.audit.verify().ok


def test_bad_assignments_are_refused_in_the_envelope(env: Env) -> None:
    headers = operator_on(env, ["cam-1"])
    uid = headers.pop("X-User-Id")
    admin = env.client(Role.ADMIN)
    url = f"/api/v1/users/{uid}/cameras"
    for body, status in [
        ({"cameras": ["no-such-cam"], "reason": "typo"}, 422),
        ({"cameras": ["../etc"], "reason": "traversal"}, 422),
        ({"cameras": ["cam-1"]}, 422),  # no reason
        ({"cameras": ["cam-1"], "reason": "x", "extra": 1}, 422),
    ]:
        resp = admin.put(url, json=body)
        assert resp.status_code == status, (body, resp.text)
        assert "error" in resp.json()
    assert (
        admin.put("/api/v1/users/nobody/cameras", json={"cameras": None, "reason": "r"}).status_code
        == 404
    )
    # Only an admin may change who sees what (and the refusal is in the envelope).
    sup = env.client(Role.SUPERVISOR)
    resp = sup.put(url, json={"cameras": None, "reason": "let me see everything"})
    assert resp.status_code == 403 and "error" in resp.json()
    assert env.repo.get_user(uid).cameras == ("cam-1",)


def test_an_empty_assignment_sees_no_camera(env: Env) -> None:
    add_alert(env.repo, env.svc.media, "cam-1")  # type: ignore[arg-type]
    headers = operator_on(env, [])
    headers.pop("X-User-Id")
    c = env.client()
    assert c.get("/api/v1/cameras", headers=headers).json() == []
    assert c.get("/api/v1/alerts", headers=headers).json()["items"] == []


cams = st.none() | st.frozensets(st.sampled_from(["a", "b", "c", "d"]), max_size=4)


@given(assigned=cams, scoped=cams)
@settings(max_examples=60, deadline=None)
def test_principal_sees_the_intersection_of_assignment_and_key_scopes(
    assigned: frozenset[str] | None, scoped: frozenset[str] | None
) -> None:
    from datetime import UTC, datetime

    user = UserRow(
        "u",
        "u",
        "hash",
        datetime.now(UTC),
        (Role.OPERATOR,),
        cameras=None if assigned is None else tuple(sorted(assigned)),
    )
    scopes = (
        None if scoped is None else frozenset({"alerts:read"} | {f"camera:{c}" for c in scoped})
    )
    seen = Principal(user, "api_key" if scopes else "bearer", "h", scopes).cameras
    limits = [s for s in (assigned, scoped or None) if s is not None]
    if not limits:
        assert seen is None
    else:
        expected = frozenset.intersection(*limits)
        assert seen == expected
