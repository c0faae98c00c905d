"""``/deployments``: request, approve, refuse and revoke live or post-event identification.

The router admits the roles that can take part; the :class:`DeploymentService` enforces the rest
of the policy (a different officer approves, a legal reference, at most 31 days, ...). Camera
scope (:mod:`vigil.api.scope`): a person assigned to some cameras sees the deployments that cover
one of them, decides only on those wholly within them, and requests only for their own cameras.
"""

from __future__ import annotations

from fastapi import Request

from vigil.api.deps import access, services
from vigil.api.routes.common import router
from vigil.api.schemas import (
    Created,
    DecisionIn,
    DeploymentIn,
    DeploymentOut,
    Done,
    DriftOut,
    IdPath,
)
from vigil.api.scope import require_cameras, sees
from vigil.core.domain import DeploymentRow, Role
from vigil.governance.accounts import Principal
from vigil.governance.deployments import DeploymentRequest
from vigil.storage.drift import DriftRow

deployments = router("/deployments", "deployments")
REQUESTERS = (Role.SUPERVISOR, Role.INVESTIGATOR)
OFFICERS = (Role.AUTHORISING_OFFICER,)


def _drift_out(row: DriftRow | None) -> DriftOut | None:
    if row is None:
        return None
    return DriftOut(
        predicted_rate_upper95=row.predicted_rate,
        searches=row.searches,
        false_alerts=row.false_alerts,
        flagged=row.flagged_at is not None,
        flagged_at=row.flagged_at,
        flagged_after_searches=row.flagged_searches,
    )


def _drift_rows(request: Request) -> dict[str, DriftRow]:
    """Every deployment's drift watch in one query (none without a calibration)."""
    watch = services(request).drift
    return {r.deployment_id: r for r in watch.store.all()} if watch is not None else {}


def deployment_out(
    d: DeploymentRow, request: Request | None = None, drift_rows: dict[str, DriftRow] | None = None
) -> DeploymentOut:
    """The deployment as the API shows it; with ``request``, its drift watch and the link to
    the force's local calibration check (what the authorising officer weighs at renewal)."""
    drift, check = None, None
    if request is not None:
        rows = drift_rows if drift_rows is not None else _drift_rows(request)
        drift = _drift_out(rows.get(d.id))
        config = getattr(request.app.state, "config", None)
        check = config.governance.local_calibration_report if config is not None else None
    return DeploymentOut(
        drift=drift,
        calibration_check=check,
        id=d.id,
        kind=d.kind,
        purpose=d.purpose,
        legal_reference=d.legal_reference,
        camera_ids=list(d.camera_ids),
        zone=d.zone,
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        state=d.state.value,
        requested_by=d.requested_by,
        authorised_by=d.authorised_by,
        urgent_deadline=d.urgent_deadline,
        reason=d.reason,
        created_at=d.created_at,
        decided_at=d.decided_at,
        watchlists=[{"watchlist_id": w, "version_hash": h} for w, h in d.watchlists],
    )


@deployments.get("", response_model=list[DeploymentOut])
def list_deployments(
    request: Request, p: Principal = access(scope="deployments:read")
) -> list[DeploymentOut]:
    """Every deployment covering one of the caller's cameras (state, scope and who decided),
    oldest start first."""
    svc = services(request)
    rows = svc.repo.list_deployments()
    if p.cameras is not None:
        rows = [d for d in rows if sees(p, svc.deployments.cameras_of(d))]
    drift = _drift_rows(request)
    return [deployment_out(d, request, drift) for d in rows]


@deployments.get("/{deployment_id}", response_model=DeploymentOut)
def get_deployment(
    deployment_id: IdPath, request: Request, _: Principal = access(scope="deployments:read")
) -> DeploymentOut:
    return deployment_out(services(request).repo.get_deployment(deployment_id), request)


@deployments.post("", response_model=Created, status_code=201)
def request_deployment(
    body: DeploymentIn, request: Request, p: Principal = access(*REQUESTERS)
) -> Created:
    """Ask for a deployment (``urgent``: start now; unless authorised within 24 h, everything
    it produced is purged). Every camera named must exist and be the caller's (422 otherwise)."""
    require_cameras(services(request), p, body.camera_ids, body.zone)
    req = DeploymentRequest(
        purpose=body.purpose,
        legal_reference=body.legal_reference,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        watchlist_ids=tuple(body.watchlist_ids),
        camera_ids=tuple(body.camera_ids),
        zone=body.zone,
        reason=body.reason,
        kind=body.kind,
    )
    return Created(id=services(request).deployments.request(p.actor, req, urgent=body.urgent))


@deployments.post("/{deployment_id}/approve", response_model=Done)
def approve(
    deployment_id: IdPath, body: DecisionIn, request: Request, p: Principal = access(*OFFICERS)
) -> Done:
    services(request).deployments.approve(p.actor, deployment_id, body.reason)
    return Done()


@deployments.post("/{deployment_id}/refuse", response_model=Done)
def refuse(
    deployment_id: IdPath, body: DecisionIn, request: Request, p: Principal = access(*OFFICERS)
) -> Done:
    services(request).deployments.refuse(p.actor, deployment_id, body.reason)
    return Done()


@deployments.post("/{deployment_id}/revoke", response_model=Done)
def revoke(
    deployment_id: IdPath, body: DecisionIn, request: Request, p: Principal = access(*OFFICERS)
) -> Done:
    services(request).deployments.revoke(p.actor, deployment_id, body.reason)
    return Done()
