"""``/sightings``: tracked people and vehicles per camera and time (metadata; crops audited).

Listing sightings is a search of the archive (who was where, when), so every list request is
written to the audit chain as ``search.run`` with its filters and the number of results; the
optional ``X-Vigil-Reason`` header gives the reason (recorded as not given when absent, so an
existing client keeps working and the auditor still sees the search).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request, Response

from vigil.api.deps import access, services
from vigil.api.routes.alerts import ReasonHeader
from vigil.api.routes.common import Limit, Offset, Since, Until, aware, page, router
from vigil.api.schemas import IdPath, IdQuery, Page, SightingOut
from vigil.core.domain import Role
from vigil.core.records import Sighting
from vigil.errors import NotFoundError
from vigil.governance.accounts import Principal
from vigil.governance.audit import AuditAction

sightings = router("/sightings", "sightings")
READERS = (Role.SUPERVISOR, Role.INVESTIGATOR)
OptionalReason = Annotated[
    str | None,
    Header(
        alias="X-Vigil-Reason",
        min_length=3,
        max_length=500,
        description="Why this search is made (written to the audit chain).",
    ),
]


def sighting_out(s: Sighting) -> SightingOut:
    return SightingOut(
        id=s.id,
        camera_id=s.camera_id,
        object_class=s.object_class.value,
        started_at=s.started_at,
        ended_at=s.ended_at,
        best_quality=s.best_quality,
        has_crop=s.crop_key is not None,
        plate_text=s.plate_text,
    )


@sightings.get("", response_model=Page[SightingOut])
def list_sightings(
    request: Request,
    *,
    camera_id: IdQuery = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    reason: OptionalReason = None,
    p: Principal = access(*READERS, scope="sightings:read"),
) -> Page[SightingOut]:
    """Sightings started in ``[since, until)``, oldest first, optionally of one camera (audited
    as a search)."""
    svc = services(request)
    rows = svc.repo.list_sightings(
        camera_id=camera_id,
        since=aware(since, "since"),
        until=aware(until, "until"),
        limit=limit + 1,
        offset=offset,
        cameras=p.cameras,
    )
    result = page(rows, sighting_out, limit, offset)
    svc.audit.append(
        p.user.id,
        AuditAction.SEARCH,
        "sightings",
        reason or "(no reason given)",
        [
            ("kind", "sightings"),
            ("camera", camera_id or "*"),
            ("since", since.isoformat() if since else "-"),
            ("until", until.isoformat() if until else "-"),
            ("offset", str(offset)),
            ("results", str(len(result.items))),
            *p.attribution(),
        ],
    )
    return result


def _sighting(request: Request, sighting_id: str) -> Sighting:
    """The sighting (``access`` has already checked it is within the caller's cameras)."""
    return services(request).repo.get_sighting(sighting_id)


@sightings.get("/{sighting_id}", response_model=SightingOut)
def get_sighting(
    sighting_id: IdPath, request: Request, p: Principal = access(*READERS, scope="sightings:read")
) -> SightingOut:
    return sighting_out(_sighting(request, sighting_id))


@sightings.get(
    "/{sighting_id}/crop",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The best-shot crop."}},
)
def sighting_crop(
    sighting_id: IdPath, request: Request, reason: ReasonHeader, p: Principal = access(*READERS)
) -> Response:
    """The best-shot crop of a sighting (biometric for faces: the view is audited)."""
    s = _sighting(request, sighting_id)
    if s.crop_key is None:
        raise NotFoundError(f"sighting {sighting_id} has no crop (purged or never stored)")
    svc = services(request)
    svc.audit.append(
        p.user.id,
        AuditAction.BIOMETRIC_VIEW,
        f"sighting:{sighting_id}",
        reason,
        [("what", "crop")],
    )
    return Response(svc.media.get(s.crop_key), media_type="image/jpeg")
