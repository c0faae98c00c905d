"""MQTT publishing for home-automation and VMS integrations (Home Assistant, Node-RED, Frigate
users), on topics laid out the way those tools expect:

=================================  =========  ======================================================
topic                              retained   payload
=================================  =========  ======================================================
``<prefix>/available``             yes        ``online`` / ``offline`` (last will: a crash reads
                                              as offline)
``<prefix>/events``                no         every published event, JSON (``events_topic``)
``<prefix>/<camera>/alerts``       no         one alert, minimal JSON (only with ``alerts`` on)
``<prefix>/<camera>/status``       yes        camera state, JSON ``{"state", "last_error", "at"}``
``<prefix>/<camera>/state``        yes        camera state, plain text (``running``, ...)
``<prefix>/<camera>/crowd``        yes        crowd sample, JSON ``{"count", "zone", "at", ...}``
``<prefix>/<camera>/crowd/count``  yes        the latest count, plain number
=================================  =========  ======================================================

**What leaves** is chosen per topic family in ``mqtt.publish``. A broker is often shared and
open to anonymous subscribers, while the API shows an alert only to some roles and cameras, so
alerts are off by default; when on, an alert carries its id, kind, camera, time and status and
only the extra fields named in ``alert_fields`` (never the plate text or hotlist of a plate hit,
never images or embeddings). Camera status and crowd counts hold no personal data and are on.
The connection can use TLS (broker certificate and host name verified, optional client
certificate) and a user name and password (:class:`~vigil.config.notify.MqttConfig`).

Alerts go out at QoS 1; each is recorded as delivered when the broker acknowledges it
(:mod:`vigil.notify.delivery`), so a restart or a new leader does not publish it again. State
goes out at QoS 0 retained (the newest value is what counts).

**Home Assistant discovery** (``mqtt.discovery_prefix``, default ``homeassistant``): on every
connect, each configured camera is announced as a device with two sensors, its people count
(``<prefix>/<camera>/crowd/count``) and its state (``<prefix>/<camera>/state``), both tied to
``<prefix>/available``. Alerts are deliberately *not* offered to home automation: a face or plate
hit is a lead for people to verify, not a trigger for automations.
Publishing hands messages to paho's network thread, which reconnects on its own; messages
published while disconnected are queued by paho up to ``max_queued`` and then dropped.
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vigil.config.notify import ALERT_BASE_FIELDS, MqttConfig, MqttPublishConfig
from vigil.notify.delivery import DeliveryGuard, sink_name
from vigil.notify.events import (
    AlertEvent,
    CameraStatusEvent,
    CrowdEvent,
    DriftEvent,
    Event,
    event_json,
)
from vigil.storage.deliveries import DeliveryLog

log = logging.getLogger(__name__)

ACKED_KEPT = 4096  # acknowledged message ids remembered until the confirming thread takes them


def published(event: Event, publish: MqttPublishConfig) -> bool:
    """Whether ``publish`` lets this kind of event out at all."""
    if isinstance(event, AlertEvent):
        return publish.alerts
    if isinstance(event, CrowdEvent):
        return publish.crowd
    if isinstance(event, DriftEvent):
        return False  # for supervisors and auditors on the console and webhooks, not the bus
    return publish.camera_status


def topics_for(
    prefix: str, event: Event, publish: MqttPublishConfig | None = None
) -> list[tuple[str, str, int, bool]]:
    """``(topic, payload, qos, retain)`` for every message one event produces (none for a kind
    ``publish`` leaves out); an alert stripped to its base fields plus ``alert_fields``."""
    publish = publish or MqttPublishConfig()
    if not published(event, publish):
        return []
    doc = event_json(event)
    if isinstance(event, AlertEvent):
        full_alert = doc["alert"]
        assert isinstance(full_alert, dict)
        keep = (*ALERT_BASE_FIELDS, *publish.alert_fields)
        doc["alert"] = {k: full_alert[k] for k in keep if k in full_alert}
    cam = f"{prefix}/{event.camera_id}"
    out = []
    if publish.events_topic:
        full = json.dumps(doc, separators=(",", ":"))
        out.append((f"{prefix}/events", full, 1 if isinstance(event, AlertEvent) else 0, False))
    if isinstance(event, AlertEvent):
        out.append((f"{cam}/alerts", json.dumps(doc["alert"], separators=(",", ":")), 1, False))
    elif isinstance(event, CameraStatusEvent):
        status = {"state": event.state, "last_error": event.last_error, "at": doc["at"]}
        out.append((f"{cam}/status", json.dumps(status, separators=(",", ":")), 0, True))
        out.append((f"{cam}/state", event.state, 0, True))
    elif isinstance(event, CrowdEvent):
        s = event.sample
        crowd = {"count": s.count, "zone": s.zone, "method": s.method, "at": doc["at"]}
        out.append((f"{cam}/crowd", json.dumps(crowd, separators=(",", ":")), 0, True))
        out.append((f"{cam}/crowd/count", f"{s.count:g}", 0, True))
    return out


def discovery(disc: str, prefix: str, cameras: Sequence[str]) -> list[tuple[str, str]]:
    """Home Assistant discovery ``(topic, config JSON)`` pairs: two sensors per camera."""
    out = []
    for cam in cameras:
        device = {
            "identifiers": [f"{prefix}_{cam}"],
            "name": f"Vigil camera {cam}",
            "manufacturer": "Vigil",
        }
        sensors = {
            "people": {
                "name": "People",
                "state_topic": f"{prefix}/{cam}/crowd/count",
                "unit_of_measurement": "people",
                "state_class": "measurement",
                "icon": "mdi:account-group",
            },
            "state": {
                "name": "Camera state",
                "state_topic": f"{prefix}/{cam}/state",
                "icon": "mdi:cctv",
            },
        }
        for key, sensor in sensors.items():
            uid = f"{prefix}_{cam}_{key}"
            config = {
                **sensor,
                "unique_id": uid,
                "object_id": uid,
                "availability_topic": f"{prefix}/available",
                "device": device,
            }
            out.append((f"{disc}/sensor/{uid}/config", json.dumps(config, separators=(",", ":"))))
    return out


class MqttPublisher:
    """A hub sink publishing to one broker.

    Args:
        cfg: broker, credentials, TLS and what is published.
        cameras: the cameras announced to Home Assistant discovery.
        deliveries: the delivery record (``None``: remembered in memory only, for tests and
            tools without a database).
        max_queued: messages paho holds while disconnected; more are dropped.
        ack_timeout_s: how long an alert may wait for the broker's acknowledgement before it
            counts as not delivered (a later replay may send it then).
    """

    def __init__(
        self,
        cfg: MqttConfig,
        *,
        cameras: Sequence[str] = (),
        deliveries: DeliveryLog | None = None,
        max_queued: int = 10_000,
        ack_timeout_s: float = 30.0,
    ) -> None:
        self.cfg = cfg
        self.cameras = tuple(cameras)
        self.prefix = cfg.topic_prefix
        self.name = sink_name("mqtt", f"{cfg.host}:{cfg.port}/{cfg.topic_prefix}")
        self.guard = DeliveryGuard(self.name, deliveries)
        self.ack_timeout_s = ack_timeout_s
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=cfg.client_id
        )
        if cfg.username and cfg.password is not None:
            self.client.username_pw_set(cfg.username, cfg.password.get_secret_value())
        if cfg.tls is not None:
            tls = cfg.tls
            self.client.tls_set(
                ca_certs=None if tls.ca_file is None else str(tls.ca_file),
                certfile=None if tls.cert_file is None else str(tls.cert_file),
                keyfile=None if tls.key_file is None else str(tls.key_file),
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        self.client.max_queued_messages_set(max_queued)
        self.client.will_set(f"{self.prefix}/available", "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self._acked: OrderedDict[int, None] = OrderedDict()
        self._acked_lock = threading.Lock()
        self._acks: queue.Queue[tuple[mqtt.MQTTMessageInfo, str] | None] = queue.Queue(max_queued)
        self._confirm: threading.Thread | None = None
        self._stopping = threading.Event()
        self.published = 0

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: object, *_: object
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.error(
                "MQTT broker %s:%d refused the connection: %s", self.cfg.host, self.cfg.port, rc
            )
            return
        client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
        if self.cfg.discovery_prefix:
            for topic, payload in discovery(self.cfg.discovery_prefix, self.prefix, self.cameras):
                client.publish(topic, payload, qos=1, retain=True)
        log.info("connected to MQTT broker %s:%d", self.cfg.host, self.cfg.port)

    def start(self) -> None:
        self._stopping.clear()
        self.guard.prune()
        self._confirm = threading.Thread(
            target=self._confirming, name="vigil-mqtt-acks", daemon=True
        )
        self._confirm.start()
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        info = self.client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True)
        if self.client.is_connected():
            info.wait_for_publish(2.0)
        self._stopping.set()
        self._acks.put(None)
        if self._confirm is not None:
            self._confirm.join(self.ack_timeout_s + 5)
        self.client.disconnect()
        self.client.loop_stop()

    def __call__(self, event: Event) -> None:
        messages = topics_for(self.prefix, event, self.cfg.publish)
        alert_id = event.alert.id if isinstance(event, AlertEvent) else None
        if not messages or (alert_id is not None and not self.guard.claim(alert_id)):
            return
        info = None
        for topic, payload, qos, retain in messages:
            info = self.client.publish(topic, payload, qos=qos, retain=retain)
            self.published += 1
        if alert_id is not None and info is not None:
            try:  # the last message's acknowledgement stands for the alert's
                self._acks.put_nowait((info, alert_id))
            except queue.Full:
                self.guard.release(alert_id)

    def _on_publish(self, _c: object, _u: object, mid: int, rc: object, *_: object) -> None:
        """Paho's network thread: the broker acknowledged message ``mid`` (QoS 1). Kept in a
        bounded, ordered map, far smaller than the 65,535 message ids, so an old entry is gone
        before its id is used again."""
        if getattr(rc, "is_failure", False):
            return
        with self._acked_lock:
            self._acked[mid] = None
            while len(self._acked) > ACKED_KEPT:
                self._acked.popitem(last=False)

    def _confirming(self) -> None:
        """Record each alert once the broker acknowledged its last message. A message published
        while disconnected is queued by paho and acknowledged after the reconnect; only one
        refused outright (paho's queue full) counts as failed at once."""
        while (item := self._acks.get()) is not None:
            info, alert_id = item
            deadline = time.monotonic() + self.ack_timeout_s
            acked = False
            while time.monotonic() < deadline and not self._stopping.is_set():
                with self._acked_lock:
                    acked = info.mid in self._acked
                    if acked:
                        del self._acked[info.mid]
                if acked or info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                    break
                time.sleep(0.02)
            if acked:
                self.guard.done(alert_id)
            else:
                self.guard.release(alert_id)
