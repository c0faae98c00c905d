"""``/cameras/{id}/clips``: recorded footage of one camera as one MP4, with range requests.

Thin: the camera scope check runs in ``access`` (the path names the camera), the case
visibility check here when a case is named, and :class:`~vigil.governance.recordings.
RecordingService` does the rest (roles, window, masks, the audit entry before the clip is
served). A person-only route: API keys get no footage. The file is served by Starlette's
``FileResponse``, which answers ``Range`` requests (206) so a browser can seek.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import FileResponse

from vigil.api.deps import access, services
from vigil.api.routes.common import aware, router
from vigil.api.schemas import IdPath
from vigil.api.scope import require_case
from vigil.errors import NotFoundError
from vigil.governance.accounts import Principal
from vigil.governance.recordings import VIEWERS

recordings = router("/cameras", "recordings")

Start = Annotated[datetime, Query(description="Start of the clip (ISO 8601 with a zone).")]
End = Annotated[datetime, Query(description="End of the clip (ISO 8601 with a zone).")]
Reason = Annotated[
    str, Query(min_length=3, max_length=500, description="Why the footage is viewed (audited).")
]
CaseId = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The case an unmasked view is for (investigators).",
    ),
]


@recordings.get(
    "/{camera_id}/clips",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "The clip (MP4)."},
        206: {"content": {"video/mp4": {}}, "description": "The requested byte range."},
    },
)
def clip(
    camera_id: IdPath,
    request: Request,
    start: Start,
    end: End,
    reason: Reason,
    *,
    case_id: CaseId = None,
    unmask: Annotated[
        bool, Query(description="Without privacy masks (investigators, with a case).")
    ] = False,
    p: Principal = access(*VIEWERS),
) -> FileResponse:
    """Recorded footage of the camera over ``[start, end]`` as one MP4 (remuxed from the
    segments; re-encoded only to burn in privacy masks). Every view is audited with its reason
    (``recording.view``, or ``recording.unmask``); 404 when nothing was recorded then."""
    svc = services(request)
    if svc.recordings is None:
        raise NotFoundError("recording is not configured on this server")
    svc.repo.get_camera(camera_id)
    if case_id is not None:
        require_case(svc, p, case_id, write=False)
    built = svc.recordings.clip(
        p.actor,
        camera_id,
        aware(start, "start") or start,
        aware(end, "end") or end,
        reason,
        case_id=case_id,
        unmask=unmask,
    )
    return FileResponse(
        built.path,
        media_type="video/mp4",
        headers={
            "Cache-Control": "no-store",
            "X-Vigil-Masked": str(built.masked).lower(),
        },
    )
