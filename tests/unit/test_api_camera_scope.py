"""Camera scope on every read and write of a camera-bound record, and who sees a case.

The camera-bound routes are derived from the OpenAPI spec, not listed by hand: every path
parameter must be classified in :mod:`vigil.api.scope`, every route naming a camera-bound record
is called by a person of another camera (and must answer as for a missing record), and every
listing whose answer carries camera ids is called by that person (and must show none of the other
camera). A new route is covered on arrival, or fails here until someone decides how it is scoped.

The records live on ``cam-1``; the *outsider* works ``cam-2`` and holds every working role (so no
role check hides a missing scope check), the *insider* works ``cam-1`` with the same roles.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.api_env import PASSWORD, Env, add_alert, jpeg
from vigil.api.scope import CASE_PARAM, NOT_CAMERA_BOUND, PATH_RECORDS, may_change, sees
from vigil.core.domain import DeploymentRow, DeploymentState, Role
from vigil.core.records import AlertKind, AlertStatus, PlateRead
from vigil.governance.audit import AuditAction, iter_entries
from vigil.storage.postevent import JobRow, PostEventStore

AWAY, HOME = "cam-1", "cam-2"  # the records' camera; the outsider's camera
WORKERS = (Role.OPERATOR, Role.SUPERVISOR, Role.INVESTIGATOR, Role.AUTHORISING_OFFICER)
UNSAFE = {"post", "put", "delete", "patch"}
REASON = {"X-Vigil-Reason": "scope test"}
BOUND = {*PATH_RECORDS, CASE_PARAM}
NOUN = {"alert_id": "alert", "sighting_id": "sighting", "deployment_id": "deployment"}
NOUN |= {"camera_id": "camera", "case_id": "case", "job_id": "post-event search job"}


def person(
    env: Env, name: str, cameras: list[str] | None, roles: tuple[Role, ...] = WORKERS
) -> tuple[TestClient, str]:
    """A signed-in client for a new account (made through the account service, not the API)."""
    user = env.svc.accounts.create_user(name, PASSWORD, roles, cameras=cameras)
    c = env.client()
    c.headers["Authorization"] = f"Bearer {env.svc.accounts.start_session(user)[0]}"
    return c, user.id


def deployment(
    env: Env, cameras: tuple[str, ...], state: DeploymentState, kind: str = "live"
) -> str:
    now = datetime.now(UTC)
    dep_id = f"dep-{kind}-{'-'.join(cameras)}-{state.value}"
    env.repo.add_deployment(
        DeploymentRow(
            dep_id,
            "victim_or_missing_person",
            "court order 7",
            now - timedelta(days=1),
            now + timedelta(days=1),
            state,
            env.users[Role.INVESTIGATOR],
            now,
            kind=kind,
            camera_ids=cameras,
        )
    )
    return dep_id


def plate_read_id(env: Env, camera: str, text: str) -> str:
    from vigil.storage.repository import plate_key

    read = PlateRead(camera, datetime.now(UTC), text, 0.9, "us", (0, 0, 10, 5), 1)
    env.repo.add_plate_reads([read])
    return plate_key(read)


@dataclass
class World:
    env: Env
    ids: dict[str, str]  # path parameter -> id of a cam-1 record (or case)
    insider: TestClient
    outsider: TestClient
    outsider_id: str
    plate_read: str


@pytest.fixture
def world(env: Env) -> Iterator[World]:
    alert = add_alert(env.repo, env.svc.media, AWAY, AlertKind.FACE_MATCH)  # type: ignore[arg-type]
    (sighting,) = env.repo.list_sightings(camera_id=AWAY)
    insider, _ = person(env, "insider", [AWAY])
    outsider, outsider_id = person(env, "outsider", [HOME])
    r = insider.post("/api/v1/cases", json={"title": "cam-1 case", "reason": "opened"})
    assert r.status_code == 201, r.text
    assert alert.deployment_id is not None
    ids = {
        "alert_id": alert.id,
        "sighting_id": sighting.id,
        "deployment_id": alert.deployment_id,
        "camera_id": AWAY,
        "case_id": r.json()["id"],
        "job_id": _postevent_job(env, r.json()["id"]),
    }
    yield World(env, ids, insider, outsider, outsider_id, plate_read_id(env, AWAY, "AWAY11"))


def _postevent_job(env: Env, case_id: str) -> str:
    """A post-event search job over the away camera (stored directly; jobs are tested apart)."""
    now = datetime.now(UTC)
    job = JobRow(
        "job-away",
        case_id,
        "auth",
        "face",
        "probe photo",
        (AWAY,),
        now,
        now,
        0.5,
        "paused",
        1,
        0,
        "someone",
        now,
        now,
    )
    PostEventStore(env.repo.db).add_job(job)
    return job.id


def _spec_ops(env: Env) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in env.app.openapi()["paths"].items():
        for method, op in ops.items():
            yield method, path, op


def _path_params(op: dict[str, Any]) -> list[str]:
    return [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]


def _call(c: TestClient, method: str, url: str) -> Any:
    if method in UNSAFE:
        return c.request(method.upper(), url, json={}, headers=REASON)
    return c.request(method.upper(), url, headers=REASON)


def test_every_path_parameter_in_the_spec_is_classified(env: Env) -> None:
    classified = BOUND | set(NOT_CAMERA_BOUND)
    for method, path, op in _spec_ops(env):
        for name in _path_params(op):
            assert name in classified, (
                f"{method.upper()} {path}: path parameter {name!r} is not classified; add it to "
                "vigil.api.scope.PATH_RECORDS (camera-bound) or NOT_CAMERA_BOUND (with why)"
            )


def test_every_route_naming_another_cameras_record_answers_as_if_it_were_missing(
    world: World,
) -> None:
    env, ids = world.env, world.ids
    routes = [
        (m, p, [n for n in _path_params(op) if n in BOUND])
        for m, p, op in _spec_ops(env)
        if any(n in BOUND for n in _path_params(op))
    ]
    assert len(routes) >= 18, routes  # alerts, sightings, deployments, cameras, cases
    for method, path, names in routes:
        url, gone_url = path, path
        for name in names:
            url = url.replace(f"{{{name}}}", ids[name])
            gone_url = gone_url.replace(f"{{{name}}}", "nosuch0")
        out, gone = _call(world.outsider, method, url), _call(world.outsider, method, gone_url)
        where = f"{method.upper()} {path}"
        assert out.status_code == gone.status_code == 404, (where, out.text, gone.text)
        said = out.json()["error"]["message"]
        for name in names:
            said = said.replace(ids[name], "nosuch0")
        assert said == gone.json()["error"]["message"], (where, said)
        # The same request from the record's own camera is not refused as missing.
        inside = _call(world.insider, method, url)
        missing = [f"no {NOUN[n]} {ids[n]!r}" for n in names]
        assert inside.status_code != 404 or inside.json()["error"]["message"] not in missing, (
            where,
            inside.text,
        )
    refusals = [
        e
        for e in iter_entries(env.repo)
        if e.action == AuditAction.ACCESS_REFUSED and e.actor == world.outsider_id
    ]
    assert len(refusals) >= len(routes)  # each attempt is evidence for the auditors
    assert all(dict(e.details)["code"] == "out_of_scope" for e in refusals)
    assert env.svc.audit.verify().ok


def _resolve(spec: dict[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> set[str]:
    """Every property name reachable from a schema node (following $ref once each)."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            name = ref.rsplit("/", 1)[-1]
            found |= _resolve(spec, spec["components"]["schemas"][name], seen | {ref})
        found |= set(node.get("properties", {}))
        for value in node.values():
            found |= _resolve(spec, value, seen)
    elif isinstance(node, list):
        for value in node:
            found |= _resolve(spec, value, seen)
    return found


