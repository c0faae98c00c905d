"""The control-room console in a real browser, over a real running system on real footage.

Real parts: OpenCV's vtest.avi played as two cameras (``street`` with a zone and a counting line,
``yard``) by the camera workers (PyAV), NanoDet and ByteTrack from the installed models, the
crowd series stored in a real SQLite system of record, the real face pipeline for the enrolment
photo check (YuNet, quality gate, embedders), LFW for a good enrolment photo, and Debian's
Chromium driven by Playwright against uvicorn. One server and one browser serve the module.

The operator is assigned to ``street`` only: ``yard`` must be neither listed nor streamable. A
live tile is checked in its pixels (two screenshots differ; the overlay's person colour is
present), not only in the DOM. Screenshots of every page go to ``$VIGIL_CONSOLE_SCREENSHOTS``
(``reports/console/`` in the docs' command) or a temp dir.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.support.api_env import build_env
from tests.support.contrast import contrast_failures
from tests.support.data import shared_data
from tests.support.served import served
from vigil.analytics.crossings import bucket_start
from vigil.api.app import create_app
from vigil.config import VigilConfig
from vigil.config.console import ConsoleConfig
from vigil.core import FrameRef
from vigil.core.domain import Role
from vigil.core.records import CrossingCount
from vigil.storage.console import ConsoleStore
from vigil.system.assembly import Assembly, assemble
from vigil.system.live_video import PERSON_BGR, CameraGeometry, LiveVideo

pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
pytestmark = pytest.mark.models

PASSWORD = "correct horse battery staple"
WAIT_MS = 20_000
USERS = {
    "op-street": [Role.OPERATOR],
    "sup-1": [Role.SUPERVISOR],
    "aud-1": [Role.AUDITOR],
}


@dataclass
class Wall:
    built: Assembly
    url: str
    shots: Path
    ids: dict[str, str]  # username -> user id
    tmp: Path


def _config(tmp: Path, video: Path) -> VigilConfig:
    common = {"url": str(video), "realtime": True, "loop": True}
    return VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp)},
            "api": {"secret_key": "console-live-test-key-0123456789", "cookie_secure": False},
            # a low threshold so the real footage raises crowd alerts the chart must mark
            "people": {"crowd": {"sample_every_s": 1.0, "overcrowd": 4.0, "sustain": 2}},
            "console": {"live_fps": 4.0, "live_max_width": 640},
            "cameras": [
                {
                    "id": "street",
                    "name": "Station street",
                    "analytics": ["persons", "crowd"],
                    "fps": 2.0,
                    "zones": [
                        {"name": "near", "polygon": [[0, 288], [768, 288], [768, 576], [0, 576]]}
                    ],
                    "lines": [{"name": "mid", "a": [384.5, 0], "b": [384.5, 576]}],
                    **common,
                },
                {
                    "id": "yard",
                    "name": "Depot yard",
                    "analytics": ["persons"],
                    "fps": 1.0,
                    **common,
                },
            ],
        }
    )


@pytest.fixture(scope="module")
def wall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wall]:
    video = shared_data("opencv_vtest", "vtest.avi")
    tmp = tmp_path_factory.mktemp("console-live")
    cfg = _config(tmp, video)
    built = assemble(cfg)
    assert built.system is not None
    svc = built.services
    ids = {}
    for name, roles in USERS.items():
        user = svc.accounts.create_user(name, PASSWORD, roles, display_name=name.upper())
        ids[name] = user.id
    svc.accounts.assign_cameras(ids["op-street"], ["street"], by="system", reason="district A")
    app = create_app(cfg, services=svc, system=built.system, start_background=False)
    shots = Path(os.environ.get("VIGIL_CONSOLE_SCREENSHOTS") or tmp / "shots")
    shots.mkdir(parents=True, exist_ok=True)
    built.system.start()
    try:
        with served(app) as port:
            yield Wall(built, f"http://127.0.0.1:{port}", shots, ids, tmp)
    finally:
        built.system.stop()
        svc.repo.db.dispose()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Pages in fresh contexts; a page error or an unexpected console error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(width: int = 1280, height: int = 800) -> Any:
        ctx = browser.new_context(viewport={"width": width, "height": height})
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
    unexpected = [e for e in errors if "the server responded with a status of" not in e]
    assert not unexpected, unexpected


def sign_in(page: Any, wall: Wall, username: str) -> Any:
    page.goto(wall.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for()
    return page


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _overlay_pixels(rgb: np.ndarray) -> int:
    """Pixels of the person-box colour (orange), which vtest's grey street does not have."""
    b, g, r = PERSON_BGR
    near = (abs(rgb[..., 0] - r) < 40) & (abs(rgb[..., 1] - g) < 40) & (abs(rgb[..., 2] - b) < 60)
    return int(near.sum())


