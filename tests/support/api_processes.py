"""Real ``vigil run --api-only`` processes over one PostgreSQL database, for the tests of what
several API processes share (sessions, live events, the notification leader, live access).

Each process is a real uvicorn server on a free loopback port, started from its own config file
(the same secret key for all, so sessions and CSRF tokens work on each).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import ClientConnection, connect

from tests.support.cameras import free_port

PASSWORD = "correct horse battery staple 7"
SECRET = "a shared secret key for every API process"


def api_config(
    tmp: Path,
    name: str,
    pg_url: str,
    *,
    mqtt_prefix: str | None = None,
    cameras: tuple[str, ...] = ("cam-1",),
    **api: Any,
) -> Path:
    """Write the config of one API process (``api``: extra ``api:`` settings); returns its path.

    ``mqtt_prefix``: also send notifications to the local Mosquitto under this topic prefix.
    """
    doc: dict[str, Any] = {
        "system": {"data_dir": str(tmp / name)},
        "storage": {"url": pg_url},
        "api": {"secret_key": SECRET, **api},
        "cluster": {"leader_check_s": 0.5},
        "cameras": [
            {"id": cam, "url": str(tmp / f"{cam}.mp4"), "analytics": ["crowd"]} for cam in cameras
        ],
    }
    if mqtt_prefix is not None:
        doc["notify"] = {
            "mqtt": {
                "enabled": True,
                "host": "127.0.0.1",
                "topic_prefix": mqtt_prefix,
                "client_id": mqtt_prefix,
                "publish": {"alerts": True},
            }
        }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


class Api:
    """One ``vigil run --api-only`` process and an HTTP client on it."""

    def __init__(self, cfg: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["run", "--api-only", "--no-live", "-c", str(cfg), "--port", str(self.port)]
        self.log = log
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vigil", *args, "--host", "127.0.0.1"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
        self.http = httpx.Client(base_url=self.url, timeout=10)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, log.read_text()[-3000:]
            try:
                if self.http.get("/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        pytest.fail(f"API process did not come up: {log.read_text()[-3000:]}")

    def status(self, token: str) -> dict[str, dict[str, Any]]:
        r = self.http.get("/api/v1/system/status", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        return {t["name"]: t for t in r.json()["background"]}

    def events(self, token: str, query: str = "kinds=alert") -> ClientConnection:
        return connect(
            f"ws://127.0.0.1:{self.port}/api/v1/events?{query}",
            additional_headers={"Authorization": f"Bearer {token}"},
        )

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def login(api: Api, username: str, mode: str = "token") -> httpx.Response:
    """Log in on ``api`` with :data:`PASSWORD`; fails the test unless it worked."""
    r = api.http.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "mode": mode}
    )
    assert r.status_code == 200, r.text
    return r