def _cameras_in(body: Any) -> Iterator[frozenset[str]]:
    """The camera ids of every record in a JSON answer."""
    if isinstance(body, dict):
        if isinstance(body.get("camera_id"), str):
            yield frozenset({body["camera_id"]})
        if isinstance(body.get("camera_ids"), list):
            yield frozenset(body["camera_ids"])
        for value in body.values():
            yield from _cameras_in(value)
    elif isinstance(body, list):
        for value in body:
            yield from _cameras_in(value)


def _search_calls(w: World) -> dict[tuple[str, str], Any]:
    """How to call each listing that is not a GET (a new one must be added here)."""
    post_event = deployment(w.env, (AWAY,), DeploymentState.APPROVED, "post_event")
    face = {"photo": ("p.jpg", jpeg(), "image/jpeg")}
    form = {"authorisation_id": post_event, "reason": "scope test", "k": "5"}
    return {
        ("post", "/api/v1/searches/plates"): lambda c: c.post(
            "/api/v1/searches/plates", json={"pattern": "AWAY1?", "reason": "scope test"}
        ),
        ("post", "/api/v1/searches/faces"): lambda c: c.post(
            "/api/v1/searches/faces", files=face, data=form
        ),
        ("post", "/api/v1/trajectories/faces"): lambda c: c.post(
            "/api/v1/trajectories/faces",
            json={
                "sighting_id": w.ids["sighting_id"],
                "authorisation_id": post_event,
                "reason": "scope test",
                "min_score": 0.5,
            },
        ),
        ("post", "/api/v1/trajectories/plates"): lambda c: c.post(
            "/api/v1/trajectories/plates",
            json={"read_id": w.plate_read, "reason": "scope test", "window_s": 60},
        ),
    }