def _entries(wall: Wall, action: str) -> list[Any]:
    return [e for e in wall.built.services.repo.audit_entries(0, 10_000) if e.action == action]


def _wait_for(cond: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_operator_sees_live_tiles_with_overlays_and_only_their_camera(
    new_page: Callable[..., Any], wall: Wall
) -> None:
    page = sign_in(new_page(), wall, "op-street")
    page.goto(wall.url + "/console/#/live")
    tiles = page.locator("#live-wall li.tile")
    tiles.first.wait_for()
    assert tiles.count() == 1 and tiles.first.get_attribute("data-camera-id") == "street"
    assert "Depot yard" not in page.locator("main").inner_text()
    img = page.locator("#live-wall img.tile-img")
    page.wait_for_function(
        "() => { const i = document.querySelector('#live-wall img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    first = _rgb(img.screenshot())
    time.sleep(2.0)
    second = _rgb(img.screenshot())
    changed = float(np.mean(np.abs(first - second) > 12))
    assert changed > 0.002, f"the tile did not change ({changed:.4%} of pixels)"
    assert max(_overlay_pixels(first), _overlay_pixels(second)) > 150, "no person boxes drawn"
    assert "fps analysed" in page.locator("#live-wall .tile-stats").inner_text()
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "live-wall-operator.png"), full_page=True)

    # keyboard: the tile is a link; Enter opens the large view
    page.locator("#live-wall a.tile-link").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/#/live/street")
    page.wait_for_function(
        "() => { const i = document.getElementById('large-img'); "
        "return i && i.complete && i.naturalWidth > 0; }"
    )
    page.locator("#live-facts").get_by_text("frames/s").wait_for()
    page.get_by_role("heading", name="Recent events").wait_for()
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "live-large-view.png"), full_page=True)

    # the camera outside the operator's assignment: not listed, not streamable, no still
    listed = page.request.get(wall.url + "/api/v1/video/cameras").json()
    assert [c["camera_id"] for c in listed] == ["street"]
    for path in ("cameras/yard/mjpeg", "cameras/yard/still", "wall?cameras=street,yard"):
        answer = page.request.get(f"{wall.url}/api/v1/video/{path}")
        assert answer.status == 404, path
        assert answer.json()["error"]["code"] == "not_found"
    op = wall.ids["op-street"]
    refused = [e for e in _entries(wall, "access.refused") if e.actor == op]
    assert {e.target for e in refused} >= {"camera:yard"}
    page.goto(wall.url + "/console/#/alerts")  # leaving the page ends the streams
    _wait_for(
        lambda: any(e.actor == op for e in _entries(wall, "live_video.end")),
        "the end of the live viewing in the audit chain",
    )
    started = [e for e in _entries(wall, "live_video.start") if e.actor == op]
    assert {e.target for e in started} == {"camera:street"}
    ended = [e for e in _entries(wall, "live_video.end") if e.actor == op]
    assert all({"from", "to", "frames"} <= dict(e.details).keys() for e in ended)
    # the cookie session stayed valid through the re-checks: the viewer ended it, not the server
    assert {dict(e.details)["ended"] for e in ended} == {"the viewer left"}
    assert sum(int(dict(e.details)["frames"]) for e in ended) >= 2


