"""Logins, sessions, CSRF, throttling, revocation, expiry and scoped API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.api_env import PASSWORD, Env
from vigil.api.deps import COOKIE
from vigil.core.domain import Role


def _login(env: Env, user: str = "operator", password: str = PASSWORD, **kw: str) -> object:
    return env.client().post(
        "/api/v1/auth/login", json={"username": user, "password": password, **kw}
    )


def test_token_login_me_logout_revokes(env: Env) -> None:
    r = _login(env)
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    c = env.client()
    c.headers["Authorization"] = f"Bearer {token}"
    assert c.get("/api/v1/auth/me").json()["roles"] == ["operator"]
    assert c.post("/api/v1/auth/logout").status_code == 200
    r = c.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    row = env.repo.list_sessions(env.users[Role.OPERATOR])[-1]
    assert token not in repr(row) and row.revoked_at is not None


def test_wrong_password_and_unknown_user_look_the_same(env: Env) -> None:
    a, b = _login(env, password="wrong password!!"), _login(env, user="nobody")
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_account_locks_after_repeated_failures(env: Env) -> None:
    for _ in range(5):
        assert _login(env, password="not the password").status_code == 401
    r = _login(env)  # even the right password is refused while locked
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1


def test_client_rate_limit(env: Env) -> None:
    codes = [_login(env, user=f"ghost{i}").status_code for i in range(25)]
    assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}


def test_cookie_session_needs_csrf_on_unsafe_methods(env: Env) -> None:
    c = env.client()
    r = c.post(
        "/api/v1/auth/login",
        json={"username": "supervisor", "password": PASSWORD, "mode": "cookie"},
    )
    assert r.status_code == 200 and r.json()["token"] is None
    csrf = r.json()["csrf_token"]
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    assert c.get("/api/v1/auth/me").status_code == 200  # safe method: no token needed
    body = {
        "name": "x",
        "category": "missing_or_vulnerable",
        "reason": "r",
        "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    r = c.post("/api/v1/watchlists", json=body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    r = c.post("/api/v1/watchlists", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    assert env.repo.list_watchlists() == []
    r = c.post("/api/v1/watchlists", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text


def test_expired_session_is_refused(env: Env) -> None:
    user = env.repo.get_user(env.users[Role.OPERATOR])
    acc = env.svc.accounts
    token, _ = acc.start_session(user)
    acc.clock = lambda: datetime.now(UTC) + timedelta(hours=13)
    r = env.client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_disabled_user_loses_every_session(env: Env) -> None:
    admin = env.client(Role.ADMIN)
    r = admin.post(f"/api/v1/users/{env.users[Role.OPERATOR]}/disable")
    assert r.status_code == 200
    assert env.client(Role.OPERATOR).get("/api/v1/cameras").status_code == 401
    assert _login(env).status_code == 401


def test_api_key_scopes_and_cameras(env: Env) -> None:
    admin = env.client(Role.ADMIN)
    r = admin.post(
        "/api/v1/auth/api-keys",
        json={"user_id": env.users[Role.OPERATOR], "scopes": ["cameras:read", "camera:cam-2"]},
    )
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    k = env.client()
    k.headers["Authorization"] = f"Bearer {key}"
    assert [c["id"] for c in k.get("/api/v1/cameras").json()] == ["cam-2"]
    assert k.get("/api/v1/cameras/cam-1").status_code == 404
    assert k.get("/api/v1/alerts").status_code == 403  # scope not granted
    r = k.post(f"/api/v1/alerts/{'a' * 32}/decisions", json={"decision": "confirm", "reason": "x"})
    assert r.status_code == 403  # keys never make decisions
    listed = admin.get("/api/v1/auth/api-keys", params={"user_id": env.users[Role.OPERATOR]})
    assert [x["id"] for x in listed.json()] == [key_id] and listed.json()[0]["key"] is None
    assert admin.delete(f"/api/v1/auth/api-keys/{key_id}").status_code == 200
    assert k.get("/api/v1/cameras").status_code == 401


def test_users_admin_api_never_returns_hashes(env: Env) -> None:
    admin = env.client(Role.ADMIN)
    r = admin.post(
        "/api/v1/users",
        json={"username": "newbie", "password": "long enough password", "roles": ["auditor"]},
    )
    assert r.status_code == 201, r.text
    listing = admin.get("/api/v1/users").text
    assert "argon2" not in listing and "password" not in listing
    assert env.client().cookies.get(COOKIE) is None
