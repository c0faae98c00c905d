"""The console's map in Chromium: cameras placed from their configured positions, an alert
marker, a camera without a position listed off the map, and an investigator's plate trajectory
drawn with its too-fast hop dashed and flagged - each checked against what the API answered.
Skips with the fix when Playwright or ``/usr/bin/chromium`` (``$VIGIL_CHROMIUM``) is missing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.support.api_env import PASSWORD, Env, add_alert, build_env, jpeg
from tests.support.browser import signed_in
from tests.support.served import served
from vigil.core.domain import CameraRow, Role
from vigil.core.records import ObjectClass, PlateRead, Sighting
from vigil.governance.actors import Actor
from vigil.governance.deployments import DeploymentKind, DeploymentRequest, Purpose
from vigil.storage.repository import plate_key

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, str]]:
    env = build_env(tmp_path_factory.mktemp("console-map"))
    # site-plan metres: cam-2 is 600 m east of cam-1; cam-3 has no position
    env.repo.upsert_camera(CameraRow("cam-1", "North gate", "file:///a", NOW, plan_x=0, plan_y=0))
    env.repo.upsert_camera(CameraRow("cam-2", "East gate", "file:///b", NOW, plan_x=600, plan_y=0))
    env.repo.upsert_camera(CameraRow("cam-3", "Loading bay", "file:///c", NOW))
    add_alert(env.repo, env.svc.media, "cam-2")  # type: ignore[arg-type]
    reads = [  # 600 m in 60 s (10 m/s: a car may), then back in 5 s (120 m/s: no car may)
        PlateRead("cam-1", NOW - timedelta(seconds=65), "KX51ABC", 0.9, "us", (0, 0, 9, 4), 1),
        PlateRead("cam-2", NOW - timedelta(seconds=5), "KX51ABC", 0.9, "us", (0, 0, 9, 4), 2),
        PlateRead("cam-1", NOW, "KX51ABC", 0.9, "us", (0, 0, 9, 4), 3),
        PlateRead("cam-2", NOW, "ZZ99ZZZ", 0.9, "us", (0, 0, 9, 4), 4),
    ]
    env.repo.add_plate_reads(reads)
    _faces(env)
    with served(env.app) as port:
        yield env, f"http://127.0.0.1:{port}", plate_key(reads[1])
    env.repo.db.dispose()


def _faces(env: Env) -> None:
    """One person's face seen on cam-1 then cam-2 (600 m in 20 s: too fast on foot), stored as
    templates of the API env's fake face pipeline, and an approved post-event authorisation."""
    assert env.svc.archive_search is not None
    for sid, cam, dt in (("face-a", "cam-1", -40), ("face-b", "cam-2", -20)):
        at = NOW + timedelta(seconds=dt)
        env.repo.add_sightings([Sighting(sid, cam, ObjectClass.FACE, at, at, 0.8)])
        vec = env.svc.watchlists.probe_template(jpeg((200, 40, 120)))
        (vid,) = env.repo.add_embeddings("fake", [(sid, vec)], at=at)
        env.svc.archive_search.archive.add(np.array([vid]), vec[None, :])
    inv = Actor.from_user(env.repo.get_user(env.users[Role.INVESTIGATOR]))
    officer = Actor.from_user(env.repo.get_user(env.users[Role.AUTHORISING_OFFICER]))
    dep = env.svc.deployments.request(
        inv,
        DeploymentRequest(
            Purpose.SERIOUS_CRIME_SUSPECT,
            "warrant 19/2026",
            NOW - timedelta(hours=1),
            NOW + timedelta(hours=1),
            camera_ids=("cam-1", "cam-2"),
            reason="assault at the north gate",
            kind=DeploymentKind.POST_EVENT,
        ),
    )
    env.svc.deployments.approve(officer, dep, "proportionate")
    AUTH.append(dep)


AUTH: list[str] = []


def _page(browser: Any, url: str, role: Role, errors: list[str]) -> Any:
    username = role.value.replace("_", "-")
    return signed_in(
        browser, url, username, PASSWORD, errors, timeout_ms=10_000, console_errors=True
    )


