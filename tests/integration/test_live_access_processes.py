"""Live connections end when access ends, with two API processes on one PostgreSQL database.

A socket is open on process A; access is cut through process B (logout, API-key revocation,
disabling, a role or camera change) or in the database itself (expiry, a session revoked by
another tool). A learns of it only through the shared database: its re-check
(:mod:`vigil.api.live`) must close or narrow the socket. Real parts: two ``vigil run
--api-only`` processes (uvicorn), PostgreSQL, real WebSocket clients, alerts written through the
repository as a camera node writes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from tests.support.api_env import FAST_HASH
from tests.support.api_processes import PASSWORD, Api, api_config, login
from tests.support.live_flow import alert_on, expect, until_closed, until_hidden_stops
from tests.support.storage import truncate_all
from vigil.config import load_config
from vigil.core.domain import Role
from vigil.governance.accounts import AccountService, token_hash
from vigil.storage import Database
from vigil.system.assembly import assemble

pytestmark = [pytest.mark.services]

DEADLINE_S = 20.0  # "never" on a loaded machine; the stated bound is live_recheck_s + a read


@pytest.fixture
def pair(pg_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    truncate_all(db := Database(pg_url))
    db.dispose()
    cams = ("cam-1", "cam-2")
    cfg_a = api_config(tmp_path, "a", pg_url, cameras=cams)
    cfg_b = api_config(tmp_path, "b", pg_url, cameras=cams)
    node = assemble(load_config(cfg_a), cameras=False, head=False)  # a camera node's services
    svc = node.services
    svc.accounts.create_user("alice-admin", PASSWORD, [Role.ADMIN])
    a = b = None
    try:
        a = Api(cfg_a, tmp_path / "a.log")
        b = Api(cfg_b, tmp_path / "b.log")
        yield {"a": a, "b": b, "svc": svc}
    finally:
        for api in (a, b):
            if api is not None:
                api.stop()
        svc.repo.db.dispose()


@pytest.mark.timeout(400)
def test_access_cut_through_one_process_ends_the_socket_on_the_other(
    pair: dict[str, Any],
) -> None:
    a: Api = pair["a"]
    b: Api = pair["b"]
    svc = pair["svc"]
    raise_cam1 = alert_on(svc.repo, svc.media, "cam-1")
    admin_token = login(b, "alice-admin").json()["token"]
    admin = {"Authorization": f"Bearer {admin_token}"}

    def operator(name: str) -> str:
        return str(svc.accounts.create_user(name, PASSWORD, [Role.OPERATOR]).id)

    def on_b(method: str, path: str, **kw: Any) -> Any:
        r = b.http.request(method, f"/api/v1{path}", headers=admin, **kw)
        assert r.status_code < 300, r.text
        return r.json()

    def closes(ws: ClientConnection, cut: Callable[[], object], code: int, what: str) -> None:
        expect(ws, raise_cam1())
        cut_at = time.monotonic()
        cut()
        closed = until_closed(ws, cut_at, raise_cam1, DEADLINE_S)
        print(f"\n{what}: A closed {closed.code} after {closed.after_s:.2f} s")
        assert closed.code == code, closed

    # Logout on B of a token the socket on A uses.
    operator("op-logout")
    token = login(b, "op-logout").json()["token"]

    def logout() -> None:
        r = b.http.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text

    with a.events(token) as ws:
        closes(ws, logout, 4401, "logout on B")

    # An API key revoked on B.
    uid = operator("op-key")
    key = on_b("POST", "/auth/api-keys", json={"user_id": uid, "scopes": ["events:read"]})
    with a.events(key["key"]) as ws:
        closes(ws, lambda: on_b("DELETE", f"/auth/api-keys/{key['id']}"), 4401, "key revoked on B")

    # The user disabled on B.
    uid = operator("op-disabled")
    with a.events(login(a, "op-disabled").json()["token"]) as ws:
        closes(ws, lambda: on_b("POST", f"/users/{uid}/disable"), 4401, "user disabled on B")

    # The role that grants alerts removed on B.
    uid = operator("op-role")
    body = {"roles": ["auditor"], "reason": "moved to the audit office"}
    with a.events(login(a, "op-role").json()["token"]) as ws:
        closes(ws, lambda: on_b("PUT", f"/users/{uid}/roles", json=body), 4403, "role removed on B")

    # A session revoked in the database by another tool, and a short-lived one that expires.
    uid = operator("op-revoked")
    user = svc.repo.get_user(uid)
    revoked, _ = svc.accounts.start_session(user)
    with a.events(revoked) as ws:
        closes(
            ws,
            lambda: svc.repo.revoke_session(token_hash(revoked), datetime.now(UTC)),
            4401,
            "session revoked in the database",
        )
    short = AccountService(
        svc.repo, secret=b"x", audit=svc.audit, hasher=FAST_HASH, session_ttl=timedelta(seconds=4)
    )
    expiring, row = short.start_session(user)
    with a.events(expiring) as ws:
        expect(ws, raise_cam1())
        expires_in = (row.expires_at - datetime.now(UTC)).total_seconds()
        closed = until_closed(ws, time.monotonic() + expires_in, raise_cam1, DEADLINE_S + 4)
        print(f"\nexpiry: A closed {closed.code} {closed.after_s:.2f} s after expiry")
        assert closed.code == 4401, closed

    # Cameras reassigned on B: A's socket narrows to the new camera.
    uid = operator("op-cameras")
    body = {"cameras": ["cam-2"], "reason": "moved to district 2"}
    with a.events(login(a, "op-cameras").json()["token"]) as ws:
        expect(ws, raise_cam1())
        assert a.status(admin_token)["live_connections"]["open"] == 1  # this socket only
        cut_at = time.monotonic()
        on_b("PUT", f"/users/{uid}/cameras", json=body)
        raise_cam2 = alert_on(svc.repo, svc.media, "cam-2")
        took = until_hidden_stops(ws, cut_at, raise_cam1, raise_cam2, deadline_s=DEADLINE_S)
        print(f"\ncameras reassigned on B: A stopped cam-1 alerts after {took:.2f} s")
