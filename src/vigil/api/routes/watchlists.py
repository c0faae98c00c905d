"""``/watchlists``: create lists, enrol subjects from uploaded photos, remove subjects.

Uploads are checked here before the service sees them: at most ``MAX_PHOTOS`` files, each an
``image/jpeg|png|webp|bmp`` part that :func:`vigil.perception.image.decode_image` can decode
(size, pixel-count and corruption limits); the whole request is also capped by the upload size
limit of the security middleware. A refused upload stores nothing: the service writes the
subject, templates and photo only after every photo has passed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from vigil.api.accounts import Principal
from vigil.api.deps import access, services
from vigil.api.errors import UnsupportedMediaError
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
from vigil.errors import InputError
from vigil.governance.watchlists import EnrolmentPhoto
from vigil.perception.image import decode_image
from vigil.storage.rows import Role, SubjectRow, WatchlistRow

watchlists = router("/watchlists", "watchlists")
MANAGERS = (Role.SUPERVISOR, Role.INVESTIGATOR)
READERS = (*MANAGERS, Role.AUTHORISING_OFFICER)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp"})
MAX_PHOTOS = 5


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
    photos: Annotated[list[UploadFile], File(description="1-5 photos of one person.")],
    label: Annotated[str, Form(min_length=1, max_length=200)],
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
    provenance: Annotated[str, Form(min_length=1, max_length=500)],
    captured_at: Annotated[Timestamp | None, Form()] = None,
    expires_at: Annotated[Timestamp | None, Form()] = None,
    p: Principal = access(*MANAGERS),
) -> Created:
    """Enrol a subject from photos (multipart). Every photo must show exactly one usable face."""
    if not 1 <= len(photos) <= MAX_PHOTOS:
        raise InputError(f"send 1 to {MAX_PHOTOS} photos, got {len(photos)}")
    uploads = []
    for i, upload in enumerate(photos):
        if (upload.content_type or "").lower() not in IMAGE_TYPES:
            raise UnsupportedMediaError(
                f"photo {i} is {upload.content_type or 'untyped'}; "
                f"send one of {sorted(IMAGE_TYPES)}"
            )
        uploads.append(await upload.read())
    svc = services(request)

    def run() -> str:
        items = []
        for i, data in enumerate(uploads):
            decode_image(data, name=f"photo {i}")  # refuses non-images, bombs, corrupt files
            items.append(EnrolmentPhoto(data, provenance, captured_at))
        return svc.watchlists.enrol(
            p.actor, watchlist_id, label=label, photos=items, reason=reason, expires_at=expires_at
        )

    return Created(id=await run_in_threadpool(run))


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
