"""Secrets, offline use and bounded cost at the API edge: no camera credential in any answer,
no CDN, no enrolment upload decoded before its pixel count is known to be affordable."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.api_env import SECRET_URL, Env, build_env, config, jpeg, jpeg_claiming
from vigil.core.domain import Role
from vigil.sources.status import CameraState, StatusTracker


class StatusOnlySystem:
    """Stands in for EmbeddedSystem: camera status rows from real status trackers."""

    def __init__(self, trackers: list[StatusTracker]) -> None:
        self.trackers = trackers

    def camera_view(self) -> list[dict[str, Any]]:
        rows = []
        for t in self.trackers:
            state, since, error, _ = t.snapshot()
            counts = ("frames_analysed", "faces_seen", "faces_embedded", "analysis_failures")
            rows.append(
                {
                    "camera_id": t.camera_id,
                    "state": str(state),
                    "since": since.isoformat(),
                    "last_error": error,
                    **dict.fromkeys(counts, 0),
                    "face_ms": None,
                    "dropped_frames": 0,
                }
            )
        return rows


def test_camera_status_shows_no_credentials_to_any_role(env: Env) -> None:
    tracker = StatusTracker("cam-1")
    url = "rtsp://admin:p@ss/w0rd@10.0.0.7:554/live?pwd=s3cr3t"
    tracker.set(CameraState.OFFLINE, f"cannot open {url}: 401 Unauthorized")
    env.app.state.system = StatusOnlySystem([tracker])
    for role in Role:
        r = env.client(role).get("/api/v1/cameras/status")
        assert r.status_code == 200, r.text
        for secret in ("p@ss", "w0rd", "s3cr3t", "admin:"):
            assert secret not in r.text
        assert "10.0.0.7:554/live" in r.json()[0]["last_error"]
    for path in ("/api/v1/cameras", "/api/v1/cameras/cam-1"):
        assert "hunter2" not in env.client(Role.ADMIN).get(path).text
    assert "hunter2" not in env.repo.get_camera("cam-1").source_url
    assert SECRET_URL.endswith(env.repo.get_camera("cam-1").source_url.split("@")[-1])


def test_no_page_loads_anything_from_another_host(env: Env) -> None:
    """The console must work offline: no interactive docs that pull Swagger UI from a CDN."""
    c = env.client()
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        r = c.get(path)
        hosts = set(re.findall(r"https?://([^/\"'\s]+)", r.text)) - {"testserver"}
        assert r.status_code == 404 and not hosts, (path, r.status_code, hosts)
        assert "cdn" not in r.headers.get("content-security-policy", "")
    spec = c.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "Vigil API"
    page = c.get("/console/")
    assert not set(re.findall(r"(?:src|href)=\"https?://([^/\"]+)", page.text)) - {"testserver"}


def _watchlist(env: Env) -> str:
    r = env.client(Role.INVESTIGATOR).post(
        "/api/v1/watchlists",
        json={
            "name": "missing",
            "category": "missing_or_vulnerable",
            "reason": "report MP-1",
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _enrol(env: Env, wid: str, photos: list[tuple[bytes, str]]) -> Any:
    files = [("photos", (f"p{i}.jpg", data, kind)) for i, (data, kind) in enumerate(photos)]
    data = {"label": "p1", "reason": "report MP-1", "provenance": "family photo"}
    return env.client(Role.INVESTIGATOR).post(
        f"/api/v1/watchlists/{wid}/subjects", data=data, files=files
    )


def _refusals(env: Env) -> list[tuple[str, str]]:
    return [
        (e.reason, dict(e.details)["status"])
        for e in env.repo.audit_entries()
        if e.action == "watchlist.enrol_refused"
    ]


@pytest.mark.parametrize(
    ("photos", "status", "says"),
    [
        ([(jpeg_claiming(6000, 6600), "image/jpeg")] * 5, 413, "pixels together"),
        ([(jpeg_claiming(9000, 9000), "image/jpeg")], 413, "photo 0 is 9000x9000"),
        ([(jpeg(), "image/jpeg")] * 6, 413, "send 1 to 5 photos"),
        ([(jpeg(), "image/jpeg"), (jpeg(), "application/pdf")], 415, "photo 1 is application"),
        ([(b"not an image", "image/jpeg")], 400, "not a readable image"),
    ],
    ids=["five-40MP-headers", "one-81MP-header", "six-photos", "pdf", "not-an-image"],
)
def test_costly_or_bad_uploads_are_refused_before_decoding_and_audited(
    env: Env, photos: list[tuple[bytes, str]], status: int, says: str
) -> None:
    wid = _watchlist(env)
    started = time.monotonic()
    r = _enrol(env, wid, photos)
    assert time.monotonic() - started < 2  # headers only: no photo was decoded
    assert r.status_code == status, r.text
    assert says in r.json()["error"]["message"]
    assert _refusals(env) == [(r.json()["error"]["message"], str(status))]
    assert env.repo.list_subjects(wid) == []


def test_enrolment_limits_come_from_the_config(tmp_path: Path) -> None:
    env = build_env(tmp_path, cfg=config(enrol_max_photos=2, enrol_max_pixels=1_000_000))
    wid = _watchlist(env)
    r = _enrol(env, wid, [(jpeg(), "image/jpeg")] * 3)
    assert r.status_code == 413 and "send 1 to 2 photos" in r.json()["error"]["message"]
    r = _enrol(env, wid, [(jpeg(size=800), "image/jpeg"), (jpeg(size=800), "image/jpeg")])
    assert r.status_code == 413 and "1000000 per request" in r.json()["error"]["message"]
    r = _enrol(env, wid, [(jpeg(size=128), "image/jpeg")] * 2)
    assert r.status_code == 201, r.text
    assert len(_refusals(env)) == 2
    env.repo.db.dispose()
