"""The footage-search page in plate mode, in Chromium: an investigator switches to plate, gives
the real car's plate, the job runs in the real worker thread over footage recorded through the
real recorder (:mod:`tests.support.plate_footage`, the first pass of the car), and the page lists
the appearance the API holds with the read and the frames on request; the case page then lists
the search and the same appearance; a plate query the plate search refuses shows the API's
message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api_env import PASSWORD, Env, build_env
from tests.support.browser import require_chromium, signed_in
from tests.support.plate_footage import SOUGHT, plate_footage, plate_of, plate_runner
from tests.support.recording import index_over, record_file
from tests.support.served import served
from vigil.core.domain import Role
from vigil.governance.appearances import group_appearances
from vigil.storage.postevent import PostEventStore

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, str, datetime]]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("footage-plates")
    env = build_env(tmp)
    index = index_over(env.repo.db, tmp / "rec")
    now = datetime.now(UTC).replace(microsecond=0)
    record_file(plate_footage(tmp), index, frames=4, segment_s=4.0)
    auth, runner = plate_runner(env, index, "warrant 10")
    runner.start()
    with served(env.app) as port:
        yield env, f"http://127.0.0.1:{port}", auth, now
    runner.stop()
    env.repo.db.dispose()


def _fill(page: Any, case: str, auth: str, now: datetime, plate: str) -> None:
    page.locator("#fs-mode-plate").check()
    page.locator("#fs-plate").fill(plate)
    page.locator("#fs-case").fill(case)
    page.locator("#fs-auth").fill(auth)
    page.locator("#fs-cameras").fill("cam-1")
    page.locator("#fs-start").fill((now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#fs-end").fill((now + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#fs-reason").fill("hit and run")


def test_plate_mode_lists_the_cars_appearance_and_the_case_page_too(
    browser: Any, site: tuple[Env, str, str, datetime]
) -> None:
    env, url, auth, now = site
    case = env.client(Role.INVESTIGATOR).post(
        "/api/v1/cases", json={"title": "hit and run", "reason": "opened"}
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    errors: list[str] = []
    page = signed_in(
        browser, url, "investigator", PASSWORD, errors, timeout_ms=90_000, timezone_id="UTC"
    )
    page.get_by_role("link", name="Footage search").click()
    page.locator("h1:focus", has_text="Footage search").wait_for()
    assert page.locator("#fs-plate-fields").is_hidden() and page.locator("#fs-probe").is_visible()
    _fill(page, case_id, auth, now, plate_of(SOUGHT))
    assert page.locator("#fs-probe").is_hidden()
    with page.expect_response(lambda r: r.url.endswith("/investigations/plate-jobs")) as got:
        page.get_by_role("button", name="Start search").click()
    assert got.value.status == 202, got.value.text()
    job_id = got.value.json()["id"]
    page.locator("#fs-status[data-state=done]").wait_for()
    held = PostEventStore(env.repo.db).results(job_id)
    grouped = group_appearances(held, timedelta(seconds=3))
    rows = page.locator("#fs-table tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(grouped) == 1
    assert rows.first.get_attribute("data-hits") == str(grouped[0].hits)
    assert plate_of(SOUGHT) in rows.first.inner_text()
    page.get_by_role("button", name="Show frames").click()
    frames = page.locator("#fs-hits tbody tr")
    frames.first.wait_for()
    shown = {frames.nth(i).get_attribute("data-result-id") for i in range(frames.count())}
    assert shown == {r.id for r in held}
    # A plate query the plate search would refuse: the API's message, no job.
    page.locator("#fs-plate").fill("D*")
    with page.expect_response(lambda r: r.url.endswith("/investigations/plate-jobs")) as got:
        page.get_by_role("button", name="Start search").click()
    assert got.value.status == 422
    page.locator("#fs-errors").get_by_text("fixed character").first.wait_for()
    # The case page lists the search and the same appearance.
    page.goto(f"{url}/#/cases/{case_id}")
    listed = page.locator(f"section[data-job-id='{job_id}']")
    listed.get_by_text(f"Search for plate {plate_of(SOUGHT)}").wait_for()
    rows = listed.locator("tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-hits") == str(grouped[0].hits)
    link = rows.first.get_by_role("link", name="Clip").get_attribute("href")
    assert link is not None and link.startswith("/api/v1/cameras/cam-1/clips?start=")
    assert not errors, errors
