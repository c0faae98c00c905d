"""The web console in a real browser: Debian's Chromium driven by Playwright, against the real app.

The app is the one the API tests build (``tests.support.api_env.build_env``: a temporary SQLite
database, one user per role with ``PASSWORD``), served by uvicorn on loopback with its background
tasks on: the event watcher that announces committed alerts and camera state changes on the
WebSocket. A watchlist with one enrolled subject and an approved deployment are made through the
governance services; alerts are committed the way the live identifier commits them (probe crop in
the media store, sighting, alert row with score, calibrated false-alert rate, rank-2 margin and
the matched template), so the console sees exactly what it would see in production. Plate reads
are stored through the repository the API's plate search reads, as the plate stage stores them.
The face pipeline is the tests' fake (no models needed); the camera system is a stub whose states
a test sets.

Screenshots go to ``$VIGIL_CONSOLE_SCREENSHOTS`` when set (to look at them), else a temp dir.
Every page fails its test on a JavaScript error or a console error (a CSP violation is one).
Skips with the fix when Playwright or ``/usr/bin/chromium`` (``$VIGIL_CHROMIUM``) is missing
(``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_env import PASSWORD, Env, build_env, jpeg
from tests.support.served import served
from vigil.api.app import create_app
from vigil.core.domain import CameraRow, Decision, Role
from vigil.core.records import (
    Alert,
    AlertKind,
    AlertStatus,
    CrowdSample,
    ObjectClass,
    PlateRead,
    Sighting,
)
from vigil.governance.accounts import token_hash
from vigil.governance.actors import Actor
from vigil.governance.audit import iter_entries
from vigil.governance.deployments import DeploymentRequest, Purpose
from vigil.governance.report import build_oversight
from vigil.governance.watchlists import Category, EnrolmentPhoto
from vigil.identification.calibration import RateEstimate
from vigil.notify.watcher import EventWatcher
from vigil.storage.drift import DriftRow, DriftStore
from vigil.storage.repository import plate_key

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')"
)
WAIT_MS = 10_000
USERNAMES = {role: role.value.replace("_", "-") for role in Role}


class StubCameras:
    """The running camera system as the API and the event watcher see it; tests set states."""

    def __init__(self, ids: list[str]) -> None:
        self.since = datetime.now(UTC)
        self.states: dict[str, tuple[str, str | None]] = dict.fromkeys(ids, ("online", None))

    def set(self, camera_id: str, state: str, error: str | None = None) -> None:
        self.states[camera_id] = (state, error)

    def statuses(self) -> list[tuple[str, str, str | None]]:
        return [(c, s, e) for c, (s, e) in self.states.items()]

    def camera_view(self) -> list[dict[str, Any]]:
        return [
            {
                "camera_id": c,
                "state": s,
                "since": self.since.isoformat(),
                "last_error": e,
                "frames_analysed": 1200,
                "faces_seen": 40,
                "faces_embedded": 12,
                "analysis_failures": 0,
                "face_ms": 31.5,
                "dropped_frames": 3,
                # cam-1 runs the people stage; cam-2 does not (null counts)
                **(
                    {"people_now": 7, "person_tracks_total": 23, "crowd_count": 6.5}
                    if c == "cam-1"
                    else {}
                ),
            }
            for c, (s, e) in self.states.items()
        ]


#: The rate the test alert displays: bound, point and the calibration counts behind them.
FAR = RateEstimate(0.0019, 0.0042, 12, 10_451_452)


@dataclass
class Console:
    env: Env
    url: str
    cameras: StubCameras
    watchlist_id: str
    template_id: str
    deployment_id: str
    shots: Path


def _actor(env: Env, role: Role) -> Actor:
    return Actor.from_user(env.repo.get_user(username=USERNAMES[role]))


def _seed(env: Env) -> tuple[str, str, str]:
    """A watchlist with one enrolled subject and an approved deployment on cam-1."""
    investigator = _actor(env, Role.INVESTIGATOR)
    now = datetime.now(UTC)
    wl = env.svc.watchlists.create(
        investigator,
        name="Missing person MP-17",
        category=Category.MISSING_OR_VULNERABLE,
        reason="report MP-17: missing since Tuesday",
        expires_at=now + timedelta(days=2),
    )
    env.svc.watchlists.enrol(
        investigator,
        wl,
        label="MP-17",
        photos=[EnrolmentPhoto(jpeg((70, 110, 170), 160), "family photo, report MP-17")],
        reason="reported missing by the family",
    )
    template = env.repo.templates_for_watchlist(wl)[0].id
    dep = env.svc.deployments.request(
        investigator,
        DeploymentRequest(
            purpose=Purpose.VICTIM_SEARCH,
            legal_reference="Order 2025/117, district court",
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=12),
            watchlist_ids=(wl,),
            camera_ids=("cam-1",),
            reason="missing person last seen near the station",
        ),
    )
    env.svc.deployments.approve(
        _actor(env, Role.AUTHORISING_OFFICER), dep, "necessary and proportionate for MP-17"
    )
    return wl, template, dep


def commit_face_alert(
    console: Console, score: float = 0.71, details: list[tuple[str, str]] | None = None
) -> Alert:
    """Commit a face alert as the live identifier does (crop, sighting, alert, audit entry;
    ``details``: the raise entry's details, which the oversight report reads)."""
    env = console.env
    now = datetime.now(UTC)
    crop = env.svc.media.put(jpeg((150, 120, 100), 112))
    sighting = uuid.uuid4().hex
    env.repo.add_sightings(
        [Sighting(sighting, "cam-1", ObjectClass.FACE, now - timedelta(seconds=4), now, 0.8, crop)]
    )
    subject = env.repo.templates_for_watchlist(console.watchlist_id)[0].subject_id
    alert = Alert(
        id=uuid.uuid4().hex,
        kind=AlertKind.FACE_MATCH,
        camera_id="cam-1",
        raised_at=now,
        score=score,
        deployment_id=console.deployment_id,
        subject_id=subject,
        false_alert_rate=FAR.upper,
        false_alert_point=FAR.point,
        calibration_count=FAR.count,
        calibration_comparisons=FAR.comparisons,
        rank2_margin=0.183,
        template_id=console.template_id,
        detail=f"watchlist={console.watchlist_id} gallery=1",
    )
    env.repo.add_alert(alert, sighting_id=sighting, probe_key=crop)
    env.svc.audit.append(
        "system",
        "alert.raise",
        f"alert:{alert.id}",
        "best shot at or above the threshold",
        details or [],
    )
    return alert


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    env = build_env(tmp_path_factory.mktemp("console"))
    cameras = StubCameras(["cam-1", "cam-2"])
    env.svc.background.append(
        EventWatcher(env.repo, env.svc.hub, statuses=cameras.statuses, poll_s=0.05, slow_s=0.25)
    )
    app = create_app(
        env.app.state.config,
        services=env.svc,
        system=cameras,  # type: ignore[arg-type]
        start_background=True,
    )
    wl, template, dep = _seed(env)
    shots = Path(os.environ.get("VIGIL_CONSOLE_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with served(app) as port:
        yield Console(env, f"http://127.0.0.1:{port}", cameras, wl, template, dep, shots)
    env.repo.db.dispose()


@pytest.fixture
def new_page(browser: Any, console: Console) -> Iterator[Callable[[], Any]]:
    """Pages in fresh browser contexts (separate cookie jars: separate people); each fails the
    test on a page error or a console error."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make() -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(WAIT_MS)
        page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
        page.on(
            "console",
            lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    # an expected refusal (401 on a bad login, 403/409 answers) is logged by Chromium as a
    # failed resource load; anything else is a defect in the console
    unexpected = [e for e in errors if "the server responded with a status of" not in e]
    assert not unexpected, unexpected


def sign_in(page: Any, console: Console, role: Role, password: str = PASSWORD) -> None:
    page.goto(console.url + "/")
    page.get_by_label("Username").fill(USERNAMES[role])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def signed_in(page: Any, console: Console, role: Role) -> Any:
    sign_in(page, console, role)
    page.get_by_text("Signed in as").wait_for()
    page.get_by_text("Live updates: connected").wait_for()
    return page


def test_bad_login_shows_the_api_error(new_page: Callable[[], Any], console: Console) -> None:
    page = new_page()
    sign_in(page, console, Role.OPERATOR, password="not the password")
    error = page.locator("#login-errors [role=alert]")
    error.wait_for()
    assert "401" in error.inner_text()
    assert "(unauthenticated)" in error.inner_text()
    assert page.locator("#nav").is_hidden()
    assert page.get_by_role("button", name="Sign out").is_hidden()
    page.screenshot(path=str(console.shots / "login-error.png"), full_page=True)


def test_alert_arrives_live_and_two_people_confirm(
    new_page: Callable[[], Any], console: Console
) -> None:
    env = console.env
    op = signed_in(new_page(), console, Role.OPERATOR)
    assert op.url.endswith("#/alerts")
    op.evaluate("window.__sameDocument = true")
    alert = commit_face_alert(console)
    row = op.locator(f"tr[data-alert-id='{alert.id}']")
    row.wait_for()
    assert op.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert "pending" in row.inner_text()
    op.screenshot(path=str(console.shots / "alerts-live.png"), full_page=True)

    row.get_by_role("link", name="Open").click()
    banner = op.get_by_role("note", name="A lead, not an identification")
    assert "This is a lead, not an identification." in banner.inner_text()
    assert "two independent confirmations" in banner.inner_text()
    assert op.locator("#fact-score").inner_text().startswith("0.710")
    far = op.locator("#fact-far").inner_text()  # the bound first, two digits, then the point
    assert far.startswith(FAR.text()) and far.startswith("0.0042 (1 in 240) at most, 95% upper")
    basis = op.locator("#fact-far-basis").inner_text()
    assert "0.0019 (point estimate) to 0.0042 (one-sided 95% upper bound" in basis
    assert "from 12 of 10,451,452 impostor comparisons" in basis
    assert op.locator("#fact-margin").inner_text().startswith("0.183")

    op.get_by_label("Why are you viewing these faces?").fill("verifying the MP-17 alert")
    op.get_by_role("button", name="Show face images").click()
    for what in ("probe", "enrolled"):
        img = op.locator(f"#img-{what}")
        img.wait_for()
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), what
    op.screenshot(path=str(console.shots / "alert-faces.png"), full_page=True)
    views = [e for e in env.repo.audit_entries() if e.action == "media.view_biometric"]
    assert {(e.target, e.reason) for e in views} == {
        (f"alert:{alert.id}", "verifying the MP-17 alert")
    }
    assert len(views) == 2

    # a decision without a reason does not leave the browser (and the API would refuse it)
    op.get_by_label("Confirm — I believe this is the same person").check()
    op.get_by_role("button", name="Record decision").click()
    assert op.locator("#decision-reason").evaluate("t => !t.validity.valid")
    assert env.repo.list_verifications(alert.id) == []

    op.get_by_label("Reason (required; recorded with your decision)").fill(
        "same face shape, hairline and ears as the enrolled photo"
    )
    op.get_by_role("button", name="Record decision").click()
    op.locator("#detail-status").get_by_text(
        "Decision recorded. The alert is now one confirmed."
    ).wait_for()
    assert env.repo.get_alert(alert.id).status is AlertStatus.ONE_CONFIRMED
    assert op.locator("#img-probe").count() == 1  # the faces stay while deciding

    # the same person confirming again: the API's 409, shown as it came
    op.get_by_label("Confirm — I believe this is the same person").check()
    op.get_by_label("Reason (required; recorded with your decision)").fill("confirming again")
    op.get_by_role("button", name="Record decision").click()
    refusal = op.locator("#decision-errors [role=alert]")
    refusal.wait_for()
    assert "409" in refusal.inner_text() and "already decided" in refusal.inner_text()
    op.screenshot(path=str(console.shots / "alert-refused-409.png"), full_page=True)

    sup = signed_in(new_page(), console, Role.SUPERVISOR)
    sup.goto(f"{console.url}/console/#/alerts/{alert.id}")
    assert "one confirmed" in sup.locator("dl.facts").inner_text()
    sup.get_by_label("Confirm — I believe this is the same person").check()
    sup.get_by_label("Reason (required; recorded with your decision)").fill(
        "agree: same person; checked the enrolled photo myself"
    )
    sup.get_by_role("button", name="Record decision").click()
    sup.locator("#detail-status").get_by_text(
        "Decision recorded. The alert is now actionable."
    ).wait_for()
    assert "actionable" in sup.locator("dl.facts").inner_text()
    assert sup.locator("#decision-form").count() == 0  # decided: no more verification
    assert sup.locator("#decisions tbody tr").count() == 2
    assert env.repo.get_alert(alert.id).status is AlertStatus.ACTIONABLE
    sup.screenshot(path=str(console.shots / "alert-actionable.png"), full_page=True)


def test_auditor_sees_the_chain_check_and_no_decisions(
    new_page: Callable[[], Any], console: Console
) -> None:
    commit_face_alert(console)
    page = signed_in(new_page(), console, Role.AUDITOR)
    assert page.url.endswith("#/audit")
    result = page.locator("#verify-result [data-ok]")
    result.wait_for()
    assert result.get_attribute("data-ok") == "true"
    assert "Chain intact" in result.inner_text()
    # the entries load after the verification result is shown: wait for them, don't race them
    page.locator("#audit-entries tbody tr").first.wait_for()
    assert page.locator("#audit-entries tbody tr").count() > 0
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Alerts").count() == 0
    assert nav.get_by_role("link", name="Audit").count() == 1
    page.screenshot(path=str(console.shots / "audit.png"), full_page=True)

    page.goto(f"{console.url}/console/#/alerts")  # hidden from auditors; the API refuses too
    refusal = page.locator("#alerts-errors [role=alert]")
    refusal.wait_for()
    assert "403" in refusal.inner_text() and "(forbidden)" in refusal.inner_text()
    assert page.get_by_role("button", name="Record decision").count() == 0
    assert page.locator("img").count() == 0


def test_cameras_show_state_changes_live(new_page: Callable[[], Any], console: Console) -> None:
    page = signed_in(new_page(), console, Role.OPERATOR)
    page.get_by_role("link", name="Cameras").click()
    row = page.locator("tr[data-camera-id='cam-2']")
    expect = sync_api.expect
    expect(row).to_contain_text("online", timeout=WAIT_MS)
    page.evaluate("window.__sameDocument = true")
    console.cameras.set("cam-2", "degraded", "frozen picture (tamper signal)")
    try:
        expect(row).to_contain_text("frozen picture (tamper signal)", timeout=WAIT_MS)
        assert "degraded" in row.inner_text()
        assert "online" in page.locator("tr[data-camera-id='cam-1']").inner_text()
        assert page.evaluate("window.__sameDocument") is True
        page.screenshot(path=str(console.shots / "cameras.png"), full_page=True)
    finally:
        console.cameras.set("cam-2", "online")


def test_cameras_show_people_counts_and_live_crowd_samples(
    new_page: Callable[[], Any], console: Console
) -> None:
    page = signed_in(new_page(), console, Role.OPERATOR)
    page.get_by_role("link", name="Cameras").click()
    expect = sync_api.expect
    cam1, cam2 = (page.locator(f"tr[data-camera-id='{c}']") for c in ("cam-1", "cam-2"))
    people, tracks, crowd = 5, 6, 7  # <td> positions after the camera's <th>
    expect(cam1.locator("td").nth(tracks)).to_have_text("23", timeout=WAIT_MS)
    assert cam1.locator("td").nth(people).inner_text() == "7"
    assert cam1.locator("td").nth(crowd).inner_text() == "6.5"
    assert cam2.locator("td").nth(crowd).inner_text() == "—"  # no people stage there
    # A crowd sample stored for cam-2 arrives over the WebSocket without a reload.
    sample = CrowdSample("cam-2", datetime.now(UTC), 12.0, "boxes")
    console.env.repo.add_crowd_samples([sample])
    expect(cam2.locator("td").nth(crowd)).to_have_text("12", timeout=WAIT_MS)


def test_deployments_list_purpose_legal_basis_and_time_box(
    new_page: Callable[[], Any], console: Console
) -> None:
    page = signed_in(new_page(), console, Role.AUTHORISING_OFFICER)
    page.get_by_role("link", name="Deployments").click()
    row = page.locator(f"tr[data-deployment-id='{console.deployment_id}']")
    text = row.inner_text()
    assert "Search for a victim or a missing person" in text
    assert "Order 2025/117, district court" in text
    assert "cam-1" in text and "approved" in text and "in force now" in text
    # the drift watch as the authorising officer sees it at renewal
    store = DriftStore(console.env.repo.db)
    now = datetime.now(UTC)
    store.put(DriftRow(console.deployment_id, 1.5e-3, 11.0, 2400, 9, now, now, 2400, 9))
    page.reload()
    flag = row.locator("[data-drift='flagged']")
    flag.wait_for()
    assert "false alerts above the calibrated rate: 9 rejected in 2,400 searches" in (
        flag.inner_text()
    )
    assert "under-represents East Asian faces" in row.inner_text()
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Alerts").count() == 0
    page.screenshot(path=str(console.shots / "deployments.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    page.goto(f"{console.url}/console/#/deployments")  # a fresh load asks to sign in again
    page.get_by_role("heading", name="Sign in to Vigil").wait_for()


def test_authorising_officer_approves_and_refuses_with_a_reason(
    new_page: Callable[[], Any], console: Console
) -> None:
    env, now = console.env, datetime.now(UTC)

    def request(legal: str) -> str:
        return env.svc.deployments.request(
            _actor(env, Role.INVESTIGATOR),
            DeploymentRequest(
                purpose=Purpose.VICTIM_SEARCH,
                legal_reference=legal,
                starts_at=now + timedelta(minutes=5),
                ends_at=now + timedelta(hours=2),
                watchlist_ids=(console.watchlist_id,),
                camera_ids=("cam-2",),
                reason="missing child seen near cam-2",
            ),
        )

    to_approve, to_refuse = request("Order 2025/201"), request("Order 2025/202")
    page = signed_in(new_page(), console, Role.AUTHORISING_OFFICER)
    page.get_by_role("link", name="Deployments").click()
    expect = sync_api.expect
    row = page.locator(f"tr[data-deployment-id='{to_approve}']")
    expect(row).to_contain_text("requested", timeout=WAIT_MS)
    row.get_by_role("button", name="Approve").click()  # no reason yet: the form refuses
    reason = row.get_by_label("Reason (recorded)")
    assert reason.evaluate("e => e.validity.valueMissing") is True
    assert env.repo.get_deployment(to_approve).state.value == "requested"
    reason.fill("necessary: a child is missing")
    row.get_by_role("button", name="Approve").click()
    row = page.locator(f"tr[data-deployment-id='{to_approve}']")
    expect(row).to_contain_text("approved", timeout=WAIT_MS)
    assert env.repo.get_deployment(to_approve).state.value == "approved"
    other = page.locator(f"tr[data-deployment-id='{to_refuse}']")
    other.get_by_label("Reason (recorded)").fill("no legal basis shown for cam-2")
    other.get_by_role("button", name="Refuse").click()
    expect(page.locator(f"tr[data-deployment-id='{to_refuse}']")).to_contain_text(
        "refused", timeout=WAIT_MS
    )
    reasons = [e.reason for e in iter_entries(env.repo) if e.target.endswith(to_refuse)]
    assert "no legal basis shown for cam-2" in reasons
    # An operator sees the list but no decision column.
    op = signed_in(new_page(), console, Role.OPERATOR)
    op.get_by_role("link", name="Deployments").click()
    op.locator(f"tr[data-deployment-id='{to_approve}']").wait_for()
    assert op.get_by_role("button", name="Approve").count() == 0


def test_keyboard_only_sign_in_and_navigation(
    new_page: Callable[[], Any], console: Console
) -> None:
    page = new_page()
    page.goto(console.url + "/")
    page.locator("#username:focus").wait_for()  # the form takes the focus
    page.keyboard.type(USERNAMES[Role.OPERATOR])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_text("Signed in as").wait_for()
    # The first page takes the focus on its heading once it has loaded; tabbing before that
    # races with it (seen on a loaded machine), so wait for it.
    page.locator("h1:focus").wait_for()
    focused = []
    for _ in range(24):  # Tab on from the page heading, round the page to the navigation
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.textContent.trim()"))
        if focused[-1] == "Cameras":
            break
    assert focused[-1] == "Cameras", focused
    # the skip link comes first in the page, before the navigation
    assert focused[-4:] == ["Skip to content", "Alerts", "Live", "Cameras"], focused
    page.keyboard.press("Enter")
    page.locator("h1:focus", has_text="Cameras").wait_for()  # focus follows the page change


def test_supervisor_manages_a_hotlist_on_the_plates_page(
    new_page: Callable[[], Any], console: Console
) -> None:
    env, expect = console.env, sync_api.expect
    assert env.svc.hotlists is not None  # governance_services wires plates
    store = env.svc.hotlists.store
    page = signed_in(new_page(), console, Role.SUPERVISOR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plates").click()
    page.locator("h1:focus", has_text="Plates").wait_for()
    assert page.locator("#plate-search-form").count() == 0  # the API allows investigators only

    name = f"Stolen vehicles {uuid.uuid4().hex[:6]}"
    form = page.locator("#hotlist-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("Priority (0-100)").fill("80")
    form.get_by_label("Reason for the list (recorded)").fill(
        "thefts reported this week, op. 2025/88"
    )
    form.get_by_label("Keep hits for (days)").fill("30")
    form.get_by_role("button", name="Create hotlist").click()
    row = page.locator("#hotlists tbody tr", has_text=name)
    expect(row).to_contain_text("thefts reported this week", timeout=WAIT_MS)
    hotlist_id = row.get_attribute("data-hotlist-id")
    assert hotlist_id and store.get_hotlist(hotlist_id).priority == 80
    panel = page.locator("#hotlist-detail")
    expect(panel.get_by_role("heading", name=f"Entries of {name}")).to_be_visible(timeout=WAIT_MS)

    panel.get_by_label("Plate or pattern").fill("ab-1234")
    panel.get_by_label("Reason for the entry (recorded)").fill("reported stolen, report 17")
    panel.get_by_role("button", name="Add entry").click()
    entry = page.locator("#hotlist-entries tbody tr", has_text="AB1234")
    expect(entry).to_contain_text("reported stolen, report 17", timeout=WAIT_MS)
    expect(row.locator("td").nth(4)).to_have_text("1")  # the entry count, after the <th> name
    (stored,) = store.list_entries(hotlist_id)
    assert stored.pattern == "AB1234" and stored.reason == "reported stolen, report 17"
    page.screenshot(path=str(console.shots / "plates-hotlists.png"), full_page=True)

    # The API's refusals, as they came: a pattern the service refuses, one the schema refuses,
    # and the same plate again.
    errors = page.locator("#entry-errors [role=alert]")
    for pattern, status, words in (
        ("***", "422", "only '*' matches every plate"),
        ("?*", "422", "at least 4 are needed"),  # the services' one validator, as the API said
        ("AB_12", "422", "pattern: String should match pattern"),
        ("AB 1234", "409", "already holds AB1234"),
    ):
        panel.get_by_label("Plate or pattern").fill(pattern)
        panel.get_by_label("Reason for the entry (recorded)").fill("a witness saw it")
        panel.get_by_role("button", name="Add entry").click()
        expect(errors).to_contain_text(words, timeout=WAIT_MS)
        assert status in errors.inner_text(), errors.inner_text()
    assert len(store.list_entries(hotlist_id)) == 1
    page.screenshot(path=str(console.shots / "plates-entry-refused.png"), full_page=True)

    # Removing the entry and deleting the list send their reasons as X-Vigil-Reason.
    entry.get_by_label("Reason (recorded)").fill("vehicle recovered")
    entry.get_by_role("button", name="Remove AB1234").click()
    expect(page.locator("#no-entries")).to_be_visible(timeout=WAIT_MS)
    assert store.list_entries(hotlist_id) == []
    panel.get_by_label("Reason for deleting this list (recorded)").fill("operation closed")
    panel.get_by_role("button", name="Delete list").click()
    expect(page.locator("#hotlists-status")).to_contain_text(f"Hotlist {name} deleted.")
    expect(page.locator(f"tr[data-hotlist-id='{hotlist_id}']")).to_have_count(0)
    assert hotlist_id not in {h.id for h in store.list_hotlists()}
    reasons = {e.action: e.reason for e in iter_entries(env.repo) if e.target.endswith(hotlist_id)}
    assert reasons["hotlist.create"] == "thefts reported this week, op. 2025/88"
    assert reasons["hotlist.add_entry"] == "reported stolen, report 17"
    assert reasons["hotlist.remove_entry"] == "vehicle recovered"
    assert reasons["hotlist.delete"] == "operation closed"


def test_investigator_runs_an_audited_plate_search(
    new_page: Callable[[], Any], console: Console
) -> None:
    env, expect = console.env, sync_api.expect
    at = datetime.now(UTC) - timedelta(minutes=5)
    read = PlateRead("cam-1", at, "KLM4821", 0.93, "us", (10, 20, 110, 50), track_id=7)
    env.repo.add_plate_reads([read])
    searches = sum(1 for e in iter_entries(env.repo) if e.action == "search.run")
    page = signed_in(new_page(), console, Role.INVESTIGATOR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plates").click()
    form = page.locator("#plate-search-form")
    assert "Every search is audited." in page.locator("#search-reason-help").inner_text()
    form.get_by_label("Plate or partial plate").fill("KLM4822")  # one character off
    form.get_by_label("Fuzzy match").select_option("1")
    form.get_by_label("From (optional)").fill("2020-06-15T12:00")  # local time
    form.get_by_label("Reason (required; recorded in the audit chain)").fill(
        "witness statement, case 2025/311"
    )
    form.get_by_role("button", name="Search").click()
    hit = page.locator(f"#plate-hits tr[data-read-id='{plate_key(read)}']")
    expect(hit).to_contain_text("KLM4821", timeout=WAIT_MS)
    cells = [hit.locator("th, td").nth(i).inner_text() for i in range(3)]
    assert cells == ["KLM4821", "1", "cam-1"]
    assert hit.locator("td").last.inner_text() == plate_key(read)  # whole, for a legal hold
    scan = page.locator("#plate-scan")
    assert "Not truncated" in scan.inner_text() and scan.get_attribute("data-truncated") == "false"
    page.screenshot(path=str(console.shots / "plates-search.png"), full_page=True)
    runs = [e for e in iter_entries(env.repo) if e.action == "search.run"]
    assert len(runs) == searches + 1
    details = dict(runs[-1].details)
    assert runs[-1].reason == "witness statement, case 2025/311"
    assert details["kind"] == "plate" and details["pattern"] == "KLM4822"
    assert details["max_distance"] == "1" and details["from"].startswith("2020-06-15")


def test_investigator_pages_to_older_plate_matches(
    new_page: Callable[[], Any], console: Console
) -> None:
    """The API pages newest first; the console's "Older matches" sends next_cursor back."""
    env, expect = console.env, sync_api.expect
    now = datetime.now(UTC)
    box = (0.0, 0.0, 9.0, 5.0)
    reads = [
        PlateRead("cam-1", now - timedelta(minutes=i + 1), f"PGN1{i:03d}", 0.9, "us", box, i)
        for i in range(105)
    ]
    env.repo.add_plate_reads(reads)
    page = signed_in(new_page(), console, Role.INVESTIGATOR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Plates").click()
    form = page.locator("#plate-search-form")
    form.get_by_label("Plate or partial plate").fill("PGN1*")
    form.get_by_label("Reason (required; recorded in the audit chain)").fill("paging, case 12")
    form.get_by_role("button", name="Search").click()
    expect(page.locator("#plate-page")).to_have_text("Page 1.", timeout=WAIT_MS)
    assert page.locator("#plate-hits tbody tr").count() == 100
    assert page.locator("#plate-scan").get_attribute("data-truncated") == "true"
    page.get_by_role("button", name="Older matches").click()
    expect(page.locator("#plate-page")).to_have_text("Page 2.", timeout=WAIT_MS)
    rows = page.locator("#plate-hits tbody tr")
    assert rows.count() == 5 and page.locator("#plate-older").count() == 0
    texts = [rows.nth(i).locator("th").inner_text() for i in range(5)]
    assert texts == [f"PGN1{i:03d}" for i in range(100, 105)]  # the five oldest, newest first
    runs = [e for e in iter_entries(env.repo) if e.action == "search.run"][-2:]
    assert [dict(e.details)["continued"] for e in runs] == ["false", "true"]


def test_operator_sees_no_plates_page_and_gets_the_api_refusal(
    new_page: Callable[[], Any], console: Console
) -> None:
    page = signed_in(new_page(), console, Role.OPERATOR)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Alerts").wait_for()
    assert nav.get_by_role("link", name="Plates").count() == 0
    page.goto(f"{console.url}/console/#/plates")  # hidden from operators; the API refuses too
    refusal = page.locator("#hotlists-errors [role=alert]")
    refusal.wait_for()
    assert "403" in refusal.inner_text() and "(forbidden)" in refusal.inner_text()
    assert page.locator("#hotlist-form").count() == 0
    assert page.locator("#plate-search-form").count() == 0


def test_sign_out_with_a_stale_csrf_token_ends_the_session_on_the_server(
    new_page: Callable[[], Any], console: Console
) -> None:
    """As after a server restart with a new secret: the tab's CSRF token no longer matches.
    Sign-out still ends the session on the server, and the console says so only then."""
    page = signed_in(new_page(), console, Role.SUPERVISOR)
    user = console.env.users[Role.SUPERVISOR]
    live = [s for s in console.env.repo.list_sessions(user) if s.revoked_at is None]
    page.evaluate("sessionStorage.setItem('vigil.csrf', '0'.repeat(64))")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    after = {s.token_hash: s for s in console.env.repo.list_sessions(user)}
    ended = [h for h in (s.token_hash for s in live) if after[h].revoked_at is not None]
    assert ended, "the browser's session is still valid on the server"
    cookies = page.context.cookies()
    assert not [c for c in cookies if c["name"] == "vigil_session"]


def test_a_failed_sign_out_says_so_and_stays_signed_in(
    new_page: Callable[[], Any], console: Console
) -> None:
    """When the server does not end the session (here it answers 503), the console must not
    claim the user is signed out: the cookie would still open every page."""
    page = signed_in(new_page(), console, Role.AUDITOR)
    body = '{"error":{"code":"unavailable","message":"the database is unreachable"}}'
    page.route(
        "**/api/v1/auth/logout",
        lambda route: route.fulfill(status=503, body=body, content_type="application/json"),
    )
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Sign-out failed: the database is unreachable").wait_for()
    assert page.get_by_text("You are signed out.").count() == 0
    assert page.get_by_role("button", name="Sign out").is_visible()
    page.unroute("**/api/v1/auth/logout")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()


def test_a_session_revoked_elsewhere_signs_the_page_out(
    new_page: Callable[[], Any], console: Console
) -> None:
    """A session revoked in the database (as a logout on another API process does) ends the
    page's access: the live stream closes with 4401 within ``api.live_recheck_s``, and the page
    says so and offers to sign in again.

    The stream is waited for before the revocation. A REST poll of the page that lands before
    the stream's recheck gets 401 and says "Your session has ended" instead (a CI run on a
    loaded machine saw that race); either notice is the page telling the truth, so both are
    accepted, and the sign-in form must follow either way."""
    page = signed_in(new_page(), console, Role.INVESTIGATOR)
    page.get_by_text("Live updates: connected").wait_for(timeout=20_000)
    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "vigil_session")
    console.env.repo.revoke_session(token_hash(cookie), datetime.now(UTC))
    notice = re.compile(
        r"You have been signed out( \(.*\))?\. Please sign in again\.|Your session has ended\."
    )
    page.get_by_text(notice).first.wait_for(timeout=20_000)
    assert page.get_by_role("button", name="Sign in").is_visible()
    assert page.locator("#nav").is_hidden()
    page.screenshot(path=str(console.shots / "signed-out-live.png"), full_page=True)


def _sci(p: float) -> str:
    """A rate as the console writes it (JavaScript's ``toExponential(1)``: ``4.2e-3``)."""
    return "0" if p == 0 else re.sub(r"e([+-])0*(\d)", r"e\1\2", f"{p:.1e}")


def test_oversight_shows_the_bound_the_interval_the_drift_watch_and_case_outcomes(
    new_page: Callable[[], Any], console: Console
) -> None:
    env, dep = console.env, console.deployment_id
    raised = [
        ("kind", "face_match"),
        ("deployment", dep),
        ("watchlist", console.watchlist_id),
        ("false_alert_rate", str(FAR.upper)),
        ("false_alert_point", str(FAR.point)),
    ]
    wrong, right = (commit_face_alert(console, details=raised) for _ in range(2))
    env.svc.audit.append(
        "system",
        "deployment.scan_summary",
        f"deployment:{dep}",
        "faces compared",
        [("faces_scanned", "5000")],
    )
    op, sup = _actor(env, Role.OPERATOR), _actor(env, Role.SUPERVISOR)
    env.svc.verification.decide(op, wrong.id, Decision.REJECT, "a different person")
    env.svc.verification.decide(op, right.id, Decision.CONFIRM, "same person")
    env.svc.verification.decide(sup, right.id, Decision.CONFIRM, "agreed")
    inv = env.client(Role.INVESTIGATOR)
    case = inv.post("/api/v1/cases", json={"title": "MP-17 found", "reason": "report MP-17"})
    assert case.status_code == 201, case.text
    cases = f"/api/v1/cases/{case.json()['id']}"
    link = {"kind": "alert", "target_id": right.id, "reason": "the sighting that found her"}
    assert inv.post(f"{cases}/links", json=link).status_code == 201
    outcome = {"outcome": "other", "reason": "found safe and well", "alert_id": right.id}
    assert inv.post(f"{cases}/outcomes", json=outcome).status_code == 201
    now = datetime.now(UTC)
    DriftStore(env.repo.db).put(DriftRow(dep, FAR.upper, 12.5, 5000, 30, now, now, 4800, 29))
    doc = build_oversight(env.repo, now - timedelta(days=1), now + timedelta(days=1))
    mine = next(d for d in doc["deployments"] if d["id"] == dep)
    lo, hi = mine["rejected_per_search_ci95"]
    assert mine["rejected"] >= 1 and lo < mine["rejected_per_search"] < hi

    page = signed_in(new_page(), console, Role.AUDITOR)
    page.goto(f"{console.url}/console/#/oversight")
    row = page.locator(f"#oversight-fpr tr[data-deployment-id='{dep}']")
    row.wait_for()
    assert row.locator(".fpr-interval").inner_text() == f"{_sci(lo)} – {_sci(hi)}"
    assert row.locator(".fpr-bound").inner_text() == _sci(FAR.upper) == "4.2e-3"
    assert row.locator(".fpr-observed").inner_text() == _sci(mine["rejected_per_search"])
    drift = row.locator("[data-drift='flagged']")
    assert "FLAGGED since" in drift.inner_text() and "after 4,800 searches" in drift.inner_text()
    page.locator("#chart-fpr svg").wait_for()
    outcomes = page.locator("#chart-alert-outcomes tr", has_text="other")
    assert outcomes.locator("td").inner_text() == str(doc["cases"]["alert_outcomes"]["other"])
    cases_table = page.locator("#oversight-cases").inner_text()
    assert f"Cases opened\t{doc['cases']['cases_opened']}" in cases_table
    reviewers = doc["cases"]["reviewer_false_match_rate"]
    shown = page.locator("#reviewer-rate").inner_text()
    assert shown == f"{float(f'{reviewers * 100:.2g}'):g}% of decided alerts"
    assert page.locator("#calibrated-rate").inner_text().startswith("0.42%")
    assert page.locator("main img").count() == 0
    page.screenshot(path=str(console.shots / "oversight-bounds-cases.png"), full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=str(console.shots / "oversight-bounds-cases-print.png"), full_page=True)


def _turn_pages_by_keyboard(
    page: Any, table_id: str, nav: str, first_id: tuple[str, str], last_id: tuple[str, str]
) -> None:
    """Tab to "Next page", Enter: the last rows show and focus moves to "Previous page" (the
    disabled "Next page" cannot hold it); Enter again: back to the first page."""
    rows = page.locator(f"#{table_id} tbody tr")
    pager = page.get_by_role("navigation", name=nav)
    assert rows.count() == 20
    assert page.locator(f"#{table_id} tr[data-{first_id[0]}='{first_id[1]}']").count() == 1
    assert page.locator(f"#{table_id} tr[data-{last_id[0]}='{last_id[1]}']").count() == 0
    page.get_by_role("heading", level=1).focus()
    for _ in range(200):  # Tab until the pager's "Next page" has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Next page":
            break
    else:
        pytest.fail("Tab never reached the pager")
    page.keyboard.press("Enter")
    sync_api.expect(pager).to_contain_text("Page 2 of 2")
    assert page.locator(f"#{table_id} tr[data-{last_id[0]}='{last_id[1]}']").count() == 1
    assert page.locator(f"#{table_id} tr[data-{first_id[0]}='{first_id[1]}']").count() == 0
    assert pager.get_by_role("button", name="Next page").is_disabled()
    assert page.evaluate("document.activeElement.textContent") == "Previous page"
    page.keyboard.press("Enter")
    sync_api.expect(pager).to_contain_text("Page 1 of 2")
    assert rows.count() == 20


def test_cameras_and_deployments_page_by_twenty_with_the_keyboard(
    new_page: Callable[[], Any], console: Console
) -> None:
    env, now = console.env, datetime.now(UTC)
    for k in range(23):
        env.repo.upsert_camera(CameraRow(f"pg-{k:02d}", f"Platform {k}", "file:///x.mp4", now))
    page = signed_in(new_page(), console, Role.OPERATOR)
    page.get_by_role("link", name="Cameras").click()
    page.locator("#cameras tbody tr").first.wait_for()
    assert "(rows 1–20 of 25)" in page.get_by_role("navigation", name="Camera pages").inner_text()
    _turn_pages_by_keyboard(
        page, "cameras", "Camera pages", ("camera-id", "cam-1"), ("camera-id", "pg-22")
    )
    page.screenshot(path=str(console.shots / "cameras-paged.png"), full_page=True)

    inv = _actor(env, Role.INVESTIGATOR)
    made = [
        env.svc.deployments.request(
            inv,
            DeploymentRequest(
                purpose=Purpose.VICTIM_SEARCH,
                legal_reference=f"Order 2025/{200 + k}",
                starts_at=now + timedelta(hours=1 + k),
                ends_at=now + timedelta(hours=2 + k),
                watchlist_ids=(console.watchlist_id,),
                camera_ids=("cam-1",),
                reason="paging test",
            ),
        )
        for k in range(21)
    ]
    officer = signed_in(new_page(), console, Role.AUTHORISING_OFFICER)
    officer.get_by_role("link", name="Deployments").click()
    officer.locator("#deployments tbody tr").first.wait_for()
    total = len(env.repo.list_deployments())
    assert total > 20
    nav = officer.get_by_role("navigation", name="Deployment pages")
    assert f"of {total})" in nav.inner_text() and "Page 1 of 2" in nav.inner_text()
    _turn_pages_by_keyboard(
        officer,
        "deployments",
        "Deployment pages",
        ("deployment-id", console.deployment_id),
        ("deployment-id", made[-1]),
    )
    officer.screenshot(path=str(console.shots / "deployments-paged.png"), full_page=True)
