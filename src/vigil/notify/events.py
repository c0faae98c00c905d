"""The events Vigil pushes to people and integrations, and their one JSON form.

Three kinds: an alert was committed, a camera changed state, a crowd count was sampled. Each is a
small frozen dataclass; :func:`event_json` is the only place that turns one into the wire format
used by the WebSocket stream, webhooks and MQTT alike, so the three never drift apart. No event
carries biometric data: an alert event names the alert, its camera, score and calibrated
false-alert rate, never the probe crop, the enrolled photo or an embedding. A tamper alert (a
camera frozen, covered or turned) also carries ``tamper``: the signal, whether it was ``raised``
or ``cleared``, and for a clearance the alert it clears and how long the condition lasted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from vigil.core.domain import Role
from vigil.core.records import Alert, AlertKind, CrowdSample
from vigil.logs import redact
from vigil.sources.status import TamperChange

EventKind = Literal["alert", "camera_status", "crowd", "drift"]
EVENT_KINDS: tuple[EventKind, ...] = ("alert", "camera_status", "crowd", "drift")

#: Who may receive each kind on the live stream. Alerts are leads about people and go to those
#: who verify or investigate them; camera health and crowd counts hold no personal data.
EVENT_ROLES: dict[EventKind, frozenset[Role]] = {
    "alert": frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.INVESTIGATOR}),
    "camera_status": frozenset(Role),
    "crowd": frozenset(Role),
    # A deployment's false alerts exceed its calibration: for those who oversee and renew it.
    "drift": frozenset({Role.SUPERVISOR, Role.AUDITOR, Role.AUTHORISING_OFFICER}),
}

JsonValue = str | int | float | bool | None
JsonObject = dict[str, "JsonValue | JsonObject"]


@dataclass(frozen=True, slots=True)
class AlertEvent:
    alert: Alert
    kind: Literal["alert"] = "alert"

    @property
    def camera_id(self) -> str:
        return self.alert.camera_id

    @property
    def at(self) -> datetime:
        return self.alert.raised_at


@dataclass(frozen=True, slots=True)
class CameraStatusEvent:
    """A camera's state changed. ``last_error`` is redacted here, once, so no sink (MQTT's
    retained status, webhooks, the WebSocket) can publish a camera URL's credentials."""

    camera_id: str
    state: str
    at: datetime
    last_error: str | None = None
    kind: Literal["camera_status"] = "camera_status"

    def __post_init__(self) -> None:
        if self.last_error is not None:
            object.__setattr__(self, "last_error", redact(self.last_error))


@dataclass(frozen=True, slots=True)
class CrowdEvent:
    sample: CrowdSample
    kind: Literal["crowd"] = "crowd"

    @property
    def camera_id(self) -> str:
        return self.sample.camera_id

    @property
    def at(self) -> datetime:
        return self.sample.sampled_at


@dataclass(frozen=True, slots=True)
class DriftEvent:
    """A deployment's drift watch flagged: rejected alerts significantly above the calibrated
    rate (:mod:`vigil.governance.drift`). ``camera_id`` is the deployment's first camera (the
    live stream's camera scope needs one); the event holds counts only."""

    deployment_id: str
    camera_id: str
    at: datetime
    searches: int
    false_alerts: int
    predicted_rate: float
    kind: Literal["drift"] = "drift"


Event = AlertEvent | CameraStatusEvent | CrowdEvent | DriftEvent


def alert_json(a: Alert) -> JsonObject:
    """The public fields of an alert (the same the REST API returns; no biometric data)."""
    return {
        "id": a.id,
        "kind": a.kind.value,
        "camera_id": a.camera_id,
        "raised_at": a.raised_at.isoformat(),
        "score": a.score,
        "status": a.status.value,
        "deployment_id": a.deployment_id,
        "subject_id": a.subject_id,
        "false_alert_rate": a.false_alert_rate,
        "rank2_margin": a.rank2_margin,
        "detail": a.detail,
    }


def event_json(event: Event) -> JsonObject:
    """``{"type", "camera_id", "at", <kind>: {...}}`` for any event."""
    body: JsonObject = {
        "type": event.kind,
        "camera_id": event.camera_id,
        "at": event.at.isoformat(),
    }
    if isinstance(event, AlertEvent):
        body["alert"] = alert_json(event.alert)
        if event.alert.kind is AlertKind.TAMPER:
            words = TamperChange.parse_detail(event.alert.detail)
            keys = ("signal", "phase", "reason", "lasted_s", "raised_alert")
            body["tamper"] = {k: words[k] for k in keys if k in words}
    elif isinstance(event, CameraStatusEvent):
        body["status"] = {"state": event.state, "last_error": event.last_error}
    elif isinstance(event, DriftEvent):
        body["drift"] = {
            "deployment_id": event.deployment_id,
            "searches": event.searches,
            "rejected_alerts": event.false_alerts,
            "predicted_rate_upper95": event.predicted_rate,
        }
    else:
        s = event.sample
        body["crowd"] = {"count": s.count, "zone": s.zone, "method": s.method}
    return body
