"""The console's playback page in Chromium: footage of a camera with its event timeline.

Real recorded footage (the Intel H.264 clip, recorded through the real source tee into the
test's database), the real app served by uvicorn, Debian's Chromium driven by Playwright. From
an alert's page one click opens the footage around it; the timeline lists the camera's alerts;
a view needs a reason and is audited; the clip plays in the browser's <video>.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.api_env import PASSWORD, Env, build_env
from tests.support.browser import require_chromium, signed_in
from tests.support.polling import wait_for
from tests.support.recording import index_over, intel_clip, record_file
from tests.support.served import served
from vigil.config.recording import PrivacyMask, RecordingConfig
from vigil.core.domain import Role
from vigil.core.records import Alert, AlertKind
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.recordings import CameraRecording, RecordingService

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, Alert]]:
    require_chromium()
    env = build_env(tmp_path_factory.mktemp("playback"))
    index = index_over(env.repo.db, env.tmp / "rec")
    record_file(intel_clip(), index, frames=9, segment_s=2.0)
    rows = index.window("cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    alert = Alert(
        "al-playback", AlertKind.PLATE_HIT, "cam-1", rows[1].started_at + timedelta(seconds=1), 0.9
    )
    env.repo.add_alert(alert)
    mask = PrivacyMask(polygon=[[0, 0], [0.3, 0], [0.3, 0.3]], name="a window")
    env.svc.recordings = RecordingService(
        env.repo,
        env.svc.audit,
        index,
        {"cam-1": CameraRecording("continuous", timedelta(days=31), (mask,))},
        settings=RecordingConfig(),
        cache_dir=env.tmp / "clips",
    )
    with served(env.app) as port:
        yield env, f"http://127.0.0.1:{port}", alert
    env.repo.db.dispose()


def _page(browser: Any, url: str, role: Role, errors: list[str]) -> Any:
    username = role.value.replace("_", "-")
    return signed_in(browser, url, username, PASSWORD, errors, timeout_ms=15_000)


def test_one_click_from_an_alert_to_its_footage_with_the_timeline(
    browser: Any, site: tuple[Env, str, Alert]
) -> None:
    env, url, alert = site
    errors: list[str] = []
    page = _page(browser, url, Role.OPERATOR, errors)
    page.goto(f"{url}/console/#/alerts/{alert.id}")
    page.locator("#play-footage").click()
    page.get_by_role("heading", name="Playback").wait_for()
    # The timeline lists the alert; its button plays the window around it.
    item = page.locator(f'#pb-events li[data-alert-id="{alert.id}"]')
    item.wait_for()
    page.locator("#pb-reason").fill("checking plate hit al-playback")
    with page.expect_response(lambda r: "/clips?" in r.url and r.status in (200, 206)) as got:
        item.get_by_role("button").click()
    assert got.value.headers["x-vigil-masked"] == "true"
    video = page.locator("#pb-video")
    wait_for("the video's metadata", lambda: video.evaluate("v => v.readyState") >= 1, 20, 0.1)
    duration = video.evaluate("v => v.duration")
    # The 30 s window around the alert holds all of the ~9 s recorded: the clip is all of it.
    assert env.svc.recordings is not None
    rows = env.svc.recordings.index.window(
        "cam-1", alert.raised_at - timedelta(seconds=10), alert.raised_at + timedelta(seconds=20)
    )
    footage = (rows[-1].ended_at - rows[0].started_at).total_seconds()
    assert duration == pytest.approx(footage, abs=0.25)
    views = [e for e in iter_entries(env.repo) if e.action == AuditAction.RECORDING_VIEW.value]
    assert [v.reason for v in views] == ["checking plate hit al-playback"]
    assert not errors, errors


def test_without_a_reason_nothing_plays_and_auditors_see_no_playback(
    browser: Any, site: tuple[Env, str, Alert]
) -> None:
    _, url, alert = site
    errors: list[str] = []
    page = _page(browser, url, Role.SUPERVISOR, errors)
    page.goto(f"{url}/console/#/playback/cam-1/{alert.raised_at.isoformat()}")
    page.locator(f'#pb-events li[data-alert-id="{alert.id}"] button').click()
    page.get_by_text("Give a reason for viewing first.").wait_for()
    assert page.locator("#pb-video").get_attribute("src") is None
    # A window with nothing recorded shows the API's 404 message.
    page.locator("#pb-start").fill("2001-01-01T00:00:00Z")
    page.locator("#pb-end").fill("2001-01-01T00:00:30Z")
    page.locator("#pb-reason").fill("looking for the old footage")
    page.get_by_role("button", name="Play").click()
    page.get_by_text("nothing was recorded").wait_for()
    auditor = _page(browser, url, Role.AUDITOR, errors)
    auditor.get_by_role("link", name="Audit").wait_for()
    assert auditor.get_by_role("link", name="Playback").count() == 0
    assert not errors, errors
