from __future__ import annotations

from tests.support.api_env import Env
from vigil.core.domain import Role


def test_health_is_public_and_cameras_need_auth(env: Env) -> None:
    c = env.client()
    assert c.get("/api/v1/health").json()["status"] == "ok"
    r = c.get("/api/v1/cameras")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthenticated"
    r = env.client(Role.OPERATOR).get("/api/v1/cameras")
    assert r.status_code == 200, r.text
    assert {c["id"] for c in r.json()} == {"cam-1", "cam-2"}
    assert "hunter2" not in r.text and "rtsp" not in r.text


def test_alert_detail_says_what_a_non_face_alert_is_about(env: Env) -> None:
    from datetime import UTC, datetime

    from vigil.core.records import Alert, AlertKind

    alert = Alert(
        "crowd-1",
        AlertKind.CROWD,
        "cam-1",
        datetime.now(UTC),
        60.0,
        detail="overcrowding on cam-1: 60 people (baseline 12, threshold 50)",
    )
    env.repo.add_alert(alert)
    got = env.client(Role.OPERATOR).get("/api/v1/alerts/crowd-1").json()
    assert got["detail"] == alert.detail and got["kind"] == "crowd"
