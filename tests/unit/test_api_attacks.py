"""Attacks on the API: each a clear 4xx in the one envelope, nothing stored, refusals audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api_env import SECRET_URL, Env, add_alert, jpeg
from vigil.core.domain import DeploymentRow, DeploymentState, Role
from vigil.core.records import AlertKind


def _envelope(r: object, status: int) -> dict[str, object]:
    assert r.status_code == status, (r.status_code, r.text)  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    assert "Traceback" not in r.text and 'File "' not in r.text  # type: ignore[attr-defined]
    return body["error"]  # type: ignore[no-any-return]


def _watchlist(env: Env) -> str:
    c = env.client(Role.INVESTIGATOR)
    r = c.post(
        "/api/v1/watchlists",
        json={
            "name": "missing",
            "category": "missing_or_vulnerable",
            "reason": "report MP-1",
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_malformed_json_wrong_types_and_unknown_fields(env: Env) -> None:
    c = env.client(Role.INVESTIGATOR)
    h = {"Content-Type": "application/json"}
    _envelope(c.post("/api/v1/watchlists", content=b'{"name": ', headers=h), 422)
    _envelope(c.post("/api/v1/watchlists", json={"name": 5, "category": []}), 422)
    _envelope(c.post("/api/v1/watchlists", json={"name": "x", "extra": 1}), 422)
    _envelope(c.get("/api/v1/alerts", params={"limit": "lots"}), 422)
    _envelope(c.get("/api/v1/sightings", params={"since": "2025-01-01T00:00:00"}), 422)
    assert env.repo.list_watchlists() == []


def test_huge_body_is_refused_before_parsing(env: Env) -> None:
    c = env.client(Role.INVESTIGATOR)
    err = _envelope(c.post("/api/v1/watchlists", content=b"[" * 2_000_000), 413)
    assert err["code"] == "too_large"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/alerts/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/alerts/../../etc/passwd",
        "/api/v1/cameras/%2e%2e",
        "/api/v1/deployments/x' OR '1'='1",
        "/api/v1/deployments/1;DROP TABLE users;--",
        "/api/v1/sightings/" + "a" * 65,
    ],
)
def test_traversal_and_sql_metacharacters_in_ids(env: Env, path: str) -> None:
    r = env.client(Role.SUPERVISOR).get(path)
    assert r.status_code in (404, 422)
    _envelope(r, r.status_code)
    assert len(env.repo.list_users()) == len(Role)


def test_sql_metacharacters_in_bodies_are_data(env: Env) -> None:
    c = env.client(Role.INVESTIGATOR)
    r = c.post(
        "/api/v1/watchlists",
        json={
            "name": "x'); DROP TABLE users; --",
            "category": "missing_or_vulnerable",
            "reason": "' OR 1=1 --",
            "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        },
    )
    assert r.status_code == 201
    assert env.repo.list_watchlists()[0].name == "x'); DROP TABLE users; --"
    assert len(env.repo.list_users()) == len(Role)


def _enrol(env: Env, wid: str, files: list[tuple[str, tuple[str, bytes, str]]]) -> object:
    data = {"label": "p1", "reason": "report MP-1", "provenance": "family photo"}
    return env.client(Role.INVESTIGATOR).post(
        f"/api/v1/watchlists/{wid}/subjects", data=data, files=files
    )


def test_uploads_50mb_non_image_wrong_type_and_no_face_store_nothing(env: Env) -> None:
    wid = _watchlist(env)
    media = env.tmp / "media"
    before = sorted(media.rglob("*")) if media.exists() else []
    big = b"\xff\xd8" + b"0" * (50 * 2**20)
    assert _envelope(_enrol(env, wid, [("photos", ("a.jpg", big, "image/jpeg"))]), 413)
    err = _envelope(_enrol(env, wid, [("photos", ("a.jpg", b"not an image", "image/jpeg"))]), 400)
    assert err["code"] == "bad_input"
    err = _envelope(_enrol(env, wid, [("photos", ("a.pdf", jpeg(), "application/pdf"))]), 415)
    no_face = jpeg((255, 0, 0))
    err = _envelope(_enrol(env, wid, [("photos", ("a.jpg", no_face, "image/jpeg"))]), 422)
    assert "no face" in str(err["message"])
    assert env.repo.list_subjects(wid) == []
    assert (sorted(media.rglob("*")) if media.exists() else []) == before
    r = _enrol(env, wid, [("photos", ("a.jpg", jpeg(), "image/jpeg"))])
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    assert len(env.repo.list_subjects(wid)) == 1


def _refusals(env: Env, role: Role) -> list[str]:
    return [
        e.target
        for e in env.repo.audit_entries()
        if e.action == "access.refused" and e.actor == env.users[role]
    ]


def test_operator_cannot_approve_a_deployment(env: Env) -> None:
    now = datetime.now(UTC)
    env.repo.add_deployment(
        DeploymentRow(
            "dep1",
            "victim_or_missing_person",
            "court order 1",
            now,
            now + timedelta(hours=1),
            DeploymentState.REQUESTED,
            env.users[Role.INVESTIGATOR],
            now,
            camera_ids=("cam-1",),
        )
    )
    r = env.client(Role.OPERATOR).post(
        "/api/v1/deployments/dep1/approve", json={"reason": "trust me"}
    )
    assert _envelope(r, 403)["code"] == "forbidden"
    assert env.repo.get_deployment("dep1").state is DeploymentState.REQUESTED
    assert _refusals(env, Role.OPERATOR) == [
        "route:POST /api/v1/deployments/{deployment_id}/approve"
    ]


def test_same_user_cannot_confirm_twice(env: Env) -> None:
    alert = add_alert(env.repo, env.svc.media, kind=AlertKind.FACE_MATCH)  # type: ignore[arg-type]
    c = env.client(Role.SUPERVISOR)
    url = f"/api/v1/alerts/{alert.id}/decisions"
    r = c.post(url, json={"decision": "confirm", "reason": "same face"})
    assert r.status_code == 200 and r.json()["status"] == "one_confirmed"
    r = c.post(url, json={"decision": "confirm", "reason": "really the same face"})
    assert _envelope(r, 409)["code"] == "conflict"
    assert env.repo.get_alert(alert.id).status.value == "one_confirmed"
    assert _refusals(env, Role.SUPERVISOR)
    r = env.client(Role.OPERATOR).post(url, json={"decision": "confirm", "reason": "agree"})
    assert _envelope(r, 403)["code"] == "forbidden"  # the second confirmation needs a supervisor


def test_auditor_cannot_fetch_a_crop_but_a_supervisor_can_with_audit(env: Env) -> None:
    alert = add_alert(env.repo, env.svc.media)  # type: ignore[arg-type]
    h = {"X-Vigil-Reason": "checking the match"}
    r = env.client(Role.AUDITOR).get(f"/api/v1/alerts/{alert.id}/probe", headers=h)
    assert _envelope(r, 403)["code"] == "forbidden"
    assert _refusals(env, Role.AUDITOR)
    r = env.client(Role.SUPERVISOR).get(f"/api/v1/alerts/{alert.id}/probe", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    views = [e for e in env.repo.audit_entries() if e.action == "media.view_biometric"]
    assert [v.actor for v in views] == [env.users[Role.SUPERVISOR]]
    r = env.client(Role.SUPERVISOR).get(f"/api/v1/alerts/{alert.id}/probe")
    _envelope(r, 422)  # a reason is required


def test_security_headers_cors_closed_and_no_secrets(env: Env) -> None:
    c = env.client(Role.ADMIN)
    r = c.get("/api/v1/cameras", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    pre = c.options(
        "/api/v1/cameras",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in pre.headers
    for path in ("/api/v1/cameras", "/api/v1/cameras/cam-1", "/openapi.json"):
        text = c.get(path).text
        assert "hunter2" not in text and SECRET_URL not in text
    _envelope(c.get("/api/v1/nope"), 404)
    _envelope(c.put("/api/v1/cameras"), 405)


def test_unexpected_errors_are_a_generic_500(env: Env) -> None:
    def boom() -> list[object]:
        raise RuntimeError("secret internals /etc/vigil password=xyz")

    env.repo.list_cameras = boom  # type: ignore[method-assign]
    c = env.client(Role.ADMIN, raise_server_exceptions=False)
    r = c.get("/api/v1/cameras")
    err = _envelope(r, 500)
    assert err["code"] == "internal_error" and "xyz" not in r.text
