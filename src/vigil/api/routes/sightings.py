"""``/sightings``: tracked people and vehicles per camera and time (metadata; crops audited).

Listing sightings is a search of the archive (who was where, when), so every list request is
written to the audit chain as ``search.run`` with its filters and the number of results; the
optional ``X-Vigil-Reason`` header gives the reason (recorded as not given when absent, so an
existing client keeps working and the auditor still sees the search).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import Header, Query, Request, Response

from vigil.api.deps import access, services
from vigil.api.routes.alerts import ReasonHeader
from vigil.api.routes.common import Limit, Offset, Since, Until, aware, page, router
from vigil.api.schemas import AttributeHitOut, IdPath, IdQuery, Page, SightingOut
from vigil.api.scope import require_cameras
from vigil.core.domain import Role
from vigil.core.records import Sighting
from vigil.errors import NotFoundError
from vigil.governance.accounts import Principal
from vigil.governance.attribute_search import AttributeSearch, SearchRequest, build_query
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


def hit_out(s: Sighting) -> AttributeHitOut:
    """A search hit with links to its footage: the recorded clip (``GET /cameras/{id}/clips``,
    from its start to its end plus two seconds either side) and the console's playback page."""
    start = (s.started_at - timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    end = (s.ended_at + timedelta(seconds=2)).isoformat().replace("+00:00", "Z")
    cam = quote(s.camera_id, safe="")
    return AttributeHitOut(
        **sighting_out(s).model_dump(),
        upper_colour=s.upper_colour,
        lower_colour=s.lower_colour,
        body_colour=s.body_colour,
        colour_score=s.colour_score,
        height_frac=s.height_frac,
        direction=s.direction,
        clip_url=f"/api/v1/cameras/{cam}/clips?{urlencode({'start': start, 'end': end})}",
        console_url=f"#/playback/{cam}/{quote(start, safe='')}",
    )


@sightings.get("/search", response_model=Page[AttributeHitOut])
def search_sightings(
    request: Request,
    *,
    cls: Annotated[
        str | None,
        Query(
            alias="class",
            max_length=32,
            description="person, car, bus, truck, motorcycle, bicycle, van or vehicle.",
        ),
    ] = None,
    upper: Annotated[str | None, Query(max_length=32, description="Top colour (persons).")] = None,
    lower: Annotated[
        str | None, Query(max_length=32, description="Trousers/skirt colour (persons).")
    ] = None,
    colour: Annotated[
        str | None, Query(max_length=32, description="Body colour (vehicles).")
    ] = None,
    direction: Annotated[
        str | None, Query(max_length=16, description="left, right, up, down or still.")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Strict free text, e.g. 'person red top blue trousers' or 'white van'.",
        ),
    ] = None,
    cameras: Annotated[
        str | None,
        Query(max_length=2000, description="Comma-separated camera ids (default: all of yours)."),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 50,
    offset: Offset = 0,
    reason: OptionalReason = None,
    p: Principal = access(*READERS, scope="sightings:read"),
) -> Page[AttributeHitOut]:
    """Sightings by clothing colour, vehicle type and colour, direction, cameras and time, ranked
    by how strongly the colours matched (audited as ``search.run``). A query naming a protected
    characteristic (race, ethnicity, skin colour, religion, politics, sexual orientation, health,
    disability, emotion, age, gender) in any field, known or not, is refused with 422 and
    audited as ``search.refused``; unknown fields are refused with 422."""
    svc = services(request)
    search = AttributeSearch(svc.repo.db, svc.audit)
    params = dict(request.query_params)
    why = reason or "(no reason given)"
    search.refuse_protected(p.user.id, request.query_params.multi_items(), why, p.attribution())
    wanted = [c.strip() for c in (cameras or "").split(",") if c.strip()]
    if wanted:
        require_cameras(svc, p, wanted)
    scope = frozenset(wanted) if wanted else p.cameras
    fields = {
        "class": cls or "",
        "upper": upper or "",
        "lower": lower or "",
        "colour": colour or "",
    }
    fields |= {"direction": direction or "", "q": q or ""}
    req = SearchRequest(build_query(fields), scope, aware(since, "since"), aware(until, "until"))
    rows = search.run(
        p.user.id,
        params,
        req,
        reason=why,
        limit=limit,
        offset=offset,
        attribution=p.attribution(),
    )
    return page(rows, hit_out, limit, offset)


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
