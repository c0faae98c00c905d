"""The console's case page in Chromium: items, an outcome, an evidence export, closing the case;
each step checked against what the API stored. Skips with the fix when Playwright or
``/usr/bin/chromium`` (``$VIGIL_CHROMIUM``) is missing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_env import PASSWORD, Env, add_alert, build_env
from tests.support.browser import signed_in
from tests.support.served import served
from vigil.core.domain import Role
from vigil.core.records import AlertKind
from vigil.governance.actors import Actor

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    env = build_env(tmp_path_factory.mktemp("console-cases"))
    with served(env.app) as port:
        yield env, f"http://127.0.0.1:{port}"
    env.repo.db.dispose()


def _page(browser: Any, url: str, role: Role, errors: list[str]) -> Any:
    username = role.value.replace("_", "-")
    return signed_in(
        browser, url, username, PASSWORD, errors, timeout_ms=10_000, console_errors=True
    )


def test_an_investigator_works_a_case_from_its_page(
    browser: Any, site: tuple[Env, str], tmp_path: Path
) -> None:
    env, url = site
    inv = Actor.of(env.users[Role.INVESTIGATOR], Role.INVESTIGATOR)
    case = env.svc.purger.open_case(inv, "missing person, Elm St", "report 17")
    alert = add_alert(env.repo, env.svc.media, kind=AlertKind.FACE_MATCH)  # type: ignore[arg-type]
    env.svc.purger.hold(inv, case.id, "alert", alert.id, "seen at the station")
    errors: list[str] = []
    page = _page(browser, url, Role.INVESTIGATOR, errors)
    page.get_by_role("link", name="Cases").click()
    page.get_by_role("link", name="missing person, Elm St").click()
    page.get_by_role("heading", name="Case: missing person, Elm St").wait_for()
    assert alert.id[:8] in page.locator("#case-items").inner_text()

    page.get_by_label("Outcome", exact=True).select_option("arrest")
    page.get_by_label("Follows from alert").select_option(alert.id)
    page.locator("#outcome-reason").fill("arrested at the station")
    page.get_by_role("button", name="Record outcome").click()
    page.locator("#case-outcomes").get_by_text("arrested at the station").wait_for()
    (stored,) = env.svc.cases.store.outcomes(case.id)
    assert (stored.outcome, stored.alert_id) == ("arrest", alert.id)

    page.get_by_label("Unredacted (needs a reason; audited)").check()
    page.locator("#export-reason").fill("prosecutor's copy, order 12/7")
    page.get_by_role("button", name="Export bundle").click()
    page.locator("#export-download").wait_for()
    sha = page.locator("#export-sha").inner_text().strip()
    exports = {k.target_id for k in env.repo.case_links(case.id) if k.kind == "export"}
    assert sha in exports and len(sha) == 64
    with page.expect_download() as dl:
        page.locator("#export-download").click()
    saved = tmp_path / "bundle.zip"
    dl.value.save_as(saved)
    assert saved.stat().st_size > 0

    page.locator("#step-reason").fill("charged, file sent")
    page.get_by_role("button", name="Close case").click()
    page.get_by_text("State: closed").wait_for()
    assert env.repo.get_case(case.id).status == "closed"
    page.get_by_role("button", name="Release holds").wait_for()
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True)
    assert not [e for e in errors if "status of" not in e], errors


def test_an_operator_has_no_case_page_and_sees_the_refusal(
    browser: Any, site: tuple[Env, str]
) -> None:
    _, url = site
    errors: list[str] = []
    page = _page(browser, url, Role.OPERATOR, errors)
    assert page.get_by_role("link", name="Cases").count() == 0
    page.goto(url + "/console/#/cases")
    alert = page.locator("[role=alert]")
    alert.wait_for()
    assert "403" in alert.inner_text()
