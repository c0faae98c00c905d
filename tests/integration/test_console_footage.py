"""The console's footage-search page in Chromium: an investigator uploads a real probe photo,
the job runs in the real worker thread over footage recorded through the real recorder, the page
follows its progress and lists the same hits the API holds; a search without an approved
authorisation shows the API's refusal; operators get no such page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api_env import PASSWORD, Env, build_env
from tests.support.browser import require_chromium, signed_in
from tests.support.postevent import authorised_runner, scheduled_clip
from tests.support.recording import index_over, record_file
from tests.support.served import served
from vigil.core.domain import Role
from vigil.governance.appearances import group_appearances
from vigil.models.installer import model_path
from vigil.storage.postevent import PostEventStore

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, str, datetime]]:
    require_chromium()
    tmp = tmp_path_factory.mktemp("footage")
    env = build_env(tmp)
    index = index_over(env.repo.db, tmp / "rec")
    now = datetime.now(UTC).replace(microsecond=0)
    record_file(scheduled_clip(tmp), index, frames=7, segment_s=2.0)
    auth, runner = authorised_runner(env, index, "warrant 8")
    runner.start()
    with served(env.app) as port:
        yield env, f"http://127.0.0.1:{port}", auth, now
    runner.stop()
    env.repo.db.dispose()


def _page(browser: Any, url: str, role: Role, errors: list[str]) -> Any:
    username = role.value.replace("_", "-")
    return signed_in(browser, url, username, PASSWORD, errors, timeout_ms=60_000, timezone_id="UTC")


def _fill(page: Any, case: str, auth: str, now: datetime) -> None:
    page.locator("#fs-probe").set_input_files(str(model_path("demo-obama")))
    page.locator("#fs-case").fill(case)
    page.locator("#fs-auth").fill(auth)
    page.locator("#fs-cameras").fill("cam-1")
    page.locator("#fs-start").fill((now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#fs-end").fill((now + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S"))
    page.locator("#fs-reason").fill("robbery suspect")


def test_a_search_runs_and_lists_the_apis_hits_and_a_refusal_shows(
    browser: Any, site: tuple[Env, str, str, datetime]
) -> None:
    env, url, auth, now = site
    case = env.client(Role.INVESTIGATOR).post(
        "/api/v1/cases", json={"title": "robbery", "reason": "opened"}
    )
    assert case.status_code == 201, case.text
    errors: list[str] = []
    page = _page(browser, url, Role.INVESTIGATOR, errors)
    page.get_by_role("link", name="Footage search").click()
    page.locator("h1:focus", has_text="Footage search").wait_for()
    _fill(page, case.json()["id"], auth, now)
    with page.expect_response(lambda r: r.url.endswith("/investigations/jobs")) as got:
        page.get_by_role("button", name="Start search").click()
    assert got.value.status == 202, got.value.text()
    job_id = got.value.json()["id"]
    page.locator("#fs-status[data-state=done]").wait_for()
    rows = page.locator("#fs-table tbody tr")
    rows.first.wait_for()
    held = PostEventStore(env.repo.db).results(job_id)
    grouped = group_appearances(held, timedelta(seconds=3))
    assert [rows.nth(i).get_attribute("data-hits") for i in range(rows.count())] == [
        str(a.hits) for a in grouped
    ]
    page.get_by_role("button", name="Show frames").click()
    frames = page.locator("#fs-hits tbody tr")
    frames.first.wait_for()
    shown = {frames.nth(i).get_attribute("data-result-id") for i in range(frames.count())}
    assert shown == {r.id for r in held} and held
    # No approved authorisation: the API's 403 is shown, nothing listed.
    page.locator("#fs-auth").fill("nosuch")
    page.locator("#fs-probe").set_input_files(str(model_path("demo-obama")))
    with page.expect_response(lambda r: r.url.endswith("/investigations/jobs")) as got:
        page.get_by_role("button", name="Start search").click()
    assert got.value.status == 403
    page.locator("#fs-errors").get_by_text("refused").first.wait_for()
    assert not errors, errors


def test_operators_have_no_footage_search(
    browser: Any, site: tuple[Env, str, str, datetime]
) -> None:
    _, url, _, _ = site
    errors: list[str] = []
    page = _page(browser, url, Role.OPERATOR, errors)
    assert page.get_by_role("link", name="Footage search").count() == 0
    assert not errors, errors
