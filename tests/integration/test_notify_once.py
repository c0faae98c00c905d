"""Issue 24, notifications: what MQTT lets out (real Mosquitto on 127.0.0.1:1883, and a TLS
broker with a password of the test's own), and each alert announced once across a restart and
a leader takeover (the delivery record per sink)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.api_env import Env, add_alert, build_env, config
from tests.support.mqtt import Listener, refused_connect, tls_broker
from tests.support.polling import wait_for
from vigil.config import VigilConfig
from vigil.config.notify import ALERT_BASE_FIELDS, MqttConfig, NotifyConfig
from vigil.core.records import AlertKind
from vigil.notify.delivery import sink_name
from vigil.notify.events import AlertEvent, CameraStatusEvent
from vigil.notify.mqtt import MqttPublisher
from vigil.notify.watcher import EventWatcher
from vigil.storage.deliveries import DeliveryLog
from vigil.system.assembly import notifiers


def _prefix(name: str) -> str:
    return f"{name}{int(time.time() * 1000) % 10**8}"


def _mqtt(prefix: str, **more: object) -> MqttConfig:
    base = {"enabled": True, "topic_prefix": prefix, "client_id": prefix, "discovery_prefix": None}
    return MqttConfig.model_validate({**base, **more})


@contextmanager
def publishing(live: Env, cfg: MqttConfig, *retained: str) -> Iterator[Listener]:
    """A publisher of ``cfg`` hung on ``live``'s hub and a subscriber to its prefix, both
    connected; afterwards the ``retained`` topics (and ``available``) are cleared again, as
    the broker is shared."""
    listener = Listener(cfg.topic_prefix)
    pub = MqttPublisher(cfg)
    live.svc.hub.add_sink(pub)
    pub.start()
    try:
        listener.wait("available", b"online")
        yield listener
    finally:
        live.svc.hub.remove_sink(pub)
        pub.stop()
        for topic in (*retained, "available"):
            listener.client.publish(f"{cfg.topic_prefix}/{topic}", b"", retain=True)
        time.sleep(0.2)
        listener.close()


@pytest.mark.services
def test_an_anonymous_subscriber_gets_no_alert_by_default(live: Env) -> None:
    cfg = _mqtt(_prefix("vigilanon"))
    with publishing(live, cfg, "cam-1/status", "cam-1/state") as listener:
        face = add_alert(live.repo, live.svc.media, camera="cam-1", kind=AlertKind.FACE_MATCH)
        plate = add_alert(live.repo, live.svc.media, camera="cam-1")
        # A camera status after the alerts: once it arrives, the alerts would have too.
        time.sleep(0.5)  # the watcher polls every 20 ms
        live.svc.hub.publish(CameraStatusEvent("cam-1", "running", datetime.now(UTC)))
        listener.wait("cam-1/state", b"running")
        time.sleep(0.3)
        assert not any("alert" in t for t in listener.topics())
        events = [json.loads(p) for p in listener.payloads("events")]
        assert [e["type"] for e in events] == ["camera_status"]
        wire = b"".join(p for _, p in listener.messages)
        for alert in (face, plate):
            assert alert.id.encode() not in wire


@pytest.mark.services
def test_alerts_when_switched_on_carry_only_the_chosen_fields(live: Env) -> None:
    cfg = _mqtt(_prefix("vigilmin"), publish={"alerts": True, "alert_fields": ["score"]})
    with publishing(live, cfg) as listener:
        face = add_alert(live.repo, live.svc.media, camera="cam-2", kind=AlertKind.FACE_MATCH)
        listener.wait("cam-2/alerts")
        got = json.loads(listener.payloads("cam-2/alerts")[0])
        assert got["id"] == face.id and got["score"] == face.score
        assert set(got) == {*ALERT_BASE_FIELDS, "score"}
        assert face.deployment_id is not None
        assert face.deployment_id.encode() not in b"".join(p for _, p in listener.messages)


@pytest.mark.services
def test_a_restart_does_not_publish_an_alert_twice(live: Env) -> None:
    """The first publisher's alert is recorded once the broker acknowledged it; the restarted
    process's watcher announces the last two minutes again, and its publisher skips it."""
    prefix = _prefix("vigilonce")
    listener = Listener(prefix)
    cfg = _mqtt(prefix, publish={"alerts": True})
    deliveries = DeliveryLog(live.repo.db)
    first = MqttPublisher(cfg, deliveries=deliveries)
    live.svc.hub.add_sink(first)
    first.start()
    second = MqttPublisher(cfg, deliveries=deliveries)
    try:
        listener.wait("available", b"online")
        before = add_alert(live.repo, live.svc.media, camera="cam-1")
        listener.wait("cam-1/alerts")
        wait_for(
            "the delivery record",
            lambda: deliveries.delivered(first.name, [before.id]),
            10,
            period=0.05,
        )
        live.svc.hub.remove_sink(first)
        first.stop()  # the process stops ...
        live.svc.hub.add_sink(second)  # ... and starts again with a fresh watcher
        second.start()
        listener.wait("available", b"online", timeout=10)
        # The restarted process's watcher reads the last two minutes again: `before` is
        # announced on the hub once more (polled here, not on a timer, so it surely happens).
        restarted = EventWatcher(live.repo, live.svc.hub)
        assert restarted.poll_alerts() == 1
        after = add_alert(live.repo, live.svc.media, camera="cam-1")
        wait_for("the new alert", lambda: len(listener.payloads("cam-1/alerts")) >= 2, 10, 0.02)
        time.sleep(0.5)
        ids = [json.loads(p)["id"] for p in listener.payloads("cam-1/alerts")]
        assert ids == [before.id, after.id], ids
        assert second.guard.skipped >= 1  # the restart's re-announcement was seen and skipped
    finally:
        live.svc.hub.remove_sink(second)
        second.stop()
        listener.client.publish(f"{prefix}/available", b"", retain=True)
        time.sleep(0.2)
        listener.close()


