"""``GET /sightings/search``: ranked attribute hits with clip links, camera scope, audit, and
refusals of protected characteristics in any field (known or not), audited as search.refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.api_env import PASSWORD, Env
from vigil.core.domain import Role
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.audit import AuditAction, iter_entries

URL = "/api/v1/sightings/search"


def seed(env: Env) -> None:
    now = env.svc.clock()
    rows = [
        ("red-blue-1", "cam-1", ObjectClass.PERSON, "red", "blue", None, 0.9),
        ("red-blue-2", "cam-2", ObjectClass.PERSON, "red", "blue", None, 0.6),
        ("red-black", "cam-1", ObjectClass.PERSON, "red", "black", None, 0.8),
        ("black-blue", "cam-1", ObjectClass.PERSON, "black", "blue", None, 0.7),
        ("white-car", "cam-1", ObjectClass.CAR, None, None, "white", 0.7),
        ("white-truck", "cam-2", ObjectClass.TRUCK, None, None, "white", 0.9),
        ("red-car", "cam-1", ObjectClass.CAR, None, None, "red", 0.9),
    ]
    env.repo.add_sightings(
        Sighting(
            sid,
            cam,
            cls,
            now - timedelta(minutes=i),
            now,
            0.5,
            upper_colour=up,
            lower_colour=low,
            body_colour=body,
            colour_score=score,
            height_frac=0.3,
            direction="left",
        )
        for i, (sid, cam, cls, up, low, body, score) in enumerate(rows)
    )


def ids(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return [h["id"] for h in r.json()["items"]]


def test_structured_and_free_text_queries_rank_by_colour_share(env: Env) -> None:
    seed(env)
    c = env.client(Role.INVESTIGATOR)
    assert ids(c.get(URL, params={"upper": "red", "lower": "blue"})) == ["red-blue-1", "red-blue-2"]
    assert ids(c.get(URL, params={"q": "person, red top, blue trousers"})) == [
        "red-blue-1",
        "red-blue-2",
    ]
    assert ids(c.get(URL, params={"q": "white van"})) == ["white-truck", "white-car"]
    assert ids(c.get(URL, params={"class": "car", "colour": "RED"})) == ["red-car"]
    assert ids(c.get(URL, params={"upper": "red", "cameras": "cam-2"})) == ["red-blue-2"]
    page = c.get(URL, params={"upper": "red", "limit": 1}).json()
    assert page["next_offset"] == 1 and len(page["items"]) == 1
    hit = page["items"][0]
    assert hit["clip_url"].startswith("/api/v1/cameras/cam-1/clips?start=")
    assert hit["console_url"].startswith("#/playback/cam-1/")
    assert hit["upper_colour"] == "red" and hit["lower_colour"] == "blue"


def test_each_search_is_audited_with_its_filters(env: Env) -> None:
    seed(env)
    c = env.client(Role.INVESTIGATOR)
    ids(c.get(URL, params={"upper": "red"}, headers={"X-Vigil-Reason": "case 12"}))
    [entry] = [e for e in iter_entries(env.repo) if e.action == AuditAction.SEARCH.value]
    d = dict(entry.details)
    assert (entry.reason, d["kind"], d["upper"], d["results"]) == (
        "case 12",
        "attributes",
        "red",
        "3",
    )
    assert env.svc.audit.verify().ok


SNEAKS = [
    {"q": "Asian man"},
    {"q": "person with dark skin tones"},
    {"upper": "red", "race": "any"},  # an unknown key
    {"Ethnicity": "x"},
    {"upper": "skin-colour"},
    {"class": "Women"},
    {"lower": "blue", "age_estimate": "30"},
    {"q": "red top", "mood": "ANGRY"},
    {"colour": "white", "class": "car", "religion ": "x"},
    {"q": "el  derly"},  # split word: not a protected word, but not vocabulary either
]


@pytest.mark.parametrize("params", SNEAKS)
def test_protected_characteristics_are_refused_in_any_field(
    env: Env, params: dict[str, str]
) -> None:
    seed(env)
    c = env.client(Role.INVESTIGATOR)
    r = c.get(URL, params=params)
    assert r.status_code == 422
    refused = [e for e in iter_entries(env.repo) if e.action == AuditAction.SEARCH_REFUSED.value]
    runs = [e for e in iter_entries(env.repo) if e.action == AuditAction.SEARCH.value]
    assert not runs  # nothing was searched
    if params == {"q": "el  derly"}:
        assert "outside the search vocabulary" in r.json()["error"]["message"] and not refused
        return
    assert r.json()["error"]["code"] == "protected_attribute"
    assert "does not search people by" in r.json()["error"]["message"]
    assert len(refused) == 1 and dict(refused[0].details)["kind"] == "attributes"


def test_duplicate_keys_cannot_hide_a_protected_value(env: Env) -> None:
    c = env.client(Role.INVESTIGATOR)
    r = c.get(URL + "?upper=red&upper=muslim&upper=red")
    assert r.status_code == 422 and r.json()["error"]["code"] == "protected_attribute"


@pytest.mark.parametrize(
    "params",
    [
        {"upper": "chartreuse"},
        {"class": "spaceship"},
        {"direction": "sideways"},
        {"frobnicate": "1"},
        {"q": "red top", "upper": "red"},
        {"class": "car", "upper": "red"},
        {"since": "2025-01-01T00:00:00"},
    ],
)
def test_bad_input_gets_the_error_envelope(env: Env, params: dict[str, str]) -> None:
    r = env.client(Role.INVESTIGATOR).get(URL, params=params)
    assert r.status_code == 422 and set(r.json()["error"]) >= {"code", "message"}


def test_camera_scope_hides_other_cameras_and_refuses_naming_them(env: Env) -> None:
    seed(env)
    user = env.svc.accounts.create_user(
        "cam2-only", PASSWORD, (Role.INVESTIGATOR,), cameras=["cam-2"]
    )
    c = env.client()
    c.headers["Authorization"] = f"Bearer {env.svc.accounts.start_session(user)[0]}"
    assert ids(c.get(URL, params={"upper": "red"})) == ["red-blue-2"]
    assert c.get(URL, params={"upper": "red", "cameras": "cam-1"}).status_code == 422


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.AUDITOR, Role.ADMIN])
def test_roles_outside_investigation_are_refused(env: Env, role: Role) -> None:
    assert env.client(role).get(URL, params={"upper": "red"}).status_code == 403