def test_wall_of_every_camera_at_1920(new_page: Callable[..., Any], wall: Wall) -> None:
    page = sign_in(new_page(1920, 1080), wall, "sup-1")
    page.goto(wall.url + "/console/#/live")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#live-wall img')].length === 2 && "
        "[...document.querySelectorAll('#live-wall img')].every(i => i.naturalWidth > 0)"
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(wall.shots / "live-wall-1920.png"))


def test_crowd_chart_shows_the_stored_series_and_the_heatmap(
    new_page: Callable[..., Any], wall: Wall
) -> None:
    repo = wall.built.services.repo
    _wait_for(
        lambda: len([s for s in repo.list_crowd_samples("street") if s.zone is None]) >= 3,
        "three stored crowd samples",
    )
    # Crossings stored half an hour ago (as a past run would have left them), beside whatever
    # the live pipeline adds while the test runs: the chart draws both directions.
    past = bucket_start(datetime.now(UTC) - timedelta(minutes=30))
    repo.add_crossing_counts(
        [
            CrossingCount("street", "mid", "in", past, 7),
            CrossingCount("street", "mid", "out", past, 3),
        ]
    )
    page = sign_in(new_page(), wall, "sup-1")
    page.goto(wall.url + "/console/#/crowd")
    page.get_by_label("Camera").select_option("street")
    chart = page.locator("#crowd-chart svg")
    chart.wait_for()
    summary = page.locator("#crowd-summary").inner_text()
    shown = int(summary.split(" stored samples")[0].replace(",", ""))
    stored = [s for s in repo.list_crowd_samples("street", limit=10_000) if s.zone is None]
    # the page was built from the series just before this read; samples keep arriving
    assert 3 <= shown <= len(stored)
    dots = chart.locator("circle.series-dot").count()
    assert dots >= 1 and chart.locator("polyline.series").count() == 1
    assert chart.locator("line.threshold").count() == 1  # overcrowding at 4 people
    crossings = page.locator("#crossings-chart")
    assert crossings.locator("svg polyline.series-in").count() >= 1
    assert crossings.locator("svg polyline.series-out").count() >= 1
    totals = {
        r.locator("th").inner_text(): int(r.locator("td").inner_text())
        for r in crossings.locator("tbody tr").all()
    }
    rows, _ = ConsoleStore(repo.db).crossing_window(
        "street", None, past, datetime.now(UTC) + timedelta(minutes=1)
    )
    for direction, seeded in (("in", 7), ("out", 3)):
        now_stored = sum(n for line, d, _, n in rows if (line, d) == ("mid", direction))
        assert seeded <= totals[f"mid {direction}"] <= now_stored, (totals, rows)
    page.wait_for_function(
        "() => ['heat-img', 'heat-still'].every(id => { const i = document.getElementById(id);"
        " return i && i.complete && i.naturalWidth > 0; })"
    )
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "crowd-dashboard.png"), full_page=True)
    stills = [e for e in _entries(wall, "live_video.still") if e.actor == wall.ids["sup-1"]]
    assert stills and all(dict(e.details)["overlays"] == "false" for e in stills)
    page.locator("#crowd-zone").select_option("near")
    page.locator("#crowd-chart, #crowd-area .msg").first.wait_for()
    page.get_by_label("Last 24 hours").check()
    page.locator("#crowd-chart").wait_for()
    page.wait_for_function("() => document.getElementById('heat-img')?.naturalWidth > 0")
    page.screenshot(path=str(wall.shots / "crowd-zone-24h.png"), full_page=True)


def _no_face_photo(folder: Path) -> Path:
    """A real outdoor scene without a face: the grass at the bottom of vtest's first frame."""
    import av

    with av.open(str(shared_data("opencv_vtest", "vtest.avi"))) as box:
        frame = next(box.decode(video=0)).to_ndarray(format="rgb24")
    path = folder / "grass.jpg"
    Image.fromarray(frame[400:576, 0:300]).save(path, "JPEG")
    return path