@pytest.mark.services
def test_an_alert_handed_over_before_the_connection_is_recorded_once_sent(live: Env) -> None:
    """A new leader replays alerts to senders that are still connecting: paho queues them and
    sends them on connect, and the acknowledgement then still records them."""
    prefix = _prefix("vigilearly")
    listener = Listener(prefix)
    deliveries = DeliveryLog(live.repo.db)
    pub = MqttPublisher(_mqtt(prefix, publish={"alerts": True}), deliveries=deliveries)
    alert = add_alert(live.repo, live.svc.media, camera="cam-2")
    try:
        pub(AlertEvent(alert))  # not connected yet
        pub.start()
        listener.wait("cam-2/alerts")
        wait_for("the record", lambda: deliveries.delivered(pub.name, [alert.id]), 10, 0.05)
        pub(AlertEvent(alert))  # a second announcement is skipped
        time.sleep(0.3)
        assert len(listener.payloads("cam-2/alerts")) == 1
    finally:
        pub.stop()
        listener.client.publish(f"{prefix}/available", b"", retain=True)
        time.sleep(0.2)
        listener.close()


@pytest.mark.services
def test_tls_broker_with_a_password(tmp_path: Path) -> None:
    with tls_broker(tmp_path / "broker") as broker:
        assert refused_connect(broker)  # anonymous
        assert refused_connect(broker, username=broker.username, password="wrong-password")
        prefix = _prefix("vigiltls")
        listener = Listener(
            prefix,
            port=broker.port,
            ca_file=broker.ca_file,
            username=broker.username,
            password=broker.password,
        )
        cfg = _mqtt(
            prefix,
            port=broker.port,
            username=broker.username,
            password=broker.password,
            tls={"ca_file": str(broker.ca_file)},
        )
        pub = MqttPublisher(cfg)
        pub.start()
        try:
            listener.wait("available", b"online")
            pub(CameraStatusEvent("cam-1", "running", datetime.now(UTC)))
            listener.wait("cam-1/state", b"running")
        finally:
            pub.stop()
            listener.close()


class Receiver:
    """A webhook receiver on the test machine that keeps the alert ids it was sent."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.ids.append(json.loads(body)["alert"]["id"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def _with_webhook(url: str) -> VigilConfig:
    hook = {
        "url": url,
        "secret": "a-webhook-secret-of-some-length",
        "allow_private": True,
        "allow_private_reason": "a receiver on the test machine",
    }
    return config().model_copy(update={"notify": NotifyConfig.model_validate({"webhooks": [hook]})})


def test_a_new_leader_sends_what_the_old_one_did_not(tmp_path: Path, receiver: Receiver) -> None:
    """Two alerts committed before this process leads: one the old leader delivered (its
    record is there), one it never sent (it died first). Taking the lead replays the window:
    the missing one goes out, the delivered one does not, and a further takeover sends
    nothing again."""
    cfg = _with_webhook(receiver.url)
    env = build_env(tmp_path, cfg=cfg)
    try:
        sent = add_alert(env.repo, env.svc.media)
        missed = add_alert(env.repo, env.svc.media)
        deliveries = DeliveryLog(env.repo.db)
        deliveries.record(sink_name("webhook", receiver.url), sent.id, datetime.now(UTC))
        for _ in range(2):  # two takeovers in a row (SQLite: this process always leads)
            leader = notifiers(env.svc, cfg, None)[0]
            leader.start()
            try:
                wait_for("the missed alert", lambda: missed.id in receiver.ids, 10, 0.02)
                time.sleep(0.5)
            finally:
                leader.stop()
        assert receiver.ids == [missed.id]
    finally:
        env.repo.db.dispose()


def test_a_restarted_process_does_not_send_an_alert_again(
    tmp_path: Path, receiver: Receiver
) -> None:
    """The whole notification part of a process (watcher and leader with its webhook sender),
    stopped and built again as a restart does: the new watcher re-reads the last two minutes,
    and the alert the first run delivered is not sent again; the next one is sent once."""
    cfg = _with_webhook(receiver.url)
    env = build_env(tmp_path, cfg=cfg)
    try:
        first = add_alert(env.repo, env.svc.media)
        later: list[str] = []
        for run in range(2):
            parts = notifiers(env.svc, cfg, None)
            for part in parts:
                part.start()
            try:
                wait_for("the first alert", lambda: first.id in receiver.ids, 10, 0.02)
                if run == 1:
                    later.append(add_alert(env.repo, env.svc.media).id)
                    wait_for("the second alert", lambda: later[0] in receiver.ids, 10, 0.02)
                time.sleep(0.5)  # time for a duplicate, were one coming
            finally:
                for part in reversed(parts):
                    part.stop()
        assert receiver.ids == [first.id, *later], receiver.ids
    finally:
        env.repo.db.dispose()
