"""Switching a camera on or off: ``PATCH /cameras/{id}`` and :class:`CameraService`.

Who may (admins and supervisors, within their cameras), what is refused (in the one envelope,
with the flag and the chain unchanged), that every change is audited with its reason, that a
repeated switch is a no-op without an entry, and that a person's switch-off survives the
start-up sync of the config file's flags (and reaches the embedded system's camera list).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.api_env import PASSWORD, Env, build_env, config
from vigil.core.domain import Role
from vigil.errors import NotFoundError, PermissionDeniedError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import iter_entries
from vigil.system.assembly import sync_cameras, with_table_flags

URL = "/api/v1/cameras/cam-1"
OFF = {"enabled": False, "reason": "pointed at a private garden by mistake"}
ON = {"enabled": True, "reason": "re-aimed at the street"}


def camera_entries(env: Env) -> list[tuple[str, str, str, str]]:
    return [
        (e.action, e.actor, e.target, e.reason)
        for e in iter_entries(env.repo)
        if e.action.startswith("camera.")
    ]


def test_admin_and_supervisor_switch_a_camera_audited_and_a_repeat_is_a_no_op(env: Env) -> None:
    admin, sup = env.client(Role.ADMIN), env.client(Role.SUPERVISOR)
    resp = admin.patch(URL, json=OFF)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == "cam-1" and body["enabled"] is False and body["changed"] is True
    assert "url" not in body and "source_url" not in body
    assert env.repo.get_camera("cam-1").enabled is False
    assert admin.get(URL).json()["enabled"] is False

    again = sup.patch(URL, json={**OFF, "reason": "same incident, second report"})
    assert again.status_code == 200 and again.json()["changed"] is False
    assert again.json()["enabled"] is False

    back = sup.patch(URL, json=ON)
    assert back.status_code == 200 and back.json()["changed"] is True
    assert env.repo.get_camera("cam-1").enabled is True
    assert camera_entries(env) == [
        ("camera.disable", env.users[Role.ADMIN], "camera:cam-1", OFF["reason"]),
        ("camera.enable", env.users[Role.SUPERVISOR], "camera:cam-1", ON["reason"]),
    ]
    assert env.svc.audit.verify().ok
    assert env.repo.get_camera("cam-2").enabled is True  # only the named camera


@pytest.mark.parametrize(
    "role", [Role.OPERATOR, Role.INVESTIGATOR, Role.AUTHORISING_OFFICER, Role.AUDITOR]
)
def test_other_roles_are_refused_and_nothing_changes(env: Env, role: Role) -> None:
    resp = env.client(role).patch(URL, json=OFF)
    assert resp.status_code == 403, resp.text
    assert resp.json()["error"]["code"] == "forbidden"
    assert env.repo.get_camera("cam-1").enabled is True
    assert camera_entries(env) == []


def test_anonymous_and_api_keys_are_refused(env: Env) -> None:
    assert env.client().patch(URL, json=OFF).status_code == 401
    admin = env.repo.get_user(env.users[Role.ADMIN])
    key, _ = env.svc.accounts.issue_api_key(
        Actor.from_user(admin), admin.id, ["cameras:read", "camera:cam-1"]
    )
    resp = env.client().patch(URL, json=OFF, headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 403 and "error" in resp.json()
    assert env.repo.get_camera("cam-1").enabled is True


def test_a_supervisor_of_another_district_cannot_switch_or_probe_the_camera(env: Env) -> None:
    admin = env.client(Role.ADMIN)
    made = admin.post(
        "/api/v1/users",
        json={
            "username": "north-sup",
            "password": PASSWORD,
            "roles": ["supervisor"],
            "cameras": ["cam-2"],
        },
    )
    assert made.status_code == 201, made.text
    token = env.svc.accounts.start_session(env.repo.get_user(made.json()["id"]))[0]
    c = env.client()
    c.headers["Authorization"] = f"Bearer {token}"
    outside = c.patch(URL, json=OFF)
    missing = c.patch("/api/v1/cameras/no-such-cam", json=OFF)
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["error"]["message"].replace("cam-1", "X") == missing.json()["error"][
        "message"
    ].replace("no-such-cam", "X")
    assert env.repo.get_camera("cam-1").enabled is True
    inside = c.patch("/api/v1/cameras/cam-2", json=OFF)
    assert inside.status_code == 200 and inside.json()["changed"] is True
    assert [a for a, *_ in camera_entries(env)] == ["camera.disable"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/cameras/no-such-cam", OFF),  # unknown camera (404)
        (URL, {"enabled": False}),  # no reason
        (URL, {"enabled": False, "reason": ""}),
        (URL, {"enabled": False, "reason": "   "}),  # blank after trimming
        (URL, {"enabled": False, "reason": "x" * 2001}),
        (URL, {"enabled": False, "reason": "bad\x00byte"}),
        (URL, {"enabled": "false", "reason": "r"}),  # a string is not a boolean
        (URL, {"enabled": 0, "reason": "r"}),
        (URL, {"enabled": None, "reason": "r"}),
        (URL, {"reason": "r"}),  # no state
        (URL, {"enabled": False, "reason": "r", "url": "rtsp://x"}),  # nothing else is settable
        (URL, {"enabled": False, "reason": 5}),
        ("/api/v1/cameras/..%2Fetc", OFF),
    ],
)
def test_bad_requests_are_refused_in_the_envelope_and_change_nothing(
    env: Env, path: str, body: dict[str, object]
) -> None:
    resp = env.client(Role.ADMIN).patch(path, json=body)
    expected = 404 if "no-such-cam" in path or "%2F" in path else 422
    assert resp.status_code == expected, (body, resp.text)
    assert set(resp.json()) == {"error"} and resp.json()["error"]["message"]
    assert env.repo.get_camera("cam-1").enabled is True
    assert camera_entries(env) == []


def test_a_cookie_session_needs_the_csrf_token(env: Env) -> None:
    c = env.client()
    login = c.post(
        "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD, "mode": "cookie"}
    )
    assert login.status_code == 200, login.text
    resp = c.patch(URL, json=OFF)
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "csrf_failed"
    assert env.repo.get_camera("cam-1").enabled is True
    ok = c.patch(URL, json=OFF, headers={"X-CSRF-Token": login.json()["csrf_token"]})
    assert ok.status_code == 200 and ok.json()["enabled"] is False


def test_the_service_refuses_clearly(env: Env) -> None:
    svc = env.svc.cameras
    with pytest.raises(PermissionDeniedError, match="disabling a camera needs the role admin"):
        svc.set_enabled(Actor.of("op", Role.OPERATOR), "cam-1", False, "r")
    with pytest.raises(ValidationError, match="needs a reason"):
        svc.set_enabled(Actor.of("root", Role.ADMIN), "cam-1", False, " \n ")
    with pytest.raises(NotFoundError, match="no camera 'nope'"):
        svc.set_enabled(Actor.of("root", Role.ADMIN), "nope", False, "r")
    assert camera_entries(env) == []


def test_a_switch_off_survives_the_start_up_sync_until_switched_on(env: Env) -> None:
    """The head's start re-applies the file's flags, except that a person's switch-off stays;
    the embedded system is then built without that camera."""
    cfg = config()
    admin = Actor.of(env.users[Role.ADMIN], Role.ADMIN)
    env.svc.cameras.set_enabled(admin, "cam-1", False, "private space")
    now = datetime.now(UTC)
    sync_cameras(env.repo, cfg, now)  # what the head does at start
    assert env.repo.get_camera("cam-1").enabled is False
    assert [c.id for c in with_table_flags(cfg, env.repo).cameras if c.enabled] == ["cam-2"]
    env.svc.cameras.set_enabled(admin, "cam-1", True, "re-aimed")
    sync_cameras(env.repo, cfg, now)
    assert env.repo.get_camera("cam-1").enabled is True
    # An SQL-level flag (no entry in the chain) is still reset from the file at start.
    env.repo.set_camera_enabled("cam-2", False, now)
    sync_cameras(env.repo, cfg, now)
    assert env.repo.get_camera("cam-2").enabled is True
    assert env.repo.cameras_switched_off() == set()


switches = st.lists(
    st.tuples(st.sampled_from(["cam-1", "cam-2"]), st.booleans()), min_size=1, max_size=12
)


@given(steps=switches)
@settings(max_examples=20, deadline=None)
def test_the_flag_follows_the_last_switch_and_the_chain_holds_one_entry_per_change(
    steps: list[tuple[str, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = build_env(Path(tmp))
        try:
            admin = Actor.of(env.users[Role.ADMIN], Role.ADMIN)
            state = {"cam-1": True, "cam-2": True}
            changes = 0
            for cam, on in steps:
                done = env.svc.cameras.set_enabled(admin, cam, on, "property")
                assert done.changed == (state[cam] != on)
                changes += done.changed
                state[cam] = on
            assert {c.id: c.enabled for c in env.repo.list_cameras()} == state
            assert len(camera_entries(env)) == changes
            assert env.repo.cameras_switched_off() == {c for c, on in state.items() if not on}
            assert env.svc.audit.verify().ok
        finally:
            env.repo.db.dispose()
