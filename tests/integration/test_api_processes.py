"""Two API processes on one PostgreSQL database: stateless sessions, live events on both, each
MQTT alert sent once, and a follower that takes over sending when the leader is killed.

Real parts throughout: two ``vigil run --api-only`` processes (uvicorn, free ports) over one
migrated PostgreSQL database, the real Mosquitto on 127.0.0.1:1883 with a real subscriber,
WebSocket clients on both processes, and alerts written the way a camera node writes them (the
tamper alerter's writer thread, through the repository).
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from websockets.sync.client import ClientConnection

from tests.support.api_processes import PASSWORD, Api, api_config, login
from tests.support.cluster import files_under
from tests.support.polling import wait_for
from tests.support.storage import truncate_all
from vigil.config import load_config
from vigil.core.domain import Role
from vigil.sources.status import TamperChange, TamperSignal
from vigil.storage import Database
from vigil.system.assembly import assemble
from vigil.system.tamper_alerts import TamperAlerter

pytestmark = [pytest.mark.services]

RATE = 12  # login attempts per client per minute, for every process together


class Subscriber:
    """A real MQTT client collecting every alert message under ``prefix``."""

    def __init__(self, prefix: str) -> None:
        self.alerts: list[str] = []
        self.available: list[str] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", 1883)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            if msg.topic.endswith("/cam-1/alerts"):
                self.alerts.append(json.loads(msg.payload)["id"])
            elif msg.topic.endswith("/available"):
                self.available.append(msg.payload.decode())

    def count(self, alert_id: str) -> int:
        with self._lock:
            return self.alerts.count(alert_id)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _wait(what: str, check: Any, timeout: float = 20.0) -> float:
    return wait_for(what, check, timeout, period=0.05)  # fine-grained: takeovers are timed


def _alert_id(ws: ClientConnection) -> str:
    msg = json.loads(ws.recv(timeout=15))
    assert msg["type"] == "alert", msg
    return str(msg["alert"]["id"])


@pytest.fixture
def world(pg_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    truncate_all(db := Database(pg_url))
    db.dispose()
    prefix = f"vigilapi{int(time.time() * 1000) % 10**8}"
    cfg_a = api_config(tmp_path, "a", pg_url, mqtt_prefix=prefix, login_rate_per_min=RATE)
    # What a camera node holds: the services over the same database, no background tasks.
    node = assemble(load_config(cfg_a), cameras=False, head=False)
    accounts = node.services.accounts
    admin = accounts.create_user("alice-admin", PASSWORD, [Role.ADMIN])
    operator = accounts.create_user("bob-operator", PASSWORD, [Role.OPERATOR])
    alerter = TamperAlerter(node.services.repo)
    alerter.start()
    try:
        yield {
            "cfg_a": cfg_a,
            "cfg_b": api_config(tmp_path, "b", pg_url, mqtt_prefix=prefix, login_rate_per_min=RATE),
            "prefix": prefix,
            "alerter": alerter,
            "admin": admin,
            "operator": operator,
            "tmp": tmp_path,
        }
    finally:
        alerter.stop()
        node.services.repo.db.dispose()


def _raise(alerter: TamperAlerter, signal_: TamperSignal) -> None:
    now = datetime.now(UTC)
    alerter.submit(TamperChange("cam-1", signal_, True, now, now))


@pytest.mark.timeout(300)
def test_two_api_processes_share_sessions_events_and_send_each_alert_once(
    world: dict[str, Any],
) -> None:
    tmp: Path = world["tmp"]
    sub = Subscriber(world["prefix"])
    a = Api(world["cfg_a"], tmp / "a.log")  # first up: it takes the leader lock
    b = Api(world["cfg_b"], tmp / "b.log")
    try:
        admin = login(a, "alice-admin").json()["token"]
        assert a.status(admin)["notify_leader"]["leader"] is True
        assert b.status(admin)["notify_leader"]["leader"] is False
        # Housekeeping runs where the archive index is (the head), never in an API process.
        assert "housekeeper" not in a.status(admin) and "housekeeper" not in b.status(admin)

        # A cookie session started on A works on B: the session is in the database and the
        # CSRF token is derived from the shared secret.
        signed_in = login(a, "alice-admin", mode="cookie")
        cookie, csrf = signed_in.cookies["vigil_session"], signed_in.json()["csrf_token"]
        b.http.cookies.set("vigil_session", cookie)
        assert b.http.get("/api/v1/auth/me").json()["username"] == "alice-admin"
        body = {"user_id": world["operator"].id, "scopes": ["alerts:read"]}
        refused = b.http.post("/api/v1/auth/api-keys", json=body, headers={"X-CSRF-Token": "x"})
        assert refused.status_code == 403, refused.text
        issued = b.http.post("/api/v1/auth/api-keys", json=body, headers={"X-CSRF-Token": csrf})
        assert issued.status_code == 201, issued.text
        key = issued.json()["key"]
        # ... and the API key issued on B works on A.
        listed = a.http.get("/api/v1/alerts", headers={"Authorization": f"Bearer {key}"})
        assert listed.status_code == 200, listed.text
        # Logging out on B ends the session on A too.
        out = b.http.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200, out.text
        a.http.cookies.set("vigil_session", cookie)
        assert a.http.get("/api/v1/auth/me").status_code == 401

        # The per-client login rate is one window for both processes. 3 logins so far, then
        # guesses alternate between them: the first refusal comes at guess RATE - 3 (index 9);
        # with a window per process it would come at index 20 (A's 13th attempt). The window is
        # a per-minute approximation, so a minute boundary may let a guess or two more through.
        operator = login(b, "bob-operator").json()["token"]
        first_refusal = None
        for i in range(2 * RATE):
            api = (a, b)[i % 2]
            guess = {"username": f"ghost{i}", "password": "guess 1234!"}
            code = api.http.post("/api/v1/auth/login", json=guess).status_code
            if code == 429:
                first_refusal = i
                break
            assert code == 401, code
        print(f"\nfirst login refused at guess {first_refusal} (rate {RATE}/min, 3 logins before)")
        assert first_refusal is not None and RATE - 3 <= first_refusal < 20

        # An alert written as a camera node writes it reaches a WebSocket client on each process
        # and the MQTT subscriber exactly once.
        with a.events(operator) as ws_a, b.events(operator) as ws_b:
            time.sleep(0.3)  # each server subscribes its socket after the handshake
            _wait("the leader's MQTT connection", lambda: "online" in sub.available)
            _raise(world["alerter"], TamperSignal.FROZEN)
            first = _alert_id(ws_a)
            assert _alert_id(ws_b) == first
            _wait("the first alert on MQTT", lambda: sub.count(first) >= 1)
            time.sleep(2.0)  # time for a duplicate from the follower, were it sending
            assert sub.count(first) == 1, sub.alerts

            # Freeze the leader (it holds the lock but sends nothing), commit an alert, then
            # kill it: the alert was never sent, and B, which saw it as a follower, sends it on
            # taking over (its replay of the last minutes; the delivery record keeps it from
            # sending the first alert again). Then the next alert goes out once.
            ws_a.close()
            a.proc.send_signal(signal.SIGSTOP)
            _raise(world["alerter"], TamperSignal.BLACK)
            missed = _alert_id(ws_b)
            assert missed != first
            time.sleep(1.0)
            assert sub.count(missed) == 0, sub.alerts  # the frozen leader sent nothing
            killed = time.monotonic()
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(10)
            _wait("B to take over", lambda: b.status(admin)["notify_leader"]["leader"], timeout=30)
            takeover = time.monotonic() - killed
            _wait("B's MQTT connection", lambda: sub.available[-1:] == ["online"], timeout=30)
            print(f"\ntakeover after SIGKILL of the leader: {takeover:.2f} s (leader_check_s 0.5)")
            _wait("the missed alert on MQTT", lambda: sub.count(missed) >= 1)
            _raise(world["alerter"], TamperSignal.SCENE_CHANGE)
            second = _alert_id(ws_b)
            assert second not in (first, missed)
            _wait("the second alert on MQTT", lambda: sub.count(second) >= 1)
            time.sleep(1.0)
            counts = [sub.count(x) for x in (first, missed, second)]
            assert counts == [1, 1, 1], sub.alerts
    finally:
        a.stop()
        b.stop()
        sub.stop()
    # An API-only process keeps no archive index (the head keeps the one there is, so a purge
    # leaves no copy of a template in another process's files): only the audit anchor.
    for name in ("a", "b"):
        assert all(f.startswith("audit-anchor.json") for f in files_under(tmp / name)), name


def test_api_only_refuses_sqlite_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several processes on one SQLite file would each think they lead: refused, with the fix."""
    from vigil.cli.main import main

    cfg = tmp_path / "vigil.yaml"
    doc = {"system": {"data_dir": str(tmp_path / "data")}, "cameras": []}
    cfg.write_text(yaml.safe_dump(doc))
    # `vigil run` configures the vigil loggers onto this test's captured stderr: put them back,
    # or later tests' threads would log to a closed stream.
    logger = logging.getLogger("vigil")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        with pytest.raises(SystemExit) as exc:
            main(["run", "--api-only", "--no-live", "-c", str(cfg)])
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved
    assert exc.value.code != 0
    err = capsys.readouterr().err
    assert "--api-only needs PostgreSQL" in err and "postgresql+psycopg" in err