def test_supervisor_checks_photos_then_enrols(new_page: Callable[..., Any], wall: Wall) -> None:
    good = shared_data("lfw", "lfw-deepfunneled", "Aaron_Eckhart", "Aaron_Eckhart_0001.jpg")
    bad = _no_face_photo(wall.tmp)
    page = sign_in(new_page(), wall, "sup-1")
    page.goto(wall.url + "/console/#/watchlists")
    page.locator("#watchlist-create").wait_for()
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "watchlists.png"), full_page=True)
    page.get_by_label("Name", exact=True).fill("Missing person MP-20")
    page.get_by_label("Reason (recorded in the audit log)").fill(
        "report MP-20, missing since Monday"
    )
    page.get_by_role("button", name="Create watchlist").click()
    page.wait_for_url("**/#/watchlists/*")
    page.locator("#enrol-form").wait_for()
    page.screenshot(path=str(wall.shots / "watchlist-detail.png"), full_page=True)

    page.get_by_label("Label").fill("MP-20")
    page.locator("#enrol-reason").fill("reported missing by the family")
    page.get_by_label("Where the photos come from").fill("family photo, report MP-20")
    page.set_input_files("#enrol-photos", str(bad))
    refusal = page.locator("#enrol-checks li[data-ok='false']")
    refusal.wait_for()
    assert "no face found" in refusal.inner_text()
    assert page.locator("#enrol-submit").is_disabled()
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "enrol-refused.png"), full_page=True)

    page.set_input_files("#enrol-photos", str(good))
    ok = page.locator("#enrol-checks li[data-ok='true']")
    ok.wait_for()
    assert "1 face found" in ok.inner_text()
    page.locator("#enrol-submit:not([disabled])").click()
    page.locator("#wl-status").get_by_text("Subject enrolled.").wait_for()
    row = page.locator("#wl-subject-table tbody tr")
    row.wait_for()
    assert "family photo, report MP-20" in row.inner_text()
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "enrolled.png"), full_page=True)

    wl_id = page.url.rsplit("/", 1)[1]
    svc = wall.built.services
    assert len(svc.repo.list_subjects(wl_id)) == 1
    # the API's own refusal of the faceless photo, as the console would show it
    answer = page.request.post(
        f"{wall.url}/api/v1/watchlists/{wl_id}/subjects",
        headers={"X-CSRF-Token": page.evaluate("sessionStorage.getItem('vigil.csrf')")},
        multipart={
            "photos": {"name": "grass.jpg", "mimeType": "image/jpeg", "buffer": bad.read_bytes()},
            "label": "nobody",
            "reason": "test",
            "provenance": "a photo",
        },
    )
    assert answer.status == 422 and "no face found" in answer.json()["error"]["message"]
    assert len(svc.repo.list_subjects(wl_id)) == 1
    assert _entries(wall, "watchlist.view"), "viewing the watchlist was not audited"


