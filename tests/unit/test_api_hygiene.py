"""Secrets and offline use at the API edge: no camera credential in any answer, no CDN."""

from __future__ import annotations

import re
from typing import Any

from test_api_support import SECRET_URL, Env

from vigil.sources.status import CameraState, StatusTracker
from vigil.storage.rows import Role

pytest_plugins = ["test_api_support"]


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