def test_every_listing_that_carries_camera_ids_shows_only_ones_own_cameras(world: World) -> None:
    env = world.env
    add_alert(env.repo, env.svc.media, HOME)  # type: ignore[arg-type]
    deployment(env, (HOME,), DeploymentState.APPROVED)
    spec = env.app.openapi()
    calls = _search_calls(world)
    listings = []
    for method, path, op in _spec_ops(env):
        if _path_params(op):
            continue  # one record: covered by the test above
        answer = op.get("responses", {}).get("200", {})
        if {"camera_id", "camera_ids"} & _resolve(spec, answer):
            listings.append((method, path))
    assert {("get", "/api/v1/alerts"), ("get", "/api/v1/deployments")} <= set(listings)
    insider_saw_away = 0
    for method, path in listings:
        if method == "get":
            out, inside = world.outsider.get(path), world.insider.get(path)
        else:
            assert (method, path) in calls, f"{method.upper()} {path} lists camera records: add it"
            out, inside = calls[method, path](world.outsider), calls[method, path](world.insider)
        assert out.status_code < 500 and inside.status_code < 500, (path, out.text, inside.text)
        for cams in _cameras_in(out.json()):
            assert HOME in cams, (method, path, out.json())
        insider_saw_away += any(AWAY in c for c in _cameras_in(inside.json()))
    assert insider_saw_away >= 4  # alerts, sightings, deployments, plate search


