"""Live notifications end to end: WebSocket (role and camera filters), signed webhooks, and MQTT
against the real Mosquitto broker on 127.0.0.1:1883."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.api_env import Env, add_alert
from vigil.config.notify import MqttConfig, WebhookConfig
from vigil.core.domain import Role
from vigil.notify.mqtt import MqttPublisher
from vigil.notify.watcher import EventWatcher
from vigil.notify.webhooks import WebhookSender, verify_signature


def test_websocket_gets_alerts_by_role_and_camera(live: Env) -> None:
    op = live.client(Role.OPERATOR)
    aud = live.client(Role.AUDITOR)
    with (
        op.websocket_connect("/api/v1/events?kinds=alert&cameras=cam-1") as ws,
        aud.websocket_connect("/api/v1/events") as ws_aud,
    ):
        time.sleep(0.1)
        add_alert(live.repo, live.svc.media, camera="cam-2")  # type: ignore[arg-type]
        t0 = time.monotonic()
        alert = add_alert(live.repo, live.svc.media, camera="cam-1")  # type: ignore[arg-type]
        msg = ws.receive_json()
        latency = time.monotonic() - t0
        assert msg["type"] == "alert" and msg["alert"]["id"] == alert.id
        assert latency < 1.0
        assert "probe" not in json.dumps(msg)
        assert live.svc.hub.subscribers == 2
        # the auditor's stream carries no alerts: nothing arrives for it
        ws_aud.send_text("ping")


def test_websocket_of_an_assigned_operator_carries_only_its_cameras(live: Env) -> None:
    # An operator assigned to cam-2 asks for every camera: the server narrows it to cam-2.
    live.svc.accounts.assign_cameras(live.users[Role.OPERATOR], ["cam-2"])
    op = live.client(Role.OPERATOR)
    with op.websocket_connect("/api/v1/events?kinds=alert") as ws:
        time.sleep(0.1)
        add_alert(live.repo, live.svc.media, camera="cam-1")  # type: ignore[arg-type]
        alert = add_alert(live.repo, live.svc.media, camera="cam-2")  # type: ignore[arg-type]
        msg = ws.receive_json()  # the cam-1 alert, committed first, never arrives
        assert msg["alert"]["id"] == alert.id and msg["alert"]["camera_id"] == "cam-2"


def test_webhook_is_signed(live: Env) -> None:
    got: list[tuple[dict[str, str], bytes]] = []

    class H(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append((dict(self.headers), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    cfg = WebhookConfig(
        url=f"http://localhost:{srv.server_port}/hook",
        secret="s3cret-of-twenty-chars",
        allow_private=True,
        allow_private_reason="a receiver on the test machine",
    )
    sender = WebhookSender(cfg)
    live.svc.hub.add_sink(sender)
    sender.start()
    try:
        alert = add_alert(live.repo, live.svc.media)  # type: ignore[arg-type]
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        headers, body = got[0]
        # Sent to the address checked when it was resolved, still naming the host.
        assert headers["Host"] == f"localhost:{srv.server_port}"
        assert json.loads(body)["alert"]["id"] == alert.id
        ts, sig = headers["X-Vigil-Timestamp"], headers["X-Vigil-Signature"]
        assert verify_signature(b"s3cret-of-twenty-chars", ts, body, sig)
        assert not verify_signature(b"wrong", ts, body, sig)
        assert not verify_signature(b"s3cret-of-twenty-chars", ts, body + b" ", sig)
    finally:
        sender.stop()
        srv.shutdown()


@pytest.mark.services
def test_mqtt_topics_on_the_real_broker(live: Env) -> None:
    prefix = f"vigiltest{int(time.time() * 1000) % 10**8}"
    received: dict[str, bytes] = {}
    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: received.__setitem__(m.topic, m.payload)
    sub.connect("127.0.0.1", 1883)
    sub.subscribe(f"{prefix}/#", qos=1)
    sub.loop_start()
    cfg = MqttConfig.model_validate(
        {"enabled": True, "topic_prefix": prefix, "client_id": prefix, "publish": {"alerts": True}}
    )
    pub = MqttPublisher(cfg)
    live.svc.hub.add_sink(pub)
    pub.start()
    try:
        deadline = time.monotonic() + 5
        while f"{prefix}/available" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        alert = add_alert(live.repo, live.svc.media, camera="cam-1")  # type: ignore[arg-type]
        while f"{prefix}/cam-1/alerts" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert received[f"{prefix}/available"] == b"online"
        assert json.loads(received[f"{prefix}/cam-1/alerts"])["id"] == alert.id
        assert json.loads(received[f"{prefix}/events"])["type"] == "alert"
    finally:
        pub.stop()
        time.sleep(0.2)
        sub.loop_stop()
        sub.disconnect()
    assert received[f"{prefix}/available"] == b"offline"


@pytest.mark.services
def test_home_assistant_discovery_on_the_real_broker(live: Env) -> None:
    from vigil.core.records import CrowdSample

    prefix = f"vigilha{int(time.time() * 1000) % 10**8}"
    disc = f"{prefix}disc"
    received: dict[str, bytes] = {}
    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: received.__setitem__(m.topic, m.payload)
    sub.connect("127.0.0.1", 1883)
    sub.subscribe([(f"{prefix}/#", 1), (f"{disc}/#", 1)])
    sub.loop_start()
    cfg = MqttConfig(enabled=True, topic_prefix=prefix, client_id=prefix, discovery_prefix=disc)
    pub = MqttPublisher(cfg, cameras=["cam-1"])
    live.svc.hub.add_sink(pub)
    pub.start()
    people = f"{disc}/sensor/{prefix}_cam-1_people/config"
    state = f"{disc}/sensor/{prefix}_cam-1_state/config"
    try:
        deadline = time.monotonic() + 5
        while not {people, state} <= received.keys() and time.monotonic() < deadline:
            time.sleep(0.02)
        config = json.loads(received[people])
        assert config["state_topic"] == f"{prefix}/cam-1/crowd/count"
        assert config["availability_topic"] == f"{prefix}/available"
        assert config["unique_id"] == f"{prefix}_cam-1_people"
        assert json.loads(received[state])["state_topic"] == f"{prefix}/cam-1/state"
        assert not any("alert" in t for t in received if t.startswith(disc))  # no alerts to HA
        # The sensor's topic then carries the counts the watcher publishes (cam-1 counts people).
        live.repo.add_crowd_samples([CrowdSample("cam-1", live.svc.clock(), 17.0, "boxes")])
        while f"{prefix}/cam-1/crowd/count" not in received and time.monotonic() < deadline + 5:
            time.sleep(0.05)
        assert received[f"{prefix}/cam-1/crowd/count"] == b"17"
    finally:
        pub.stop()
        for topic in (people, state):  # clear the retained configs from the shared broker
            sub.publish(topic, b"", qos=1, retain=True)
        time.sleep(0.2)
        sub.loop_stop()
        sub.disconnect()


def test_retained_mqtt_camera_status_carries_no_credentials(live: Env) -> None:
    """A stream error quoting the camera URL (a password with '/' and '@', a secret query
    parameter) reaches the retained status topic redacted, host still visible."""
    prefix = f"vigiltest{int(time.time() * 1000) % 10**8}"
    error = "cannot open rtsp://admin:pa/ss@w0rd@10.0.0.7/live?pass=s3cr3t: 401 Unauthorized"
    received: dict[str, bytes] = {}
    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: received.__setitem__(m.topic, m.payload)
    sub.connect("127.0.0.1", 1883)
    sub.subscribe(f"{prefix}/#", qos=1)
    sub.loop_start()
    pub = MqttPublisher(MqttConfig(enabled=True, topic_prefix=prefix, client_id=prefix))
    live.svc.hub.add_sink(pub)
    pub.start()
    status = f"{prefix}/cam-1/status"
    try:
        watcher = EventWatcher(
            live.repo, live.svc.hub, statuses=lambda: [("cam-1", "error", error)]
        )
        deadline = time.monotonic() + 5
        while f"{prefix}/available" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert watcher.poll_status() == 1
        while status not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        payload = received[status].decode()
        for secret in ("pa/ss", "w0rd", "s3cr3t", "admin"):
            assert secret not in payload
        assert "10.0.0.7/live" in json.loads(payload)["last_error"]
    finally:
        sub.publish(status, b"", qos=1, retain=True)  # clear the retained message
        pub.stop()
        time.sleep(0.2)
        sub.loop_stop()
        sub.disconnect()
