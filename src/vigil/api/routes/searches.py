"""``/searches``: retrospective face search of the sighting archive, under an authorisation.

A thin handler over :class:`vigil.governance.search.ArchiveSearch`: an investigator uploads one
photo of the person sought, names an approved post-event authorisation and gives a reason; the
photo is embedded under the enrolment rules (exactly one usable face), never stored, and the
search returns sightings only from the authorisation's cameras and time window (and, for a person
limited to some cameras, only those: an authorisation covering none of them reads as unknown).
The service writes the ``search.run`` or ``search.refused`` audit entry; opening a result's crop
is a separate, audited biometric view. Each user's face searches are rate-limited
(``api.face_search_rate_per_min``, shared by every API process; 429 with ``Retry-After``),
counted before the photo is embedded.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import access, services
from vigil.api.errors import UnsupportedMediaError
from vigil.api.routes.common import router
from vigil.api.routes.watchlists import IMAGE_TYPES
from vigil.core.domain import Role
from vigil.errors import VigilError
from vigil.governance.accounts import Principal
from vigil.perception.image import decode_image

searches = router("/searches", "searches")


class ArchiveUnavailableError(VigilError):
    code = "archive_unavailable"
    http_status = 503


class FaceHitOut(BaseModel):
    sighting_id: str
    camera_id: str
    started_at: str
    ended_at: str
    score: float


@searches.post("/faces", response_model=list[FaceHitOut])
async def search_faces(
    request: Request,
    *,
    photo: Annotated[UploadFile, File(description="One photo of the person sought.")],
    authorisation_id: Annotated[str, Form(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    k: Annotated[int, Form(ge=1, le=100)] = 10,
    p: Principal = access(Role.INVESTIGATOR),
) -> list[FaceHitOut]:
    """Sightings whose face is closest to the photo, inside the authorisation (audited)."""
    if (photo.content_type or "").lower() not in IMAGE_TYPES:
        raise UnsupportedMediaError(
            f"photo is {photo.content_type or 'untyped'}; send one of {sorted(IMAGE_TYPES)}"
        )
    data = await photo.read()
    svc = services(request)
    search = svc.archive_search
    if search is None:
        raise ArchiveUnavailableError("this server has no face archive to search")

    def run() -> list[FaceHitOut]:
        search.admit(p.actor)  # the per-user search rate, before any embedding work
        decode_image(data, name="photo")  # refuses non-images, bombs and corrupt files first
        probe = svc.watchlists.probe_template(data)
        hits = search.search(
            p.actor, authorisation_id, probe, reason=reason, k=k, allowed=p.cameras
        )
        return [
            FaceHitOut(
                sighting_id=h.sighting_id,
                camera_id=h.camera_id,
                started_at=h.started_at.isoformat(),
                ended_at=h.ended_at.isoformat(),
                score=h.score,
            )
            for h in hits
        ]

    return await run_in_threadpool(run)
