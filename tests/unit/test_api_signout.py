"""Issue 24, sessions: a sign-out that always signs out, and a server secret that survives a
restart when ``api.secret_key`` is unset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.api_env import PASSWORD, Env, config, migrated_db
from vigil.api.deps import COOKIE
from vigil.errors import ConfigError
from vigil.governance.audit import AuditLog
from vigil.storage import Repository
from vigil.storage.media import LocalMediaStore
from vigil.system.assembly import SECRET_FILE, governance_services, persisted_secret


def _cookie_login(env: Env) -> tuple[TestClient, str, str]:
    c = env.client()
    r = c.post(
        "/api/v1/auth/login",
        json={"username": "operator", "password": PASSWORD, "mode": "cookie"},
    )
    assert r.status_code == 200, r.text
    token = c.cookies.get(COOKIE)
    assert token
    return c, token, r.json()["csrf_token"]


@pytest.mark.parametrize("csrf", [None, "0" * 64])
def test_sign_out_with_a_missing_or_stale_csrf_token_revokes_and_clears(
    env: Env, csrf: str | None
) -> None:
    c, token, _ = _cookie_login(env)
    headers = {} if csrf is None else {"X-CSRF-Token": csrf}
    # Any other unsafe call of this session is refused without the right token ...
    r = c.post("/api/v1/cases", json={}, headers=headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    # ... but signing out is not.
    r = c.post("/api/v1/auth/logout", headers=headers)
    assert r.status_code == 200, r.text
    assert f'{COOKIE}=""' in r.headers["set-cookie"] and "Max-Age=0" in r.headers["set-cookie"]
    # The cookie is dead on the server, not only forgotten by this browser.
    again = env.client(cookies={COOKIE: token})
    assert again.get("/api/v1/auth/me").status_code == 401


def test_a_dead_session_cookie_is_cleared_by_the_refusal(env: Env) -> None:
    c, token, csrf = _cookie_login(env)
    assert c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    stale = env.client(cookies={COOKIE: token})
    r = stale.post("/api/v1/auth/logout")
    assert r.status_code == 401
    assert "Max-Age=0" in r.headers["set-cookie"]


def _accounts_secret_probe(tmp: Path, data_dir: Path) -> str:
    """A CSRF token for a fixed session hash from services built as at a process start."""
    cfg = config().model_copy(deep=True)
    cfg.api.secret_key = None
    cfg.system.data_dir = data_dir
    repo = Repository(migrated_db(tmp))
    try:
        media = LocalMediaStore(tmp / "media")
        audit = AuditLog(repo, anchor_path=tmp / "anchor.json")
        svc = governance_services(repo, media, audit, config=cfg)
        return svc.accounts.csrf_token("f" * 64)
    finally:
        repo.db.dispose()


def test_the_generated_secret_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = tmp_path / "one"
    second = tmp_path / "two"
    first.mkdir()
    second.mkdir()
    assert _accounts_secret_probe(first, data) == _accounts_secret_probe(second, data)
    key = data / SECRET_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_text().strip()) == 64


def test_a_readable_or_empty_secret_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    persisted_secret(path)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        persisted_secret(path)
    os.chmod(path, 0o600)
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="no usable key"):
        persisted_secret(path)