def test_auditor_reads_the_oversight_report_and_names_in_the_audit_log(
    new_page: Callable[..., Any], wall: Wall
) -> None:
    # the operator looks at a still of their camera (so this test needs no other test's trail)
    api = httpx.Client(base_url=wall.url + "/api/v1")
    login = {"username": "op-street", "password": PASSWORD, "mode": "token"}
    api.headers["Authorization"] = "Bearer " + api.post("/auth/login", json=login).json()["token"]
    _wait_for(lambda: api.get("/video/cameras/street/still").status_code == 200, "a still")
    page = sign_in(new_page(), wall, "aud-1")
    page.goto(wall.url + "/console/#/oversight")
    page.locator("#chart-alerts svg").wait_for()
    page.locator("#chart-activity svg").wait_for()
    created = len(_entries(wall, "user.create"))  # the fixture's accounts
    row = page.locator("#chart-activity tr", has_text="user.create")
    assert row.locator("td").inner_text(timeout=WAIT_MS) == str(created)
    assert page.get_by_role("button", name="Print or save as PDF").is_visible()
    assert page.locator("main img").count() == 0, "the oversight page shows an image"
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "oversight.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.locator("#nav").is_hidden()
    page.screenshot(path=str(wall.shots / "oversight-print.png"), full_page=True)
    page.emulate_media(media="screen")

    page.goto(wall.url + "/console/#/audit")
    table = page.locator("#audit-entries")
    table.wait_for()
    page.get_by_label("Who").select_option(label="op-street (OP-STREET)")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll('#audit-entries td.actor')];"
        " return c.length > 0 && c.every(td => td.textContent === 'op-street'); }"
    )
    page.get_by_label("Action starts with").fill("live_video.")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#audit-entries tbody tr')].length > 0 && "
        "[...document.querySelectorAll('#audit-entries tbody tr td:nth-child(4)')]"
        ".every(td => td.textContent.startsWith('live_video.'))"
    )
    assert wall.ids["op-street"] not in table.inner_text()  # names, not ids
    assert page.locator("main img").count() == 0
    assert not contrast_failures(page), contrast_failures(page)
    page.screenshot(path=str(wall.shots / "audit-filtered.png"), full_page=True)


class _NineCameras:
    """The running system as the API sees it, for a wall of nine cameras: their live tiles are
    fed real vtest frames (no detector: this test is about the transport, not the analysis)."""

    def __init__(self, ids: list[str], frames: list[np.ndarray]) -> None:
        self.live = LiveVideo({c: CameraGeometry() for c in ids}, ConsoleConfig())
        self.ids, self.frames = ids, frames

    def feed(self, i: int) -> None:
        img = self.frames[i % len(self.frames)]
        for cam in self.ids:
            ref = FrameRef(cam, datetime.now(UTC), i, img.shape[1], img.shape[0])
            self.live.observe(cam, img, ref)

    def camera_view(self) -> list[dict[str, Any]]:
        return [{"camera_id": c, "state": "online", "dropped_frames": 0} for c in self.ids]


def test_a_wall_of_nine_tiles_loads_every_tile(
    new_page: Callable[..., Any], tmp_path: Path
) -> None:
    """Nine <img> streams would stall past the browser's six connections per server; the wall
    reads every tile of a page over one connection, and the page's API calls still answer."""
    import av

    with av.open(str(shared_data("opencv_vtest", "vtest.avi"))) as box:
        frames = [
            f.to_ndarray(format="bgr24")
            for _, f in zip(range(4), box.decode(video=0), strict=False)
        ]
    ids = [f"cam-{i}" for i in range(1, 10)]
    cfg = VigilConfig.model_validate(
        {
            "api": {"secret_key": "test-secret-key", "cookie_secure": False},
            "cameras": [{"id": c, "url": "file:///data/x.mp4"} for c in ids],
        }
    )
    env = build_env(tmp_path, cfg=cfg)
    env.svc.accounts.create_user("op-wall", PASSWORD, [Role.OPERATOR])
    system = _NineCameras(ids, frames)
    app = create_app(cfg, services=env.svc, system=system, start_background=False)  # type: ignore[arg-type]
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.wait(0.5):
            system.feed(i)
            i += 1

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        with served(app) as port:
            page = new_page(1920, 1080)
            sign_in(page, Wall(None, f"http://127.0.0.1:{port}", Path(), {}, tmp_path), "op-wall")  # type: ignore[arg-type]
            page.goto(f"http://127.0.0.1:{port}/console/#/live")
            page.wait_for_function(
                "() => { const i = [...document.querySelectorAll('#live-wall img')];"
                " return i.length === 9 && i.every(x => x.complete && x.naturalWidth > 0); }"
            )
            # the other calls of the page are not starved of connections
            page.get_by_role("link", name="Cameras").click()
            page.locator("h1:focus", has_text="Cameras").wait_for()
    finally:
        stop.set()
        feeder.join(5)
        env.repo.db.dispose()


