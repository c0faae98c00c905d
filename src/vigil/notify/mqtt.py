"""MQTT publishing for home-automation and VMS integrations (Home Assistant, Node-RED, Frigate
users), on topics laid out the way those tools expect:

=================================  =========  ======================================================
topic                              retained   payload
=================================  =========  ======================================================
``<prefix>/available``             yes        ``online`` / ``offline`` (last will: a crash reads
                                              as offline)
``<prefix>/events``                no         every event, JSON (as on the WebSocket stream)
``<prefix>/<camera>/alerts``       no         one alert, JSON (no images, no embeddings)
``<prefix>/<camera>/status``       yes        camera state, JSON ``{"state", "last_error", "at"}``
``<prefix>/<camera>/state``        yes        camera state, plain text (``running``, ...)
``<prefix>/<camera>/crowd``        yes        crowd sample, JSON ``{"count", "zone", "at", ...}``
``<prefix>/<camera>/crowd/count``  yes        the latest count, plain number
=================================  =========  ======================================================

Alerts go out at QoS 1 (at least once), state at QoS 0 retained (the newest value is what counts).

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
from collections.abc import Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vigil.config.settings import MqttConfig
from vigil.notify.events import AlertEvent, CameraStatusEvent, Event, event_json

log = logging.getLogger(__name__)


def topics_for(prefix: str, event: Event) -> list[tuple[str, str, int, bool]]:
    """``(topic, payload, qos, retain)`` for every message one event produces."""
    doc = event_json(event)
    full = json.dumps(doc, separators=(",", ":"))
    cam = f"{prefix}/{event.camera_id}"
    out = [(f"{prefix}/events", full, 1 if isinstance(event, AlertEvent) else 0, False)]
    if isinstance(event, AlertEvent):
        out.append((f"{cam}/alerts", json.dumps(doc["alert"], separators=(",", ":")), 1, False))
    elif isinstance(event, CameraStatusEvent):
        status = {"state": event.state, "last_error": event.last_error, "at": doc["at"]}
        out.append((f"{cam}/status", json.dumps(status, separators=(",", ":")), 0, True))
        out.append((f"{cam}/state", event.state, 0, True))
    else:
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
    """A hub sink publishing to one broker."""

    def __init__(
        self, cfg: MqttConfig, *, cameras: Sequence[str] = (), max_queued: int = 10_000
    ) -> None:
        self.cfg = cfg
        self.cameras = tuple(cameras)
        self.prefix = cfg.topic_prefix
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=cfg.client_id
        )
        if cfg.username:
            pw = cfg.password.get_secret_value() if cfg.password else None
            self.client.username_pw_set(cfg.username, pw)
        self.client.max_queued_messages_set(max_queued)
        self.client.will_set(f"{self.prefix}/available", "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.published = 0

    def _on_connect(self, client: mqtt.Client, *_: object) -> None:
        client.publish(f"{self.prefix}/available", "online", qos=1, retain=True)
        if self.cfg.discovery_prefix:
            for topic, payload in discovery(self.cfg.discovery_prefix, self.prefix, self.cameras):
                client.publish(topic, payload, qos=1, retain=True)
        log.info("connected to MQTT broker %s:%d", self.cfg.host, self.cfg.port)

    def start(self) -> None:
        self.client.connect_async(self.cfg.host, self.cfg.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        info = self.client.publish(f"{self.prefix}/available", "offline", qos=1, retain=True)
        if self.client.is_connected():
            info.wait_for_publish(2.0)
        self.client.disconnect()
        self.client.loop_stop()

    def __call__(self, event: Event) -> None:
        for topic, payload, qos, retain in topics_for(self.prefix, event):
            self.client.publish(topic, payload, qos=qos, retain=retain)
            self.published += 1
