"""The live-connection registry (:mod:`vigil.api.live`) on its own: the scope rule shared by the
handshake and the re-check, the bound on connections, refusal when the opening cannot be
audited, and a re-check that ends or narrows connections. Real accounts and audit chain over
SQLite; the end-to-end behaviour on a served API is in tests/integration/test_live_access.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.api_env import Env, build_env
from vigil.api.errors import CloseCode
from vigil.api.live import LiveConnection, LiveRefusedError, LiveRegistry, scope_for
from vigil.core.domain import Role, UserRow
from vigil.governance.accounts import Principal, token_hash
from vigil.notify.events import EVENT_KINDS, EVENT_ROLES, EventKind

CAMS = ["c1", "c2", "c3"]
camera_sets = st.none() | st.frozensets(st.sampled_from(CAMS))
kind_sets = st.frozensets(st.sampled_from(EVENT_KINDS), min_size=1)


@given(
    roles=st.frozensets(st.sampled_from(list(Role)), min_size=1),
    assigned=camera_sets,
    key_scopes=st.none() | st.frozensets(st.sampled_from(["events:read", "alerts:read"])),
    kinds=kind_sets,
    asked=camera_sets,
)
def test_a_scope_never_exceeds_what_was_asked_or_what_the_credential_allows(
    roles: frozenset[Role],
    assigned: frozenset[str] | None,
    key_scopes: frozenset[str] | None,
    kinds: frozenset[EventKind],
    asked: frozenset[str] | None,
) -> None:
    user = UserRow(
        "u1",
        "user",
        "x",
        datetime.now(UTC),
        roles=tuple(roles),
        cameras=None if assigned is None else tuple(sorted(assigned)),
    )
    principal = Principal(user, "api_key" if key_scopes is not None else "bearer", "h", key_scopes)
    scope = scope_for(principal, kinds, asked)
    may_kinds = {k for k in kinds if roles & EVENT_ROLES[k]}
    if scope is None:
        no_key_scope = key_scopes is not None and "events:read" not in key_scopes
        limited = asked is not None or assigned is not None
        cams = set(CAMS if asked is None else asked) & set(CAMS if assigned is None else assigned)
        no_cams = limited and not cams
        assert no_key_scope or not may_kinds or no_cams
        return
    assert scope.kinds == may_kinds and scope.kinds <= kinds
    for limit in (asked, assigned):
        if limit is not None:
            assert scope.cameras is not None and scope.cameras <= limit
    if asked is None and assigned is None:
        assert scope.cameras is None


def _registry(env: Env, **kw: Any) -> LiveRegistry:
    return LiveRegistry(env.svc.accounts, env.svc.audit, recheck_s=0.2, **kw)


def _principal(env: Env, role: Role) -> Principal:
    return env.svc.accounts.resolve(env.tokens[role], "bearer")


async def _open(reg: LiveRegistry, principal: Principal, **kw: Any) -> LiveConnection:
    loop = asyncio.get_running_loop()
    kinds = kw.pop("kinds", frozenset({"alert"}))
    return await asyncio.to_thread(
        reg.open, principal, "127.0.0.1", kinds, kw.pop("cameras", None), loop
    )


def test_the_registry_is_bounded(tmp_path: Path) -> None:
    env = build_env(tmp_path)
    reg = _registry(env, max_connections=1)

    async def run() -> None:
        first = await _open(reg, _principal(env, Role.OPERATOR))
        with pytest.raises(LiveRefusedError) as exc:
            await _open(reg, _principal(env, Role.SUPERVISOR))
        assert exc.value.code == CloseCode.BUSY
        await asyncio.to_thread(reg.close, first, 0)
        assert reg.open_count == 0
        await asyncio.to_thread(reg.close, await _open(reg, _principal(env, Role.SUPERVISOR)), 0)

    try:
        asyncio.run(run())
    finally:
        reg.stop()
        env.repo.db.dispose()
    actions = [e.action for e in env.repo.audit_entries() if e.action.startswith("live.")]
    assert actions == ["live.open", "live.close", "live.open", "live.close"]


def test_an_opening_that_cannot_be_audited_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = build_env(tmp_path)
    reg = _registry(env)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(env.svc.audit, "append", broken)
    try:
        with pytest.raises(LiveRefusedError) as exc:
            asyncio.run(_open(reg, _principal(env, Role.OPERATOR)))
        assert exc.value.code == CloseCode.UNAVAILABLE and reg.open_count == 0
    finally:
        env.repo.db.dispose()


def test_a_role_without_any_asked_kind_is_refused_at_the_handshake(tmp_path: Path) -> None:
    env = build_env(tmp_path)
    reg = _registry(env)
    try:
        with pytest.raises(LiveRefusedError) as exc:
            asyncio.run(_open(reg, _principal(env, Role.AUDITOR), kinds=frozenset({"alert"})))
        assert exc.value.code == CloseCode.SCOPE and reg.open_count == 0
    finally:
        env.repo.db.dispose()


def test_a_recheck_ends_a_revoked_credential_and_narrows_a_reassigned_one(tmp_path: Path) -> None:
    env = build_env(tmp_path)
    reg = _registry(env)

    async def run() -> tuple[LiveConnection, LiveConnection]:
        revoked = await _open(reg, _principal(env, Role.OPERATOR))
        moved = await _open(reg, _principal(env, Role.SUPERVISOR))
        env.repo.revoke_session(token_hash(env.tokens[Role.OPERATOR]), datetime.now(UTC))
        env.svc.accounts.assign_cameras(env.users[Role.SUPERVISOR], ["cam-2"])
        ended = await asyncio.to_thread(reg.check_once)
        assert ended == 1
        await asyncio.wait_for(revoked.ended.wait(), 5)
        for _ in range(50):  # the narrowing runs on this loop, soon after the check
            if moved.narrowed:
                break
            await asyncio.sleep(0.02)
        for conn in (revoked, moved):
            await asyncio.to_thread(reg.close, conn, 0)
        return revoked, moved

    try:
        revoked, moved = asyncio.run(run())
    finally:
        reg.stop()
        env.repo.db.dispose()
    assert revoked.end_code == CloseCode.CREDENTIAL
    assert moved.end_code is None and moved.narrowed == 1
    assert moved.sub.cameras == frozenset({"cam-2"})
    closes = [dict(e.details) for e in env.repo.audit_entries() if e.action == "live.close"]
    assert [c["code"] for c in closes] == ["4401", "client"]
    assert closes[1]["cameras"] == "cam-2" and closes[1]["narrowed"] == "1"


def test_connections_close_when_credentials_cannot_be_rechecked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: a socket whose credential cannot be re-read is not kept open."""
    env = build_env(tmp_path)
    reg = _registry(env)

    def unreachable(_: object) -> dict[str, Principal]:
        raise RuntimeError("database unreachable")

    async def run() -> LiveConnection:
        conn = await _open(reg, _principal(env, Role.OPERATOR))
        monkeypatch.setattr(env.svc.accounts, "resolve_many", unreachable)
        await asyncio.wait_for(conn.ended.wait(), 10)  # 3 failed checks, 0.2 s apart
        await asyncio.to_thread(reg.close, conn, 0)
        return conn

    try:
        conn = asyncio.run(run())
    finally:
        reg.stop()
        env.repo.db.dispose()
    assert conn.end_code == CloseCode.UNAVAILABLE and reg.failures >= 3
    assert reg.status() == {"name": "live_connections", "open": 0, "failures": reg.failures}


def test_the_handshake_refuses_a_socket_that_may_see_nothing_it_asked_for(env: Env) -> None:
    from starlette.websockets import WebSocketDisconnect

    auditor = env.client(Role.AUDITOR)
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        auditor.websocket_connect("/api/v1/events?kinds=alert") as ws,
    ):
        ws.receive_json()
    assert exc.value.code == CloseCode.SCOPE == 4403
    assert not [e for e in env.repo.audit_entries() if e.action == "live.open"]