def test_the_contrast_check_catches_low_contrast(new_page: Callable[..., Any]) -> None:
    page = new_page()
    page.set_content(
        "<p style='color:#999;background:#fff'>faint</p>"
        "<p style='color:#595959;background:#fff'>fine</p>"
        "<div style='background:#0f1f33'><span style='color:#33475b'>dark on dark</span></div>"
    )
    found = contrast_failures(page)
    assert len(found) == 2 and "faint" in found[0] and "dark on dark" in found[1], found


def _token(wall: Wall, username: str) -> str:
    login = {"username": username, "password": PASSWORD, "mode": "token"}
    answer = httpx.post(wall.url + "/api/v1/auth/login", json=login)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


def _watch_until_cut(wall: Wall, token: str, cut: Callable[[], None]) -> tuple[int, float]:
    """Open the street camera's MJPEG stream, ``cut`` access once it has sent frames, and read
    until the server ends it: (frames read after the cut's first re-check window, seconds from
    the cut to the end of the stream)."""
    headers = {"Authorization": f"Bearer {token}"}
    url = wall.url + "/api/v1/video/cameras/street/mjpeg"
    cut_at: float | None = None
    parts = 0
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(30.0)) as answer:
        assert answer.status_code == 200
        for chunk in answer.iter_bytes():
            parts += chunk.count(b"Content-Type: image/jpeg")
            if cut_at is None and parts >= 2:
                cut()
                cut_at = time.monotonic()
            if cut_at is not None and time.monotonic() - cut_at > 20:
                pytest.fail("the stream outlived the loss of access by 20 s")
    assert cut_at is not None, "the stream ended before it sent two frames"
    return parts, time.monotonic() - cut_at


def test_a_revoked_session_ends_an_open_live_stream(wall: Wall) -> None:
    token = _token(wall, "op-street")
    op = wall.ids["op-street"]
    ends_before = len([e for e in _entries(wall, "live_video.end") if e.actor == op])

    def log_out() -> None:  # another tab signs out: the session is revoked in the database
        answer = httpx.post(
            wall.url + "/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, answer.text

    _parts, after = _watch_until_cut(wall, token, log_out)
    recheck = wall.built.config.api.live_recheck_s
    assert after < recheck + 5, f"the stream ended {after:.1f} s after the logout"
    _wait_for(
        lambda: len([e for e in _entries(wall, "live_video.end") if e.actor == op]) > ends_before,
        "the end of the revoked viewing in the audit chain",
    )
    last = [e for e in _entries(wall, "live_video.end") if e.actor == op][-1]
    assert dict(last.details)["ended"] == "credential revoked or expired"
    # and the revoked token opens nothing new
    again = httpx.get(
        wall.url + "/api/v1/video/cameras/street/mjpeg",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert again.status_code == 401


def test_removing_the_camera_assignment_ends_an_open_live_stream(wall: Wall) -> None:
    svc = wall.built.services
    user = svc.accounts.create_user("op-moved", PASSWORD, [Role.OPERATOR])
    svc.accounts.assign_cameras(user.id, ["street"], by="system", reason="district A")
    token = _token(wall, "op-moved")

    def move() -> None:  # reassigned to the yard only, while the street is on screen
        svc.accounts.assign_cameras(user.id, ["yard"], by="system", reason="moved to district B")

    _parts, after = _watch_until_cut(wall, token, move)
    assert after < wall.built.config.api.live_recheck_s + 5
    _wait_for(
        lambda: any(e.actor == user.id for e in _entries(wall, "live_video.end")),
        "the end of the viewing in the audit chain",
    )
    ended = next(e for e in _entries(wall, "live_video.end") if e.actor == user.id)
    assert dict(ended.details)["ended"] == "camera no longer assigned: street"
    # the session itself is still valid: the street is now refused, as an unknown camera
    again = httpx.get(
        wall.url + "/api/v1/video/cameras/street/still",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert again.status_code == 404
