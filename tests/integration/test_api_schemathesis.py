"""schemathesis against the served OpenAPI spec: no 5xx, and every answer matches the spec.

The app is the one the unit API tests build (``tests.support.api_env.build_env``: a temporary SQLite
database, one signed-in user per role) and is called in-process over ASGI. Each operation is
called with the bearer token of a role it allows (admin where allowed, else the first allowed
role from the route's own ``access()`` dependency), so every route is reached past the 403 and its
handler is exercised. One row of each kind (alert with sighting and crop, deployment, watchlist
with a subject, user, API key) is seeded and also pinned as the path ids of some cases, so id
routes are exercised past their 404 too. Every operation runs on SQLite and on PostgreSQL.
Bounded for CI: at most MAX_EXAMPLES cases per operation and engine, no shrinking, a 2 s
deadline (about 20 s per engine on 2 cores). The WebSocket route is
not in the spec; camera status answers [] without a running camera system.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api_env import (
    PASSWORD,
    PREFERENCE,
    Env,
    add_alert,
    build_env,
    jpeg,
    roles_by_operation,
)
from tests.support.storage import ENGINES, FAST, truncate_all
from vigil.core.domain import DeploymentRow, DeploymentState, Role
from vigil.governance.actors import Actor
from vigil.storage import Database
from vigil.storage.postevent import JobRow, PostEventStore

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Role preference when an operation allows several: the broadest first.
# Revokes the session it is called with: it gets a throw-away session per call instead.
LOGOUT = ("POST", "/api/v1/auth/logout")


@pytest.fixture(scope="module", params=ENGINES)
def fuzz_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """The API over SQLite, then over PostgreSQL (where a NUL byte or a lone surrogate that
    reaches a query is a driver error, not data): every operation must hold on both."""
    db = None
    if request.param == "postgresql":
        db = Database(request.getfixturevalue("pg_url"), FAST)
        truncate_all(db)
    env = build_env(tmp_path_factory.mktemp("schemathesis"), db=db)
    yield env
    env.repo.db.dispose()


@pytest.fixture(scope="module")
def known_ids(fuzz_env: Env) -> dict[str, str]:
    """Ids that exist, so id routes are exercised past their 404 (one of each kind)."""
    env, now = fuzz_env, datetime.now(UTC)
    alert = add_alert(env.repo, env.svc.media)
    sighting = env.repo.list_sightings(limit=1)[0]
    env.repo.add_deployment(
        DeploymentRow(
            "dep-fuzz",
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
    c = env.client(Role.INVESTIGATOR)
    r = c.post(
        "/api/v1/watchlists",
        json={
            "name": "fuzz",
            "category": "missing_or_vulnerable",
            "reason": "report MP-1",
            "expires_at": (now + timedelta(days=7)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    wid = str(r.json()["id"])
    form = {"label": "subject", "reason": "report MP-1", "provenance": "family photo"}
    files = [("photos", ("a.jpg", jpeg(), "image/jpeg"))]
    r = c.post(f"/api/v1/watchlists/{wid}/subjects", data=form, files=files)
    assert r.status_code == 201, r.text
    subject_id = str(r.json()["id"])
    body = {"name": "stolen", "priority": 50, "reason": "report 9", "retention_days": 30}
    r = c.post("/api/v1/hotlists", json=body)
    assert r.status_code == 201, r.text
    hotlist_id = str(r.json()["id"])
    r = c.post(
        f"/api/v1/hotlists/{hotlist_id}/entries", json={"pattern": "AB?12*", "reason": "report 9"}
    )
    assert r.status_code == 201, r.text
    entry_id = str(r.json()["id"])
    # Opened by the role the case routes are called with (a case is visible to its owner only).
    owner = env.client(next(r for r in PREFERENCE if r in (Role.SUPERVISOR, Role.INVESTIGATOR)))
    r = owner.post("/api/v1/cases", json={"title": "fuzz case", "reason": "report 9"})
    assert r.status_code == 201, r.text
    case_id = str(r.json()["id"])
    job = JobRow(
        "job-fuzz",
        case_id,
        "dep-fuzz",
        "face",
        "probe photo",
        ("cam-1",),
        now,
        now,
        0.5,
        "paused",
        1,
        0,
        env.users[Role.INVESTIGATOR],
        now,
        now,
    )
    PostEventStore(env.repo.db).add_job(job)
    # A user of its own, so disabling it (or revoking its key) leaves the callers signed in.
    victim = env.svc.accounts.create_user("fuzz-victim", PASSWORD, [Role.OPERATOR])
    return {
        "alert_id": alert.id,
        "sighting_id": sighting.id,
        "camera_id": "cam-1",
        "deployment_id": "dep-fuzz",
        "watchlist_id": wid,
        "subject_id": subject_id,
        "hotlist_id": hotlist_id,
        "entry_id": entry_id,
        "case_id": case_id,
        "user_id": victim.id,
        "key_id": _api_key(env, victim.id),
        "job_id": job.id,
    }


def _api_key(env: Env, user_id: str) -> str:
    key_id: str = env.svc.accounts.issue_api_key(
        Actor.of(env.users[Role.ADMIN], Role.ADMIN), user_id, ["alerts:read"]
    )[1].token_hash
    return key_id


@pytest.fixture(scope="module")
def api_schema(fuzz_env: Env) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_env.app)


@pytest.fixture(scope="module")
def tokens(fuzz_env: Env) -> dict[tuple[str, str], str]:
    out = {}
    for key, roles in roles_by_operation(fuzz_env).items():
        if roles:
            role = next(r for r in PREFERENCE if r in roles)
            out[key] = fuzz_env.tokens[role]
    return out


def _operations() -> list[tuple[str, str]]:
    # Parametrised from the committed spec, which test_api_spec keeps equal to the served one;
    # the cases themselves are generated from the served spec (the ``api_schema`` fixture).
    spec = json.loads(COMMITTED.read_text())
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)


# schemathesis' own pytest plugin (``schema.parametrize()``) does not run under pytest 9 (it sets
# the removed ``Item._nodeid``), so each operation is its own pytest case driving a Hypothesis
# test over schemathesis' case strategy, valid and invalid inputs both.
@pytest.mark.parametrize("key", _operations(), ids=lambda k: f"{k[0]} {k[1]}")
def test_api_conforms_to_its_spec(
    key: tuple[str, str],
    api_schema: Any,
    fuzz_env: Env,
    tokens: dict[tuple[str, str], str],
    known_ids: dict[str, str],
) -> None:
    method, path = key
    operation = api_schema[path][method]
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    names = re.findall(r"{(\w+)}", path)
    if names:  # valid input against rows that exist, not only random (unknown) ids
        pinned = {n: known_ids[n] for n in names}
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=pinned))
    strategy = st.one_of(strategies)

    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=2000,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        headers = {}
        if key == LOGOUT:
            headers["Authorization"] = f"Bearer {_fresh_session(fuzz_env)}"
        elif key in tokens:
            headers["Authorization"] = f"Bearer {tokens[key]}"
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def _fresh_session(env: Env) -> str:
    user = env.repo.get_user(env.users[Role.OPERATOR])
    token: str = env.svc.accounts.start_session(user)[0]
    return token
