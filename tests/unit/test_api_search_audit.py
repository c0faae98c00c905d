"""Listing sightings is a search of the archive: each request is an audit entry with its filters,
its result count and the reason header, and the chain still verifies."""

from __future__ import annotations

from tests.support.api_env import Env
from vigil.core.domain import Role
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.audit import AuditAction, iter_entries


def test_listing_sightings_is_an_audited_search(env: Env) -> None:
    now = env.svc.clock()
    env.repo.add_sightings(
        [Sighting(f"s{i}", "cam-1", ObjectClass.PERSON, now, now, 0.5) for i in range(3)]
    )
    c = env.client(Role.INVESTIGATOR)
    r = c.get(
        "/api/v1/sightings", params={"camera_id": "cam-1"}, headers={"X-Vigil-Reason": "case 7"}
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 3
    assert c.get("/api/v1/sightings", params={"limit": 1}).status_code == 200
    assert c.get("/api/v1/sightings", headers={"X-Vigil-Reason": "x"}).status_code == 422
    searches = [e for e in iter_entries(env.repo) if e.action == AuditAction.SEARCH.value]
    assert [(e.actor, e.reason, e.target) for e in searches] == [
        (env.users[Role.INVESTIGATOR], "case 7", "sightings"),
        (env.users[Role.INVESTIGATOR], "(no reason given)", "sightings"),
    ]
    assert dict(searches[0].details)["camera"] == "cam-1"
    assert dict(searches[0].details)["results"] == "3"
    assert dict(searches[1].details)["results"] == "1"
    assert env.svc.audit.verify().ok
