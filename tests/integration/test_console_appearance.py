"""The console's appearance-search page in Chromium: a colour query lists ranked sightings with
a link to their footage, and a query naming a protected characteristic shows the API's refusal
(which the API audits). The real app served by uvicorn, Debian's Chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.support.api_env import PASSWORD, Env, build_env
from tests.support.browser import require_chromium, signed_in
from tests.support.served import served
from vigil.core.domain import Role
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.audit import AuditAction, iter_entries

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    require_chromium()
    env = build_env(tmp_path_factory.mktemp("appearance"))
    now = env.svc.clock()
    env.repo.add_sightings(
        [
            Sighting(
                "red-blue-a",
                "cam-1",
                ObjectClass.PERSON,
                now - timedelta(minutes=5),
                now,
                0.5,
                upper_colour="red",
                lower_colour="blue",
                colour_score=0.9,
                direction="left",
            ),
            Sighting(
                "red-blue-b",
                "cam-2",
                ObjectClass.PERSON,
                now - timedelta(minutes=9),
                now,
                0.5,
                upper_colour="red",
                lower_colour="blue",
                colour_score=0.4,
                direction="up",
            ),
            Sighting(
                "black-blue",
                "cam-1",
                ObjectClass.PERSON,
                now,
                now,
                0.5,
                upper_colour="black",
                lower_colour="blue",
                colour_score=0.9,
            ),
        ]
    )
    with served(env.app) as port:
        yield env, f"http://127.0.0.1:{port}"
    env.repo.db.dispose()


def _page(browser: Any, url: str, role: Role, errors: list[str]) -> Any:
    username = role.value.replace("_", "-")
    return signed_in(browser, url, username, PASSWORD, errors, timeout_ms=15_000)


def test_a_colour_search_lists_ranked_sightings_and_a_protected_query_is_refused(
    browser: Any, site: tuple[Env, str]
) -> None:
    env, url = site
    errors: list[str] = []
    page = _page(browser, url, Role.INVESTIGATOR, errors)
    page.get_by_role("link", name="Appearance").click()
    page.locator("h1:focus", has_text="Appearance search").wait_for()  # focus follows the page
    page.locator("#as-upper").select_option("red")
    page.locator("#as-lower").select_option("blue")
    page.locator("#as-reason").fill("case 41 robbery")
    with page.expect_response(lambda r: "/sightings/search?" in r.url) as got:
        page.get_by_role("button", name="Search").click()
    assert got.value.status == 200
    rows = page.locator("#as-table tbody tr")
    rows.first.wait_for()
    ids = [rows.nth(i).get_attribute("data-sighting-id") for i in range(rows.count())]
    assert ids == ["red-blue-a", "red-blue-b"]  # ranked by colour share, black top left out
    href = rows.first.get_by_role("link", name="Play").get_attribute("href")
    assert href is not None and href.startswith("#/playback/cam-1/")
    # A protected query: the API's 422 refusal is shown and nothing is listed.
    page.locator("#as-q").fill("Asian woman in red")
    with page.expect_response(lambda r: "/sightings/search?" in r.url) as got:
        page.get_by_role("button", name="Search").click()
    assert got.value.status == 422
    page.locator("#as-errors").get_by_text("does not search people by").wait_for()
    assert page.locator("#as-table").count() == 0
    actions = [e.action for e in iter_entries(env.repo)]
    assert AuditAction.SEARCH.value in actions and AuditAction.SEARCH_REFUSED.value in actions
    assert not errors, errors


def test_operators_have_no_appearance_search(browser: Any, site: tuple[Env, str]) -> None:
    _, url = site
    errors: list[str] = []
    page = _page(browser, url, Role.OPERATOR, errors)
    assert page.get_by_role("link", name="Appearance").count() == 0
    assert not errors, errors
