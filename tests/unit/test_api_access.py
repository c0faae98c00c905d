"""Every route is authenticated unless listed public, and each role reaches exactly its routes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.websockets import WebSocketDisconnect

from tests.support.api_env import Env
from vigil.api.deps import PUBLIC_ROUTES, route_access
from vigil.core.domain import Role

O, S, I, A, U, D = (  # noqa: E741
    Role.OPERATOR,
    Role.SUPERVISOR,
    Role.INVESTIGATOR,
    Role.AUTHORISING_OFFICER,
    Role.AUDITOR,
    Role.ADMIN,
)
ALL = frozenset(Role)
# The role matrix: who may call what. Changing access means changing this table on purpose.
MATRIX: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/api/v1/models"): frozenset({D}),
    ("GET", "/api/v1/system/status"): frozenset({D, U}),
    ("POST", "/api/v1/auth/logout"): ALL,
    ("GET", "/api/v1/auth/me"): ALL,
    ("POST", "/api/v1/auth/api-keys"): frozenset({D}),
    ("GET", "/api/v1/auth/api-keys"): ALL,
    ("DELETE", "/api/v1/auth/api-keys/{key_id}"): ALL,
    ("GET", "/api/v1/users"): frozenset({D}),
    ("POST", "/api/v1/users"): frozenset({D}),
    ("POST", "/api/v1/users/{user_id}/disable"): frozenset({D}),
    ("PUT", "/api/v1/users/{user_id}/cameras"): frozenset({D}),
    ("PUT", "/api/v1/users/{user_id}/roles"): frozenset({D}),
    ("GET", "/api/v1/cameras"): ALL,
    ("GET", "/api/v1/cameras/status"): ALL,
    ("GET", "/api/v1/cameras/{camera_id}"): ALL,
    ("PATCH", "/api/v1/cameras/{camera_id}"): frozenset({D, S}),
    ("GET", "/api/v1/cameras/{camera_id}/crowd"): ALL,
    ("GET", "/api/v1/cameras/{camera_id}/heatmap"): ALL,
    ("GET", "/api/v1/deployments"): ALL,
    ("GET", "/api/v1/deployments/{deployment_id}"): ALL,
    ("POST", "/api/v1/deployments"): frozenset({S, I}),
    ("POST", "/api/v1/deployments/{deployment_id}/approve"): frozenset({A}),
    ("POST", "/api/v1/deployments/{deployment_id}/refuse"): frozenset({A}),
    ("POST", "/api/v1/deployments/{deployment_id}/revoke"): frozenset({A}),
    ("GET", "/api/v1/watchlists"): frozenset({S, I, A}),
    ("POST", "/api/v1/watchlists"): frozenset({S, I}),
    ("GET", "/api/v1/watchlists/{watchlist_id}"): frozenset({S, I, A}),
    ("GET", "/api/v1/watchlists/{watchlist_id}/subjects"): frozenset({S, I, A}),
    ("POST", "/api/v1/watchlists/{watchlist_id}/subjects"): frozenset({S, I}),
    ("DELETE", "/api/v1/watchlists/{watchlist_id}/subjects/{subject_id}"): frozenset({S, I}),
    ("GET", "/api/v1/alerts"): frozenset({O, S, I}),
    ("GET", "/api/v1/alerts/{alert_id}"): frozenset({O, S, I}),
    ("GET", "/api/v1/alerts/{alert_id}/decisions"): frozenset({O, S, I}),
    ("POST", "/api/v1/alerts/{alert_id}/decisions"): frozenset({O, S}),
    ("POST", "/api/v1/alerts/{alert_id}/outcome"): frozenset({S, I}),
    ("GET", "/api/v1/alerts/{alert_id}/probe"): frozenset({O, S, I}),
    ("GET", "/api/v1/alerts/{alert_id}/enrolled"): frozenset({O, S, I}),
    ("GET", "/api/v1/cameras/{camera_id}/clips"): frozenset({O, S, I}),
    ("GET", "/api/v1/sightings"): frozenset({S, I}),
    ("GET", "/api/v1/sightings/search"): frozenset({S, I}),
    ("GET", "/api/v1/sightings/{sighting_id}"): frozenset({S, I}),
    ("GET", "/api/v1/sightings/{sighting_id}/crop"): frozenset({S, I}),
    ("POST", "/api/v1/searches/faces"): frozenset({I}),
    ("POST", "/api/v1/searches/plates"): frozenset({I}),
    ("POST", "/api/v1/trajectories/plates"): frozenset({I}),
    ("POST", "/api/v1/trajectories/faces"): frozenset({I}),
    ("POST", "/api/v1/investigations/jobs"): frozenset({I}),
    ("POST", "/api/v1/investigations/plate-jobs"): frozenset({I}),
    ("GET", "/api/v1/investigations/jobs/{job_id}"): frozenset({I}),
    ("POST", "/api/v1/investigations/jobs/{job_id}/cancel"): frozenset({I}),
    ("POST", "/api/v1/investigations/jobs/{job_id}/resume"): frozenset({I}),
    ("GET", "/api/v1/investigations/jobs/{job_id}/results"): frozenset({I}),
    ("POST", "/api/v1/cases"): frozenset({S, I}),
    ("GET", "/api/v1/cases"): frozenset({S, I, U}),
    ("GET", "/api/v1/cases/{case_id}"): frozenset({S, I, U}),
    ("POST", "/api/v1/cases/{case_id}/shares"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/links"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/outcomes"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/clips"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/searches"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/close"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/reopen"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/release-holds"): frozenset({S, I}),
    ("POST", "/api/v1/cases/{case_id}/exports"): frozenset({S, I}),
    ("GET", "/api/v1/hotlists"): frozenset({S, I}),
    ("POST", "/api/v1/hotlists"): frozenset({S, I}),
    ("GET", "/api/v1/hotlists/{hotlist_id}"): frozenset({S, I}),
    ("DELETE", "/api/v1/hotlists/{hotlist_id}"): frozenset({S, I}),
    ("POST", "/api/v1/hotlists/{hotlist_id}/entries"): frozenset({S, I}),
    ("DELETE", "/api/v1/hotlists/{hotlist_id}/entries/{entry_id}"): frozenset({S, I}),
    ("GET", "/api/v1/audit"): frozenset({U, D}),
    ("GET", "/api/v1/audit/verify"): frozenset({U, D}),
    ("GET", "/api/v1/reports/oversight"): frozenset({U, A}),
    ("GET", "/api/v1/video/cameras"): frozenset({O, S, I}),
    ("GET", "/api/v1/video/cameras/{camera_id}/mjpeg"): frozenset({O, S, I}),
    ("GET", "/api/v1/video/wall"): frozenset({O, S, I}),
    ("GET", "/api/v1/video/cameras/{camera_id}/still"): frozenset({O, S, I}),
    ("GET", "/api/v1/cameras/{camera_id}/crowd/series"): ALL,
    ("GET", "/api/v1/cameras/{camera_id}/crossings/series"): ALL,
    ("GET", "/api/v1/audit/search"): frozenset({U, D}),
    ("GET", "/api/v1/audit/actors"): frozenset({U, D}),
    ("GET", "/api/v1/reports/activity"): frozenset({U, D}),
    ("POST", "/api/v1/watchlists/check-photo"): frozenset({S, I}),
    ("GET", "/api/v1/watchlists/{watchlist_id}/details"): frozenset({S, I, A}),
    ("POST", "/api/v1/watchlists/{watchlist_id}/expire"): frozenset({S, I}),
}
BIOMETRIC = {k for k in MATRIX if k[1].endswith(("/probe", "/enrolled", "/crop", "/clips"))}


def _routes(env: Env) -> list[tuple[str, str, APIRoute]]:
    out = []
    for r in env.app.routes:
        if isinstance(r, APIRoute):
            out += [(m, r.path, r) for m in sorted(r.methods - {"HEAD"})]
    return out


def _has_access_dep(route: APIRoute) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        d = stack.pop()
        if d.call is not None and route_access(d.call) is not None:
            return True
        stack += d.dependencies
    return False


def test_every_route_is_authenticated_or_listed_public(env: Env) -> None:
    for method, path, route in _routes(env):
        if (method, path) in PUBLIC_ROUTES:
            continue
        assert _has_access_dep(route), f"{method} {path} has no access() dependency"
    sockets = [r for r in env.app.routes if isinstance(r, APIWebSocketRoute)]
    assert [s.path for s in sockets] == ["/api/v1/events"]


def test_matrix_covers_every_route(env: Env) -> None:
    found = {(m, p) for m, p, _ in _routes(env)} - PUBLIC_ROUTES
    assert found == set(MATRIX), f"routes not in the matrix: {found ^ set(MATRIX)}"


def test_auditor_never_reaches_biometric_routes() -> None:
    assert BIOMETRIC and all(Role.AUDITOR not in MATRIX[k] for k in BIOMETRIC)


def _call(env: Env, role: Role | None, method: str, path: str) -> Any:
    url = path.replace("{", "").replace("}", "")  # {alert_id} -> alert_id: a well-formed id
    c = env.client(role)
    headers = {"X-Vigil-Reason": "matrix test"}
    if method == "GET":
        params = {"from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z"}
        return c.get(url, params=params, headers=headers)
    return c.request(method, url, json={}, headers=headers)


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_role_matrix(env: Env, key: tuple[str, str]) -> None:
    method, path = key
    assert _call(env, None, method, path).status_code == 401
    for role in Role:
        r = _call(env, role, method, path)
        assert r.headers["content-type"].startswith(("application/json", "image/"))
        if role in MATRIX[key]:
            assert r.status_code not in (401, 403), f"{role} refused on {key}: {r.text}"
        else:
            assert r.status_code == 403, f"{role} got {r.status_code} on {key}"
            assert r.json()["error"]["code"] == "forbidden"
    refusals = [e for e in env.repo.audit_entries() if e.action == "access.refused"]
    denied = [r for r in Role if r not in MATRIX[key]]
    assert {e.actor for e in refusals} >= {env.users[r] for r in denied}


def test_websocket_requires_authentication(env: Env) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        env.client().websocket_connect("/api/v1/events") as ws,
    ):
        ws.receive_json()
    assert exc.value.code == 4401
