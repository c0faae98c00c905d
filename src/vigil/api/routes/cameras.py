"""``/cameras``: the camera list, one camera, live status and crowd counts (never a URL); switching
a camera on or off (admins and supervisors, audited, see :mod:`vigil.governance.cameras`)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from vigil.api.deps import access, services
from vigil.api.routes.common import Limit, Since, Until, aware, router
from vigil.api.schemas import (
    CameraOut,
    CameraStatusOut,
    CameraSwitch,
    CameraSwitchOut,
    CrowdOut,
    IdPath,
)
from vigil.api.scope import camera_allowed
from vigil.core.domain import CameraRow
from vigil.errors import NotFoundError
from vigil.governance.accounts import Principal
from vigil.governance.cameras import SWITCHERS
from vigil.logs import redact

cameras = router("/cameras", "cameras")


def camera_out(c: CameraRow) -> CameraOut:
    return CameraOut(
        id=c.id,
        name=c.name,
        zone=c.zone,
        lat=c.lat,
        lon=c.lon,
        x=c.plan_x,
        y=c.plan_y,
        analytics=list(c.analytics),
        fps=c.fps,
        enabled=c.enabled,
        status=c.status,
    )


@cameras.get("", response_model=list[CameraOut])
def list_cameras(request: Request, p: Principal = access(scope="cameras:read")) -> list[CameraOut]:
    """Every camera the caller may see; the source URL (and its credentials) is never returned."""
    rows = services(request).repo.list_cameras()
    return [camera_out(c) for c in rows if camera_allowed(p, c.id)]


@cameras.get("/status", response_model=list[CameraStatusOut])
def camera_status(
    request: Request, p: Principal = access(scope="cameras:read")
) -> list[dict[str, Any]]:
    """Health and analysis totals per running camera."""
    system = request.app.state.system
    rows: list[dict[str, Any]] = system.camera_view() if system is not None else []
    # Stream errors quote the camera URL: redacted again here, whatever produced the row.
    return [
        {**r, "last_error": redact(r["last_error"]) if r.get("last_error") else None}
        for r in rows
        if camera_allowed(p, str(r["camera_id"]))
    ]


def _camera(request: Request, camera_id: str) -> CameraRow:
    """The camera (``access`` has already checked the caller may see it)."""
    return services(request).repo.get_camera(camera_id)


@cameras.get(
    "/{camera_id}/heatmap",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The heatmap (PNG)."}},
)
def heatmap(
    camera_id: IdPath, request: Request, p: Principal = access(scope="cameras:read")
) -> Response:
    """Where people stood recently on this camera, as colours over a blank frame (no camera
    image, so no person is shown); 404 when the camera counts no people or has no frame yet."""
    _camera(request, camera_id)
    system = request.app.state.system
    png = system.heatmap_png(camera_id) if system is not None else None
    if png is None:
        raise NotFoundError(f"camera {camera_id!r} has no people heatmap (yet)")
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@cameras.get("/{camera_id}", response_model=CameraOut)
def get_camera(
    camera_id: IdPath, request: Request, p: Principal = access(scope="cameras:read")
) -> CameraOut:
    return camera_out(_camera(request, camera_id))


@cameras.patch("/{camera_id}", response_model=CameraSwitchOut)
def switch_camera(
    camera_id: IdPath, body: CameraSwitch, request: Request, p: Principal = access(*SWITCHERS)
) -> CameraSwitchOut:
    """Switch a camera on or off, with a reason (audited as ``camera.enable``/``camera.disable``).

    A cluster's scheduler follows the flag within ``cluster.failover_check_s``; the embedded
    ``vigil run`` applies it at its next start. Asking for the state the camera already has
    changes nothing and writes no entry (``changed`` is false)."""
    done = services(request).cameras.set_enabled(p.actor, camera_id, body.enabled, body.reason)
    out = camera_out(done.camera)
    return CameraSwitchOut(**out.model_dump(), changed=done.changed)


@cameras.get("/{camera_id}/crowd", response_model=list[CrowdOut])
def crowd(
    camera_id: IdPath,
    request: Request,
    *,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    p: Principal = access(scope="cameras:read"),
) -> list[CrowdOut]:
    """Crowd counts sampled on one camera in ``[since, until)``, oldest first."""
    _camera(request, camera_id)
    samples = services(request).repo.list_crowd_samples(
        camera_id, since=aware(since, "since"), until=aware(until, "until"), limit=limit
    )
    return [
        CrowdOut(
            camera_id=s.camera_id,
            sampled_at=s.sampled_at,
            count=s.count,
            method=s.method,
            zone=s.zone,
        )
        for s in samples
    ]
