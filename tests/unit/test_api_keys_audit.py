"""API keys are an audited power: issuing and revoking name the issuer and the owner, a key is
never stored without its entry, and what a key does is attributed to its owner *and* issuer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api_env import Env
from vigil.core.domain import Role
from vigil.errors import ValidationError
from vigil.governance.audit import AuditAction, iter_entries

KEYS = "/api/v1/auth/api-keys"


def _entries(env: Env, action: AuditAction) -> list[Any]:
    return [e for e in iter_entries(env.repo) if e.action == action.value]


def _issue(env: Env, owner: Role, scopes: list[str]) -> dict[str, Any]:
    r = env.client(Role.ADMIN).post(KEYS, json={"user_id": env.users[owner], "scopes": scopes})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def test_issuing_a_key_in_another_users_name_is_audited_with_issuer_and_owner(env: Env) -> None:
    admin, owner = env.users[Role.ADMIN], env.users[Role.INVESTIGATOR]
    key = _issue(env, Role.INVESTIGATOR, ["sightings:read", "camera:cam-1"])
    assert key["issued_by"] == admin and key["user_id"] == owner
    [entry] = _entries(env, AuditAction.API_KEY_ISSUE)
    details = dict(entry.details)
    assert entry.actor == admin and entry.target == f"api_key:{key['id']}"
    assert details["owner"] == owner and details["issued_by"] == admin
    assert details["scopes"] == "camera:cam-1,sightings:read"
    assert key["key"] not in repr(entry)  # the secret is never written anywhere
    assert env.repo.get_session(key["id"]).issued_by == admin


def test_revoking_a_key_is_audited_with_issuer_and_owner(env: Env) -> None:
    key = _issue(env, Role.INVESTIGATOR, ["sightings:read"])
    assert env.client(Role.ADMIN).delete(f"{KEYS}/{key['id']}").status_code == 200
    assert env.client(Role.ADMIN).delete(f"{KEYS}/{key['id']}").status_code == 200  # idempotent
    [entry] = _entries(env, AuditAction.API_KEY_REVOKE)
    details = dict(entry.details)
    assert entry.actor == env.users[Role.ADMIN] and entry.target == f"api_key:{key['id']}"
    assert details["owner"] == env.users[Role.INVESTIGATOR]
    assert details["issued_by"] == env.users[Role.ADMIN]


def test_an_owner_revoking_their_own_key_is_audited_and_keys_cannot_revoke(env: Env) -> None:
    key = _issue(env, Role.INVESTIGATOR, ["sightings:read"])
    k = env.client()
    k.headers["Authorization"] = f"Bearer {key['key']}"
    assert k.post("/api/v1/auth/logout").status_code == 403  # a key is not a person's session
    assert k.delete(f"{KEYS}/{key['id']}").status_code == 403
    assert _entries(env, AuditAction.API_KEY_REVOKE) == []
    assert env.client(Role.INVESTIGATOR).delete(f"{KEYS}/{key['id']}").status_code == 200
    assert k.get("/api/v1/sightings").status_code == 401
    [entry] = _entries(env, AuditAction.API_KEY_REVOKE)
    assert entry.actor == env.users[Role.INVESTIGATOR]
    assert dict(entry.details)["issued_by"] == env.users[Role.ADMIN]


def test_what_a_key_does_is_attributed_to_its_owner_and_its_issuer(env: Env) -> None:
    key = _issue(env, Role.INVESTIGATOR, ["sightings:read"])
    k = env.client()
    k.headers["Authorization"] = f"Bearer {key['key']}"
    assert k.get("/api/v1/sightings", params={"reason": "case 12"}).status_code == 200
    [search] = _entries(env, AuditAction.SEARCH)
    details = dict(search.details)
    assert search.actor == env.users[Role.INVESTIGATOR]
    assert details["key_issued_by"] == env.users[Role.ADMIN] and details["api_key"] == key["id"]
    # the same search in the owner's own session names no key
    env.client(Role.INVESTIGATOR).get("/api/v1/sightings", params={"reason": "case 12"})
    own = _entries(env, AuditAction.SEARCH)[-1]
    assert "key_issued_by" not in dict(own.details)


def test_no_key_without_its_audit_entry(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise ValidationError("audit store refused the entry")

    monkeypatch.setattr(env.svc.audit, "append", refuse)
    r = env.client(Role.ADMIN).post(
        KEYS, json={"user_id": env.users[Role.INVESTIGATOR], "scopes": ["sightings:read"]}
    )
    assert r.status_code == 422
    assert env.repo.list_sessions(env.users[Role.INVESTIGATOR], kind="api_key") == []
