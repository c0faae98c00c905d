"""Settings of what leaves the system: webhooks and MQTT (the ``notify`` section).

What may leave is the question here, not how it is sent. Two rules shape these models:

* **Nothing personal leaves by default.** MQTT brokers are often shared and open to anonymous
  subscribers (home automation), so MQTT publishes camera health and crowd counts only; alerts
  are off until ``mqtt.publish.alerts`` is set, and then carry only the alert's id, kind,
  camera, time and status, plus the fields named in ``mqtt.publish.alert_fields``. Subject,
  deployment and plate text never leave unless a person listed them.
* **A webhook may not be pointed inside the network.** A webhook is an outgoing request made by
  the server, so a URL aimed at ``127.0.0.1:5432``, a cloud metadata address or a private
  service would let whoever edits the config (or tricks someone into it) probe what only the
  server can reach. Targets that are not public addresses are refused unless ``allow_private``
  is set together with a written reason. This module checks the URL as written (pure: no
  lookups); :func:`vigil.notify.webhooks.resolve_target` resolves the host name and applies the
  same rule to every address it resolves to, in ``vigil config check`` and before each delivery.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from vigil.config.base import Strict

EventName = Literal["alert", "camera_status", "crowd"]
AlertField = Literal["score", "false_alert_rate", "rank2_margin", "deployment_id", "subject_id"]
#: An alert's fields that always go out when alerts are published at all (no personal data).
ALERT_BASE_FIELDS = ("id", "kind", "camera_id", "raised_at", "status")
MIN_SECRET_CHARS = 16
# Host names that mean "this machine" or a cloud's instance metadata service.
_INTERNAL_NAMES = re.compile(
    r"^(localhost|.*\.localhost|metadata|metadata\.google\.internal|instance-data"
    r"|.*\.internal|.*\.local)\.?$",
    re.IGNORECASE,
)
# A host made only of numbers (decimal, octal, 0x-hex) between dots: resolvers read such a
# host as an IPv4 address in several spellings (2130706433, 0x7f000001, 0177.1, 127.1).
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def _alert_only() -> list[EventName]:
    return ["alert"]


def address_problem(address: str) -> str | None:
    """Why a webhook may not be sent to ``address`` (an IP literal), or ``None`` if public.

    Only globally routable unicast addresses pass: loopback, private, link-local (which holds
    the cloud metadata address 169.254.169.254), shared (100.64/10), reserved, multicast and the
    unspecified address are refused, and so is an IPv6 address that embeds an IPv4 one which
    would be refused.
    """
    ip = ipaddress.ip_address(address.strip("[]"))
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return address_problem(str(inner))
    if ip.is_loopback:
        return f"{ip} is a loopback address (this machine)"
    if ip.is_link_local:
        return f"{ip} is link-local (cloud metadata services live there)"
    if ip.is_multicast or ip.is_unspecified or not ip.is_global:
        return f"{ip} is not a public address (private, shared or reserved range)"
    return None


def host_problem(host: str) -> str | None:
    """Why the host part of a webhook URL is refused as written (before any lookup)."""
    bare = host.strip("[]")
    if not bare:
        return "the URL has no host"
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        pass
    else:  # a canonical literal (ipaddress refuses leading zeros and short forms)
        return address_problem(bare)
    labels = bare.rstrip(".").split(".")
    if all(_NUMERIC_LABEL.match(label) for label in labels):
        return f"{host} is a numeric spelling of an IPv4 address; write it as a.b.c.d"
    if _INTERNAL_NAMES.match(bare):
        return f"{host} names this machine or an internal service"
    return None


class WebhookConfig(Strict):
    url: str = Field(
        ...,
        pattern=r"^https?://",
        max_length=2000,
        title="Webhook URL",
        description="Where events are POSTed as JSON. Must name a public address (the host is "
        "resolved and every address checked) unless `allow_private` is set. May hold "
        "credentials: `vigil config show` and the logs mask them.",
    )
    secret: SecretStr = Field(
        ...,
        title="Signing secret",
        description=f"HMAC-SHA256 key, at least {MIN_SECRET_CHARS} characters; the signature is "
        "sent in X-Vigil-Signature.",
    )
    events: list[EventName] = Field(
        default_factory=_alert_only,
        title="Events",
        description="Which event kinds are sent.",
    )
    cameras: list[str] = Field(
        default_factory=list,
        title="Cameras",
        description="Only events of these cameras (empty: all).",
    )
    timeout_s: float = Field(
        5.0, gt=0, le=60, title="Timeout", description="Seconds per delivery attempt."
    )
    allow_private: bool = Field(
        False,
        title="Allow a private target",
        description="Send to a loopback, private or link-local address (an integration on the "
        "same host or network). Needs `allow_private_reason`.",
    )
    allow_private_reason: str | None = Field(
        None,
        min_length=10,
        max_length=500,
        title="Why a private target",
        description="Why this webhook may reach an internal address (kept in the config, "
        "shown by `vigil config show`).",
    )

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value().strip()) < MIN_SECRET_CHARS:
            raise ValueError(
                f"the signing secret needs at least {MIN_SECRET_CHARS} characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        return v

    @model_validator(mode="after")
    def _public_target(self) -> WebhookConfig:
        if self.allow_private:
            if not self.allow_private_reason:
                raise ValueError("allow_private needs allow_private_reason (why it is safe)")
            return self
        try:
            host = urlsplit(self.url).hostname or ""
        except ValueError as exc:
            raise ValueError(f"url cannot be parsed: {exc}") from None
        problem = host_problem(host)
        if problem:
            raise ValueError(
                f"webhook target refused: {problem}; set allow_private with a reason if intended"
            )
        return self


class MqttTlsConfig(Strict):
    ca_file: Path | None = Field(
        None,
        title="CA certificates",
        description="PEM file of the CA(s) that signed the broker's certificate; unset: the "
        "system's trusted CAs. The broker's host name is always verified.",
    )
    cert_file: Path | None = Field(
        None,
        title="Client certificate",
        description="PEM client certificate, for brokers that authenticate clients by "
        "certificate (with `key_file`).",
    )
    key_file: Path | None = Field(
        None, title="Client key", description="PEM private key of `cert_file`."
    )

    @model_validator(mode="after")
    def _pair(self) -> MqttTlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class MqttPublishConfig(Strict):
    """What goes out over MQTT, per topic family (see :mod:`vigil.notify.mqtt`)."""

    alerts: bool = Field(
        False,
        title="Alerts",
        description="Publish alerts (`<prefix>/<camera>/alerts` and in `<prefix>/events`). Off "
        "by default: any subscriber of the broker receives them. When on, an alert carries "
        "only its id, kind, camera, time and status, plus `alert_fields`.",
    )
    alert_fields: list[AlertField] = Field(
        default_factory=list,
        max_length=5,
        title="Extra alert fields",
        description="Alert fields added to the minimal payload: `score`, `false_alert_rate`, "
        "`rank2_margin`, `deployment_id`, `subject_id`. Who may subscribe to the broker may "
        "then see them; the API shows them only to some roles and cameras.",
    )
    camera_status: bool = Field(
        True,
        title="Camera status",
        description="Publish camera states (`<prefix>/<camera>/status` and `/state`, retained).",
    )
    crowd: bool = Field(
        True,
        title="Crowd counts",
        description="Publish crowd samples (`<prefix>/<camera>/crowd`, `/crowd/count`).",
    )
    events_topic: bool = Field(
        True,
        title="Combined events topic",
        description="Also publish each event that is on to `<prefix>/events` (same payloads).",
    )


class MqttConfig(Strict):
    enabled: bool = Field(False, title="Enabled", description="Publish events to MQTT.")
    host: str = Field("127.0.0.1", title="Broker host", description="MQTT broker address.")
    port: int = Field(
        1883, ge=1, le=65535, title="Broker port", description="MQTT port (TLS: usually 8883)."
    )
    username: str | None = Field(
        None, min_length=1, max_length=200, title="Username", description="Broker user name."
    )
    password: SecretStr | None = Field(
        None,
        title="Password",
        description="Broker password (with `username`); set VIGIL__NOTIFY__MQTT__PASSWORD. Sent "
        "in clear without `tls`, so then allowed only to a loopback broker.",
    )
    tls: MqttTlsConfig | None = Field(
        None,
        title="TLS",
        description="Connect over TLS (server certificate and host name verified). Unset: "
        "plain TCP.",
    )
    publish: MqttPublishConfig = Field(
        default_factory=MqttPublishConfig,
        title="What is published",
        description="Per topic family: alerts (off by default), camera status, crowd counts.",
    )
    topic_prefix: str = Field(
        "vigil",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        title="Topic prefix",
        description="First level of every topic (`<prefix>/<camera>/alerts`, ...).",
    )
    client_id: str = Field("vigil", max_length=64, title="Client id", description="MQTT client id.")
    discovery_prefix: str | None = Field(
        "homeassistant",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        title="Home Assistant discovery",
        description="Topic prefix of Home Assistant MQTT discovery: each camera appears as a "
        "device with a people-count and a camera-state sensor (no alerts, no images). Null "
        "turns discovery off.",
    )

    @model_validator(mode="after")
    def _credentials(self) -> MqttConfig:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        if self.password is not None and not self.password.get_secret_value():
            raise ValueError("password is empty")
        if self.password is not None and self.tls is None and not _loopback(self.host):
            raise ValueError(
                "a broker password would cross the network in clear: set tls, or use a "
                "broker on this machine"
            )
        return self


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class NotifyConfig(Strict):
    webhooks: list[WebhookConfig] = Field(
        default_factory=list,
        max_length=32,
        title="Webhooks",
        description="Outgoing HMAC-signed webhooks for integrations.",
    )
    mqtt: MqttConfig = Field(
        default_factory=MqttConfig, title="MQTT", description="MQTT publishing."
    )
    poll_s: float = Field(
        0.05,
        ge=0.01,
        le=10,
        title="Event poll interval",
        description="How often committed alerts and crowd samples are picked up for live "
        "notification; shorter lowers latency at the cost of more small queries.",
    )
