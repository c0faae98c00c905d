"""``/alerts``: the alert queue, two-person verification decisions, outcomes, and the images
verifiers compare (probe crop and enrolled photo).

Images are biometric data: only operators, supervisors and investigators reach them, each view
is written to the audit chain with a reason (``X-Vigil-Reason`` header, required), and auditors
are refused (and the refusal is audited by the error handler).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response

from vigil.api.deps import access, services
from vigil.api.routes.common import Limit, Offset, Since, Until, aware, page, router
from vigil.api.schemas import (
    AlertOut,
    Done,
    FalseAlertOut,
    IdPath,
    IdQuery,
    OutcomeIn,
    Page,
    VerificationIn,
    VerificationOut,
)
from vigil.core.domain import Role
from vigil.core.records import Alert, AlertStatus
from vigil.errors import NotFoundError
from vigil.governance.accounts import Principal
from vigil.identification.calibration import RateEstimate

alerts = router("/alerts", "alerts")
WATCHERS = (Role.OPERATOR, Role.SUPERVISOR, Role.INVESTIGATOR)
DECIDERS = (Role.OPERATOR, Role.SUPERVISOR)
ReasonHeader = Annotated[str, Header(alias="X-Vigil-Reason", min_length=3, max_length=500)]


def false_alert_out(a: Alert) -> FalseAlertOut | None:
    """The bound and what it rests on, for alerts that carry it."""
    k, n = a.calibration_count, a.calibration_comparisons
    if a.false_alert_rate is None or a.false_alert_point is None or k is None or n is None:
        return None
    rate = RateEstimate(a.false_alert_point, a.false_alert_rate, k, n)
    return FalseAlertOut(
        upper_bound=rate.upper,
        point=rate.point,
        calibration_count=k,
        calibration_comparisons=n,
        text=rate.text(),
    )


def alert_out(a: Alert) -> AlertOut:
    return AlertOut(
        id=a.id,
        kind=a.kind.value,
        camera_id=a.camera_id,
        raised_at=a.raised_at,
        score=a.score,
        status=a.status.value,
        deployment_id=a.deployment_id,
        subject_id=a.subject_id,
        false_alert_rate=a.false_alert_rate,
        rank2_margin=a.rank2_margin,
        false_alert=false_alert_out(a),
        template_id=a.template_id,
        detail=a.detail,
    )


def _alert(request: Request, alert_id: str) -> Alert:
    """The alert (``access`` has already checked it is within the caller's cameras)."""
    return services(request).repo.get_alert(alert_id)


@alerts.get("", response_model=Page[AlertOut])
def list_alerts(
    request: Request,
    *,
    status: AlertStatus | None = None,
    camera_id: IdQuery = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    p: Principal = access(*WATCHERS, scope="alerts:read"),
) -> Page[AlertOut]:
    """Alerts raised in ``[since, until)``, newest first, optionally of one camera or status."""
    rows = services(request).repo.list_alerts(
        status=status,
        camera_id=camera_id,
        since=aware(since, "since"),
        until=aware(until, "until"),
        limit=limit + 1,
        offset=offset,
        cameras=p.cameras,  # in the query, so a district's pages are full and offsets right
    )
    return page(rows, alert_out, limit, offset)


@alerts.get("/{alert_id}", response_model=AlertOut)
def get_alert(
    alert_id: IdPath, request: Request, p: Principal = access(*WATCHERS, scope="alerts:read")
) -> AlertOut:
    return alert_out(_alert(request, alert_id))


@alerts.get("/{alert_id}/decisions", response_model=list[VerificationOut])
def list_decisions(
    alert_id: IdPath, request: Request, p: Principal = access(*WATCHERS, scope="alerts:read")
) -> list[VerificationOut]:
    _alert(request, alert_id)
    return [
        VerificationOut(
            alert_id=v.alert_id,
            user_id=v.user_id,
            decision=v.decision.value,
            reason=v.reason,
            decided_at=v.decided_at,
        )
        for v in services(request).repo.list_verifications(alert_id)
    ]


@alerts.post("/{alert_id}/decisions", response_model=AlertOut)
def decide(
    alert_id: IdPath, body: VerificationIn, request: Request, p: Principal = access(*DECIDERS)
) -> AlertOut:
    """Confirm or reject (two different people must confirm before an alert is actionable);
    only on an alert of the caller's cameras."""
    services(request).verification.decide(p.actor, alert_id, body.decision, body.reason)
    return alert_out(services(request).repo.get_alert(alert_id))


@alerts.post("/{alert_id}/outcome", response_model=Done)
def outcome(
    alert_id: IdPath,
    body: OutcomeIn,
    request: Request,
    p: Principal = access(Role.SUPERVISOR, Role.INVESTIGATOR),
) -> Done:
    services(request).verification.record_outcome(p.actor, alert_id, body.outcome, body.reason)
    return Done()


def _image(request: Request, key: str | None, what: str) -> Response:
    if not key:
        raise NotFoundError(f"this alert has no {what} image (purged or never stored)")
    data = services(request).media.get(key)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@alerts.get(
    "/{alert_id}/probe",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The probe crop."}},
)
def probe_image(
    alert_id: IdPath, request: Request, reason: ReasonHeader, p: Principal = access(*WATCHERS)
) -> Response:
    """The face crop that raised the alert (biometric: the view is audited)."""
    svc = services(request)
    _alert(request, alert_id)
    refs = svc.store.alerts(alert_id=alert_id)
    svc.verification.view_biometric(p.actor, alert_id, "probe", reason)
    return _image(request, refs[0].probe_key if refs else None, "probe")


@alerts.get(
    "/{alert_id}/enrolled",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The enrolled photo."}},
)
def enrolled_image(
    alert_id: IdPath, request: Request, reason: ReasonHeader, p: Principal = access(*WATCHERS)
) -> Response:
    """The enrolled photo of the matched template (biometric: the view is audited)."""
    svc = services(request)
    alert = _alert(request, alert_id)
    key = None
    if alert.template_id is not None:
        try:
            key = svc.repo.get_template(alert.template_id).image_key
        except NotFoundError:
            key = None  # removed between the read of the alert and this one
    svc.verification.view_biometric(p.actor, alert_id, "enrolled", reason)
    return _image(request, key, "enrolled")
