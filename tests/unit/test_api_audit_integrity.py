"""The issue-14 reproductions against the running API: no user without its entry, and no
anchor laundered by the next audited request after entries were deleted."""

from __future__ import annotations

from sqlalchemy import delete

from tests.support.api_env import Env
from vigil.core.domain import CameraRow, Role
from vigil.governance.audit import iter_entries
from vigil.storage import schema as t


def _user_entries(env: Env) -> list[str]:
    return [e.target for e in iter_entries(env.repo) if e.action == "user.create"]


def test_a_user_with_many_cameras_is_created_with_its_entry(env: Env) -> None:
    """Was: 422 "audit detail too long", yet the user existed and could log in."""
    now = env.repo.list_cameras()[0].updated_at
    cams = [f"district-7-camera-{i:03d}" for i in range(25)]
    for cam in cams:
        env.repo.upsert_camera(CameraRow(cam, cam, "file:///x", now))
    body = {
        "username": "many-cams",
        "password": "a much longer passphrase 7",
        "roles": ["operator"],
    }
    r = env.client(Role.ADMIN).post("/api/v1/users", json={**body, "cameras": cams})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    assert f"user:{user_id}" in _user_entries(env)
    entry = next(e for e in iter_entries(env.repo) if e.target == f"user:{user_id}")
    assert "25 in all" in dict(entry.details)["cameras"]


def test_a_refused_audit_entry_leaves_no_user(env: Env) -> None:
    """A reason the chain refuses (control characters) must refuse the whole action."""
    r = env.client(Role.ADMIN).post(
        "/api/v1/users",
        json={
            "username": "bad-user",
            "password": "a much longer passphrase 7",
            "roles": ["operator"],
            "display_name": "x",
        },
    )
    assert r.status_code == 201  # control: a normal create works
    user_id = r.json()["id"]
    r = env.client(Role.ADMIN).put(
        f"/api/v1/users/{user_id}/cameras", json={"cameras": ["cam-1"], "reason": "bad \x00 nul"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert env.repo.get_user(user_id).cameras is None  # unchanged: no change without its entry


def test_deleting_the_tail_is_not_laundered_by_the_next_request(env: Env) -> None:
    admin = env.client(Role.ADMIN)
    for i in range(4):
        r = admin.post(
            "/api/v1/users",
            json={
                "username": f"u{i}",
                "password": "a much longer passphrase 7",
                "roles": ["operator"],
            },
        )
        assert r.status_code == 201
    head = env.svc.audit.head()
    assert head is not None and env.svc.audit.verify().ok
    env.repo.db.write(
        lambda c: c.execute(delete(t.audit_entries).where(t.audit_entries.c.seq > head.seq - 3))
    )
    assert not env.svc.audit.verify().ok
    r = admin.post(
        "/api/v1/users",
        json={"username": "next", "password": "a much longer passphrase 7", "roles": ["operator"]},
    )
    assert r.status_code == 201
    assert not env.svc.audit.verify().ok, "the next audited request laundered the cut tail"
    status = env.client(Role.AUDITOR).get("/api/v1/system/status").json()
    assert status["audit"]["problem"] and "deleted" in status["audit"]["problem"]
    assert status["audit"]["anchor"].startswith(f"{head.seq}:")