def test_an_investigator_follows_a_plate_on_the_map(
    browser: Any, site: tuple[Env, str, str]
) -> None:
    env, url, anchor = site
    errors: list[str] = []
    page = _page(browser, url, Role.INVESTIGATOR, errors)
    page.get_by_role("link", name="Map").click()
    page.get_by_role("heading", name="Map").wait_for()
    page.locator("#map-cameras circle.map-camera").first.wait_for()
    placed = page.locator("#map-cameras circle.map-camera")
    assert sorted(placed.nth(i).get_attribute("data-camera") for i in range(placed.count())) == [
        "cam-1",
        "cam-2",
    ]
    x1 = float(page.locator('circle.map-camera[data-camera="cam-1"]').get_attribute("cx"))
    x2 = float(page.locator('circle.map-camera[data-camera="cam-2"]').get_attribute("cx"))
    assert x2 > x1  # east is to the right
    assert "cam-3" in page.locator("#map-notes").inner_text()
    page.wait_for_function(
        "document.querySelector('circle.map-alert[data-camera=\"cam-2\"]')"
        ".getAttribute('visibility') === 'visible'"
    )
    assert page.locator('circle.map-alert[data-camera="cam-1"]').get_attribute("visibility") == (
        "hidden"
    )

    page.get_by_label("Plate read id").fill(anchor)
    page.get_by_label("Reason").fill("stolen vehicle, case 19-3")
    page.get_by_role("button", name="Follow vehicle").click()
    page.locator("#trajectory-table").wait_for()
    answer = env.client(Role.INVESTIGATOR).post(
        "/api/v1/trajectories/plates",
        json={"read_id": anchor, "reason": "check", "window_s": 3600},
    )
    body = answer.json()
    assert [h["check"] for h in body["hops"]] == ["plausible", "implausible"]
    hops = page.locator("#map-path line.map-hop")
    assert hops.count() == 2
    assert "hop-plausible" in (hops.nth(0).get_attribute("class") or "")
    assert "hop-implausible" in (hops.nth(1).get_attribute("class") or "")
    assert page.locator("#map-path text.map-flag").count() == 1
    table = page.locator("#trajectory-table").inner_text()
    assert table.count("implausible") == 1 and "cam-2" in table
    assert (
        f"{len(body['visits'])} visits, 1 implausible" in page.locator("#map-timeline").inner_text()
    )
    page.get_by_label("Plate read id").fill("no-such-read")
    page.get_by_role("button", name="Follow vehicle").click()
    page.get_by_text("No trajectory").wait_for()
    assert [e for e in errors if "404" not in e] == []


def test_an_investigator_follows_a_person_under_an_authorisation(
    browser: Any, site: tuple[Env, str, str]
) -> None:
    env, url, _ = site
    errors: list[str] = []
    page = _page(browser, url, Role.INVESTIGATOR, errors)
    page.goto(url + "/#/map")
    page.locator("#map-cameras circle.map-camera").first.wait_for()
    page.get_by_label("Sighting id").fill("face-a")
    page.get_by_label("Post-event authorisation").fill(AUTH[0])
    # Minimum score left empty: the server's calibrated threshold
    page.get_by_label("Why").fill("assault at the north gate")
    page.get_by_role("button", name="Follow person").click()
    page.locator("#trajectory-table").wait_for()
    api = env.client(Role.INVESTIGATOR).post(
        "/api/v1/trajectories/faces",
        json={"sighting_id": "face-a", "authorisation_id": AUTH[0], "reason": "same, via API"},
    )
    want = api.json()
    timeline = page.locator("#map-timeline").inner_text()
    assert "Person: 2 visits, 1 implausible" in timeline
    assert f"matches scored ≥ {want['min_score']:.3f}" in timeline
    table = page.locator("#trajectory-table").inner_text()
    second, hop = want["visits"][1], want["hops"][0]
    assert "the anchor" in table and hop["score"] == second["score"]
    # the matched visit and the hop each show the score and the bound of its false-match rate
    assert table.count(f"score {second['score']:.3f}, false match ≤") == 2
    assert second["false_match_rate_upper"] > 0
    assert "hop-implausible" in (
        page.locator("#map-path line.map-hop").get_attribute("class") or ""
    )
    page.get_by_label("Post-event authorisation").fill("not-approved")
    page.get_by_role("button", name="Follow person").click()
    page.locator("#face-trajectory-status").get_by_text("No trajectory").wait_for()
    assert [e for e in errors if "403" not in e] == []


def test_an_operator_sees_the_map_without_the_trajectory_form(
    browser: Any, site: tuple[Env, str, str]
) -> None:
    _, url, _ = site
    errors: list[str] = []
    page = _page(browser, url, Role.OPERATOR, errors)
    page.get_by_role("link", name="Map").click()
    page.locator("#map-cameras circle.map-camera").first.wait_for()
    assert page.locator("#trajectory-form").count() == 0
    assert page.locator("#face-trajectory-form").count() == 0
    assert errors == []
