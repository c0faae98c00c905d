"""``/watchlists``: create lists, enrol subjects from uploaded photos, remove subjects.

Uploads are screened here before the service sees them, cheapest check first: at most
``api.enrol_max_photos`` files, each an ``image/jpeg|png|webp|bmp`` part whose header is
readable, at most 40 MP each and ``api.enrol_max_pixels`` together, counted from the headers
before any photo is decoded (five 6000x6600 photos used to cost 20 s and 1 GB before any
check). The whole request is also capped by the upload size limit of the security middleware.
Every refusal is an audited ``watchlist.enrol_refused`` entry, as the service's own refusals
(no face, archive photo, list full) are. A refused upload stores nothing: the service writes
the subject, templates and photo only after every photo has passed.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import access, services
from vigil.api.errors import PayloadTooLargeError, UnsupportedMediaError
from vigil.api.routes.common import router
from vigil.api.schemas import (
    Created,
    DecisionIn,
    Done,
    IdPath,
    SubjectOut,
    Timestamp,
    WatchlistIn,
    WatchlistOut,
)
from vigil.core.domain import Role, SubjectRow, WatchlistRow
from vigil.errors import InputError, VigilError
from vigil.governance.accounts import Principal
from vigil.governance.audit import AuditAction
from vigil.governance.watchlists import EnrolmentPhoto
from vigil.perception.image import MAX_PIXELS, image_size

watchlists = router("/watchlists", "watchlists")
MANAGERS = (Role.SUPERVISOR, Role.INVESTIGATOR)
READERS = (*MANAGERS, Role.AUTHORISING_OFFICER)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp"})


def watchlist_out(w: WatchlistRow) -> WatchlistOut:
    return WatchlistOut(
        id=w.id,
        name=w.name,
        category=w.category,
        reason=w.reason,
        owner_id=w.owner_id,
        created_at=w.created_at,
        expires_at=w.expires_at,
        version=w.version,
        version_hash=w.version_hash,
        max_size=w.max_size,
    )


def subject_out(s: SubjectRow) -> SubjectOut:
    return SubjectOut(
        id=s.id,
        watchlist_id=s.watchlist_id,
        label=s.label,
        reason=s.reason,
        added_by=s.added_by,
        created_at=s.created_at,
        expires_at=s.expires_at,
    )


@watchlists.get("", response_model=list[WatchlistOut])
def list_watchlists(request: Request, _: Principal = access(*READERS)) -> list[WatchlistOut]:
    return [watchlist_out(w) for w in services(request).repo.list_watchlists()]


@watchlists.post("", response_model=Created, status_code=201)
def create_watchlist(
    body: WatchlistIn, request: Request, p: Principal = access(*MANAGERS)
) -> Created:
    wid = services(request).watchlists.create(
        p.actor,
        name=body.name,
        category=body.category,
        reason=body.reason,
        expires_at=body.expires_at,
    )
    return Created(id=wid)


@watchlists.get("/{watchlist_id}", response_model=WatchlistOut)
def get_watchlist(
    watchlist_id: IdPath, request: Request, _: Principal = access(*READERS)
) -> WatchlistOut:
    return watchlist_out(services(request).repo.get_watchlist(watchlist_id))


@watchlists.get("/{watchlist_id}/subjects", response_model=list[SubjectOut])
def list_subjects(
    watchlist_id: IdPath, request: Request, _: Principal = access(*READERS)
) -> list[SubjectOut]:
    repo = services(request).repo
    repo.get_watchlist(watchlist_id)
    return [subject_out(s) for s in repo.list_subjects(watchlist_id)]


@watchlists.post("/{watchlist_id}/subjects", response_model=Created, status_code=201)
async def enrol(
    watchlist_id: IdPath,
    request: Request,
    *,
    photos: Annotated[
        list[UploadFile], File(description="Photos of one person (at most `api.enrol_max_photos`).")
    ],
    label: Annotated[str, Form(min_length=1, max_length=200)],
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    provenance: Annotated[str, Form(min_length=1, max_length=500)],
    captured_at: Annotated[Timestamp | None, Form()] = None,
    expires_at: Annotated[Timestamp | None, Form()] = None,
    p: Principal = access(*MANAGERS),
) -> Created:
    """Enrol a subject from photos (multipart). Every photo must show exactly one usable face."""
    uploads = await _screen(request, p, watchlist_id, photos)
    svc = services(request)

    def run() -> str:
        items = [EnrolmentPhoto(data, provenance, captured_at) for data in uploads]
        return svc.watchlists.enrol(
            p.actor, watchlist_id, label=label, photos=items, reason=reason, expires_at=expires_at
        )

    return Created(id=await run_in_threadpool(run))


async def _screen(
    request: Request, p: Principal, watchlist_id: str, photos: list[UploadFile]
) -> list[bytes]:
    """The photos' bytes once count, types and pixel totals pass; else an audited refusal."""
    api = request.app.state.config.api
    refuse = _Refuser(request, p, watchlist_id)
    if not 1 <= len(photos) <= api.enrol_max_photos:
        refuse(
            PayloadTooLargeError(
                f"send 1 to {api.enrol_max_photos} photos, got {len(photos)}",
                hint="api.enrol_max_photos sets the limit",
            )
            if photos
            else InputError("send at least one photo")
        )
    uploads, total = [], 0
    for i, upload in enumerate(photos):
        if (upload.content_type or "").lower() not in IMAGE_TYPES:
            refuse(
                UnsupportedMediaError(
                    f"photo {i} is {upload.content_type or 'untyped'}; "
                    f"send one of {sorted(IMAGE_TYPES)}"
                )
            )
        data = await upload.read()
        try:
            width, height = image_size(data, name=f"photo {i}")
        except InputError as exc:
            refuse(exc)
        if width * height > MAX_PIXELS:
            refuse(PayloadTooLargeError(f"photo {i} is {width}x{height}; at most {MAX_PIXELS} px"))
        total += width * height
        uploads.append(data)
    if total > api.enrol_max_pixels:
        refuse(
            PayloadTooLargeError(
                f"the photos hold {total} pixels together; at most {api.enrol_max_pixels} "
                "per request",
                hint="send smaller photos (a face needs far less) or fewer of them",
            )
        )
    return uploads


class _Refuser:
    """Raise a refusal of an enrolment upload after recording it in the audit chain."""

    def __init__(self, request: Request, p: Principal, watchlist_id: str) -> None:
        self.audit = services(request).audit
        self.actor = p.actor.id
        self.target = f"watchlist:{watchlist_id}"

    def __call__(self, error: VigilError) -> NoReturn:
        self.audit.append(
            self.actor,
            AuditAction.WATCHLIST_ENROL_REFUSED,
            self.target,
            error.message[:500],
            [("code", error.code), ("status", str(error.http_status))],
        )
        raise error


@watchlists.delete("/{watchlist_id}/subjects/{subject_id}", response_model=Done)
def remove_subject(
    watchlist_id: IdPath,
    subject_id: IdPath,
    body: DecisionIn,
    request: Request,
    p: Principal = access(*MANAGERS),
) -> Done:
    """Remove a subject with their templates and photos (a reason is required)."""
    services(request).watchlists.remove_subject(p.actor, watchlist_id, subject_id, body.reason)
    return Done()
