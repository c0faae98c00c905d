"""NUL and other control characters in any text input: 422 in the envelope, on both engines.

The operations and their text inputs are read from the served OpenAPI spec, so a route added
later is probed too: every path parameter, every query parameter and every property of a JSON
or form body gets a value with a NUL byte (and, for bodies, other control characters), sent with
the token of a role the route allows (as a real caller, past the 401/403), and must answer 422
naming the input, never a 5xx. On PostgreSQL a NUL reaching a query used to be a 500.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute

from tests.support.api_env import PREFERENCE, Env, build_env, roles_by_operation
from vigil.storage import Database

BAD = ["a\x00b", "\x00", "tab\x1bescape", "bell\x07", "del\x7f", "c1\x85"]


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[Env]:
    env = build_env(tmp_path, db=db)
    yield env


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _probes(spec: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str]]:
    """``(method, path, where, name, bad value)`` for every text input of every operation."""
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                if param["in"] in ("path", "query"):
                    yield method.upper(), path, param["in"], param["name"], "a\x00b"
            content = op.get("requestBody", {}).get("content", {})
            for media, body in content.items():
                props = _resolve(spec, body["schema"]).get("properties", {})
                where = "json" if media == "application/json" else "form"
                for name, prop in props.items():
                    if _resolve(spec, prop).get("format") == "binary":
                        continue
                    for bad in BAD:
                        yield method.upper(), path, where, name, bad


def _call(env: Env, token: str | None, probe: tuple[str, str, str, str, str]) -> Any:
    method, path, where, name, bad = probe
    url = path
    for param in [p.strip("{}") for p in path.split("/") if p.startswith("{")]:
        value = bad if (where, name) == ("path", param) else "x1"
        url = url.replace("{" + param + "}", quote(value, safe=""))
    c = env.client()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw: dict[str, Any] = {"headers": headers}
    if where == "query":
        kw["params"] = {name: bad}
    elif where == "json":
        kw["json"] = {name: bad}
    elif where == "form":
        kw["data"] = {name: bad}
        kw["files"] = [("unused", ("a.txt", b"x", "text/plain"))]
    return c.request(method, url, **kw)


def test_control_characters_in_every_text_input_are_a_422(api: Env) -> None:
    spec = api.client().get("/openapi.json").json()
    roles = roles_by_operation(api)
    probes = list(_probes(spec))
    assert len({(m, p) for m, p, *_ in probes}) >= 30  # the spec was read, not an empty list
    failures = []
    for probe in probes:
        allowed = roles.get((probe[0], probe[1]), ())
        role = next((r for r in PREFERENCE if r in allowed), None)
        r = _call(api, api.tokens[role] if role else None, probe)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        error = body.get("error", {})
        locs = [d.get("loc", []) for d in error.get("detail") or [] if isinstance(d, dict)]
        if r.status_code != 422 or not any(probe[3] in loc for loc in locs):
            failures.append((probe[:4], repr(probe[4]), r.status_code, r.text[:200]))
    assert failures == []
    # Nothing of it was stored: a login attempt with a NUL is refused before any lookup.
    r = api.client().post("/api/v1/auth/login", json={"username": "admin\x00", "password": "x"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"


def test_multi_line_text_stays_accepted(api: Env) -> None:
    """Tab, line feed and carriage return are legitimate in a reason."""
    from vigil.core.domain import Role

    c = api.client(Role.INVESTIGATOR)
    r = c.post("/api/v1/cases", json={"title": "t", "reason": "line 1\r\nline 2\tend"})
    assert r.status_code == 201, r.text


def test_routes_outside_the_spec_refuse_control_characters_too(api: Env) -> None:
    """The console's file route is not in the OpenAPI spec; a NUL there reached the file
    system (500). Every served HTTP route with a path parameter is probed."""
    spec_paths = set(api.client().get("/openapi.json").json()["paths"])
    probed = 0
    for route in api.app.routes:
        if not isinstance(route, APIRoute) or route.path in spec_paths or "{" not in route.path:
            continue
        url = re.sub(r"{[^}]+}", "a%00b.js", route.path)
        r = api.client().get(url)
        assert r.status_code == 422, (route.path, r.status_code, r.text[:200])
        probed += 1
    assert probed >= 1