def test_another_cameras_alert_cannot_be_confirmed_rejected_or_closed(world: World) -> None:
    env, alert_id = world.env, world.ids["alert_id"]
    second, _ = person(env, "outsider-2", [HOME])
    for c in (world.outsider, second):
        r = c.post(
            f"/api/v1/alerts/{alert_id}/decisions", json={"decision": "confirm", "reason": "me"}
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    r = world.outsider.post(
        f"/api/v1/alerts/{alert_id}/outcome", json={"outcome": "arrest", "reason": "closing"}
    )
    assert r.status_code == 404, r.text
    assert env.repo.get_alert(alert_id).status is AlertStatus.PENDING
    assert env.repo.list_verifications(alert_id) == []
    # The camera's own people still decide.
    r = world.insider.post(
        f"/api/v1/alerts/{alert_id}/decisions", json={"decision": "confirm", "reason": "seen"}
    )
    assert r.status_code == 200, r.text


def test_a_legal_hold_on_another_cameras_record_reads_as_a_missing_record(world: World) -> None:
    env, ids = world.env, world.ids
    r = world.outsider.post("/api/v1/cases", json={"title": "cam-2 case", "reason": "opened"})
    links = f"/api/v1/cases/{r.json()['id']}/links"
    for kind, target in (
        ("alert", ids["alert_id"]),
        ("sighting", ids["sighting_id"]),
        ("plate_read", world.plate_read),
    ):
        body = {"kind": kind, "target_id": target, "reason": "hold it"}
        there = world.outsider.post(links, json=body)
        gone = world.outsider.post(links, json={**body, "target_id": "nosuch0"})
        assert there.status_code == gone.status_code == 404, (kind, there.text)
        said = there.json()["error"]["message"].replace(target, "nosuch0")
        assert said == gone.json()["error"]["message"], kind
    assert world.outsider.get(links.removesuffix("/links")).json()["links"] == []
    held = [e for e in iter_entries(env.repo) if e.action == AuditAction.LEGAL_HOLD]
    assert held == []
    # Its own camera's read can be held.
    home_read = plate_read_id(env, HOME, "HOME22")
    body = {"kind": "plate_read", "target_id": home_read, "reason": "hold it"}
    assert world.outsider.post(links, json=body).status_code == 201


def test_a_case_is_seen_by_its_owner_the_people_shared_with_and_auditors(world: World) -> None:
    env, case_id = world.env, world.ids["case_id"]
    url = f"/api/v1/cases/{case_id}"
    colleague, colleague_id = person(env, "colleague", None, (Role.SUPERVISOR,))
    auditor = env.client(Role.AUDITOR)
    assert colleague.get(url).status_code == 404  # any supervisor could read any case
    assert colleague.get("/api/v1/cases").json() == []
    assert env.client(Role.INVESTIGATOR).get(url).status_code == 404
    hold = {"kind": "alert", "target_id": world.ids["alert_id"], "reason": "evidence"}
    assert colleague.post(f"{url}/links", json=hold).status_code == 404
    # Only the owner shares, with someone who can work cases, with a reason (audited).
    share = {"user_id": colleague_id, "reason": "joint investigation"}
    assert colleague.post(f"{url}/shares", json=share).status_code == 404
    r = world.insider.post(f"{url}/shares", json={**share, "user_id": env.users[Role.OPERATOR]})
    assert r.status_code == 422, r.text
    r = world.insider.post(f"{url}/shares", json={**share, "user_id": "nosuch0"})
    assert r.status_code == 422, r.text
    assert world.insider.post(f"{url}/shares", json={"user_id": colleague_id}).status_code == 422
    assert world.insider.post(f"{url}/shares", json=share).status_code == 201
    got = colleague.get(url)
    assert got.status_code == 200 and got.json()["shared_with"] == [colleague_id]
    assert [c["id"] for c in colleague.get("/api/v1/cases").json()] == [case_id]
    assert colleague.post(f"{url}/links", json=hold).status_code == 201
    r = colleague.post(f"{url}/shares", json={**share, "user_id": env.users[Role.SUPERVISOR]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"  # not the owner
    # Auditors read every case, and add nothing.
    assert auditor.get(url).status_code == 200
    assert case_id in [c["id"] for c in auditor.get("/api/v1/cases").json()]
    assert auditor.post(f"{url}/links", json=hold).status_code == 403
    shares = [e for e in iter_entries(env.repo) if e.action == AuditAction.CASE_SHARE]
    assert [(e.target, dict(e.details)["with"]) for e in shares] == [
        (f"case:{case_id}", colleague_id)
    ]
    assert env.svc.audit.verify().ok


def test_a_shared_reader_sees_only_the_links_of_their_cameras(world: World) -> None:
    env, url = world.env, f"/api/v1/cases/{world.ids['case_id']}"
    hold = {"kind": "alert", "target_id": world.ids["alert_id"], "reason": "evidence"}
    assert world.insider.post(f"{url}/links", json=hold).status_code == 201
    _, sup_id = person(env, "district-2-sup", [HOME], (Role.SUPERVISOR,))
    share = {"user_id": sup_id, "reason": "joint"}
    assert world.insider.post(f"{url}/shares", json=share).status_code == 201
    reader, _ = person(env, "district-2-sup-session", [HOME], (Role.SUPERVISOR,))
    reader.headers["Authorization"] = (
        f"Bearer {env.svc.accounts.start_session(env.repo.get_user(sup_id))[0]}"
    )
    got = reader.get(url).json()
    assert got["links"] == [] and got["hidden_links"] == 1
    assert len(world.insider.get(url).json()["links"]) == 1


def test_deployments_are_listed_and_decided_within_ones_cameras(world: World) -> None:
    env = world.env
    away = world.ids["deployment_id"]
    home = deployment(env, (HOME,), DeploymentState.REQUESTED)
    both = deployment(env, (AWAY, HOME), DeploymentState.REQUESTED)
    listed = {d["id"] for d in world.outsider.get("/api/v1/deployments").json()}
    assert listed == {home, both}  # the list showed other cameras' legal references
    assert world.outsider.get(f"/api/v1/deployments/{away}").status_code == 404
    decision = {"reason": "proportionate"}
    r = world.outsider.post(f"/api/v1/deployments/{both}/approve", json=decision)
    assert r.status_code == 403 and "outside your assignment" in r.json()["error"]["message"]
    assert env.repo.get_deployment(both).state is DeploymentState.REQUESTED
    r = world.outsider.post(f"/api/v1/deployments/{away}/revoke", json=decision)
    assert r.status_code == 404
    assert env.repo.get_deployment(away).state is DeploymentState.APPROVED


def test_a_deployment_may_name_only_known_cameras_of_ones_own(world: World) -> None:
    env = world.env
    now = datetime.now(UTC)
    body = {
        "purpose": "victim_or_missing_person",
        "legal_reference": "court order 9",
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=2)).isoformat(),
        "kind": "post_event",
        "reason": "missing child",
    }
    before = len(env.repo.list_deployments())
    for client, cameras in (
        (world.outsider, [AWAY]),  # exists, but not theirs
        (world.outsider, [HOME, "nosuch0"]),
        (env.client(Role.INVESTIGATOR), ["nosuch0"]),  # unknown, for anyone
    ):
        r = client.post("/api/v1/deployments", json={**body, "camera_ids": cameras})
        assert r.status_code == 422 and "unknown camera" in r.json()["error"]["message"], r.text
    assert len(env.repo.list_deployments()) == before
    r = world.outsider.post("/api/v1/deployments", json={**body, "camera_ids": [HOME]})
    assert r.status_code == 201, r.text


def test_a_face_search_under_another_cameras_authorisation_reads_as_unknown(
    world: World,
) -> None:
    env = world.env
    post_event = deployment(env, (AWAY,), DeploymentState.APPROVED, "post_event")
    photo = {"photo": ("p.jpg", jpeg(), "image/jpeg")}

    def search(c: TestClient, auth: str) -> Any:
        form = {"authorisation_id": auth, "reason": "scope test", "k": "5"}
        return c.post("/api/v1/searches/faces", files=photo, data=form)

    there, gone = search(world.outsider, post_event), search(world.outsider, "nosuch0")
    assert there.status_code == gone.status_code == 403, there.text
    said = there.json()["error"]["message"].replace(post_event, "nosuch0")
    assert said == gone.json()["error"]["message"]
    assert search(world.insider, post_event).status_code == 200


def test_a_districts_alert_pages_are_full_and_their_offsets_right(env: Env) -> None:
    for _ in range(3):
        add_alert(env.repo, env.svc.media, AWAY)  # type: ignore[arg-type]
        add_alert(env.repo, env.svc.media, HOME)  # type: ignore[arg-type]
    outsider, _ = person(env, "outsider", [HOME])
    first = outsider.get("/api/v1/alerts", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_offset"] == 2
    rest = outsider.get("/api/v1/alerts", params={"limit": 2, "offset": 2}).json()
    assert len(rest["items"]) == 1 and rest["next_offset"] is None
    assert {a["camera_id"] for a in first["items"] + rest["items"]} == {HOME}


CAMS = st.frozensets(st.sampled_from("abcdef"), max_size=6)


@given(allowed=st.none() | CAMS, record=CAMS)
@settings(max_examples=200, deadline=None)
def test_changing_a_record_needs_all_its_cameras_and_reading_one(
    allowed: frozenset[str] | None, record: frozenset[str]
) -> None:
    from vigil.core.domain import UserRow
    from vigil.governance.accounts import Principal

    cameras = None if allowed is None else tuple(sorted(allowed))
    user = UserRow("u", "u", "h", datetime.now(UTC), (Role.SUPERVISOR,), cameras=cameras)
    p = Principal(user, "bearer", "h")
    if allowed is None:
        assert sees(p, record) and may_change(p, record)
        return
    assert sees(p, record) == bool(record & allowed)
    assert may_change(p, record) == (bool(record) and record <= allowed)
    assert not may_change(p, record) or sees(p, record)  # writing implies reading


def test_the_scope_module_names_only_real_path_parameters(env: Env) -> None:
    in_spec = {n for _, _, op in _spec_ops(env) for n in _path_params(op)}
    assert set(PATH_RECORDS) | {CASE_PARAM} <= in_spec
    assert re.fullmatch(r"[a-z_]+", "".join(NOT_CAMERA_BOUND))
