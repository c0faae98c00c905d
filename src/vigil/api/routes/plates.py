"""``/hotlists`` and ``/searches/plates``: plate hotlists and the audited plate search.

Thin handlers over :class:`vigil.governance.hotlists.HotlistService` and
:class:`vigil.governance.plate_search.PlateSearch`. Supervisors and investigators manage and read
hotlists (a list says whom the police are looking for, so operators see hits through alerts, not
the lists); every change carries a reason and is audited by the service. The plate search is an
investigator action with a reason, bounded by the caller's cameras, audited as ``search.run``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Header, Request
from pydantic import BaseModel, ConfigDict, Field

from vigil.api.deps import access, services
from vigil.api.routes.common import aware, router
from vigil.api.schemas import Done, IdPath
from vigil.core.domain import HotlistEntryRow, HotlistRow, Role
from vigil.errors import ModelError
from vigil.governance.accounts import Principal
from vigil.governance.hotlists import HotlistService
from vigil.governance.plate_search import PlateSearch

hotlists = router("/hotlists", "hotlists")
plate_searches = router("/searches", "searches")
MANAGERS = (Role.SUPERVISOR, Role.INVESTIGATOR)
ReasonHeader = Annotated[str, Header(alias="X-Vigil-Reason", min_length=3, max_length=500)]
PATTERN = r"^[A-Za-z0-9?* .\-]{1,24}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HotlistIn(_In):
    name: str = Field(min_length=1, max_length=200)
    priority: int = Field(ge=0, le=100, description="0-100; the most urgent list wins a hit.")
    reason: str = Field(min_length=3, max_length=2000)
    retention_days: float = Field(gt=0, le=3650, description="How long hits are kept.")
    expires_at: datetime | None = None


class EntryIn(_In):
    pattern: str = Field(
        pattern=PATTERN, description="Exact plate or wildcard: '?' one character, '*' any run."
    )
    reason: str = Field(min_length=3, max_length=2000)
    expires_at: datetime | None = None


class EntryOut(BaseModel):
    id: str
    pattern: str
    reason: str
    added_by: str
    added_at: datetime
    expires_at: datetime | None


class HotlistOut(BaseModel):
    id: str
    name: str
    priority: int
    reason: str
    owner_id: str
    retention_days: float
    created_at: datetime
    expires_at: datetime | None
    entries: list[EntryOut] | None = None


class PlateSearchIn(_In):
    pattern: str = Field(pattern=PATTERN, description="Full or partial plate; '?' and '*'.")
    reason: str = Field(min_length=3, max_length=2000)
    max_distance: int = Field(0, ge=0, le=2, description="Character edits allowed (fuzzy).")
    camera_ids: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]] | None = Field(
        None, max_length=500
    )
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(100, ge=1, le=1000, description="Hits per page.")
    cursor: str | None = Field(
        None,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A previous page's next_cursor: continue with older reads.",
    )


class PlateHitOut(BaseModel):
    id: str = Field(
        description="The stored read's id: linking it to a case on legal hold keeps it past "
        "retention."
    )
    camera_id: str
    read_at: datetime
    text: str
    confidence: float
    region: str
    track_id: int | None
    distance: int
    hotlist_id: str | None


class PlateSearchOut(BaseModel):
    hits: list[PlateHitOut] = Field(description="This page: closest first, then newest.")
    scanned: int = Field(description="Stored reads the index offered and this page examined.")
    truncated: bool = Field(description="Older matches may exist: follow next_cursor.")
    next_cursor: str | None = Field(
        description="Send as cursor for the next (older) page; null when the window is done."
    )


def _service(request: Request) -> HotlistService:
    svc = services(request).hotlists
    if svc is None:
        raise ModelError("plate hotlists are not configured on this server")
    return svc


def _out(h: HotlistRow, entries: list[HotlistEntryRow] | None = None) -> HotlistOut:
    return HotlistOut(
        id=h.id,
        name=h.name,
        priority=h.priority,
        reason=h.reason,
        owner_id=h.owner_id,
        retention_days=h.retention_days,
        created_at=h.created_at,
        expires_at=h.expires_at,
        entries=None
        if entries is None
        else [
            EntryOut(
                id=e.id,
                pattern=e.pattern,
                reason=e.reason,
                added_by=e.added_by,
                added_at=e.added_at,
                expires_at=e.expires_at,
            )
            for e in entries
        ],
    )


@hotlists.get("", response_model=list[HotlistOut])
def list_hotlists(request: Request, _: Principal = access(*MANAGERS)) -> list[HotlistOut]:
    """Every hotlist, most urgent first (entries not included)."""
    return [_out(h) for h in _service(request).store.list_hotlists()]


@hotlists.post("", response_model=HotlistOut, status_code=201)
def create_hotlist(
    body: HotlistIn, request: Request, p: Principal = access(*MANAGERS)
) -> HotlistOut:
    """Create a hotlist owned by the caller (audited)."""
    row = _service(request).create(
        p.actor,
        name=body.name,
        priority=body.priority,
        reason=body.reason,
        retention_days=body.retention_days,
        expires_at=aware(body.expires_at, "expires_at"),
    )
    return _out(row, [])


@hotlists.get("/{hotlist_id}", response_model=HotlistOut)
def get_hotlist(
    hotlist_id: IdPath, request: Request, _: Principal = access(*MANAGERS)
) -> HotlistOut:
    store = _service(request).store
    return _out(store.get_hotlist(hotlist_id), store.list_entries(hotlist_id))


@hotlists.delete("/{hotlist_id}", response_model=Done)
def delete_hotlist(
    hotlist_id: IdPath, request: Request, reason: ReasonHeader, p: Principal = access(*MANAGERS)
) -> Done:
    """Delete a list and its entries (audited); its hits fall back to the plain retention."""
    _service(request).delete(p.actor, hotlist_id, reason)
    return Done()


@hotlists.post("/{hotlist_id}/entries", response_model=EntryOut, status_code=201)
def add_entry(
    hotlist_id: IdPath, body: EntryIn, request: Request, p: Principal = access(*MANAGERS)
) -> EntryOut:
    """Add an exact or wildcard plate (audited; 409 if the list already has it)."""
    e = _service(request).add_entry(
        p.actor,
        hotlist_id,
        body.pattern,
        body.reason,
        expires_at=aware(body.expires_at, "expires_at"),
    )
    return EntryOut(
        id=e.id,
        pattern=e.pattern,
        reason=e.reason,
        added_by=e.added_by,
        added_at=e.added_at,
        expires_at=e.expires_at,
    )


@hotlists.delete("/{hotlist_id}/entries/{entry_id}", response_model=Done)
def remove_entry(
    hotlist_id: IdPath,
    entry_id: IdPath,
    request: Request,
    reason: ReasonHeader,
    p: Principal = access(*MANAGERS),
) -> Done:
    _service(request).remove_entry(p.actor, hotlist_id, entry_id, reason)
    return Done()


@plate_searches.post("/plates", response_model=PlateSearchOut)
def search_plates(
    body: PlateSearchIn, request: Request, p: Principal = access(Role.INVESTIGATOR)
) -> PlateSearchOut:
    """Plate reads matching a full or partial plate (wildcards, fuzzy distance), in the caller's
    cameras and the time range, one page per request, newest reads first (audited as
    ``search.run``; 429 with Retry-After past the per-user search rate)."""
    search: PlateSearch | None = services(request).plate_search
    if search is None:
        raise ModelError("plate search is not configured on this server")
    result = search.search(
        p.actor,
        pattern=body.pattern,
        reason=body.reason,
        max_distance=body.max_distance,
        cameras=body.camera_ids,
        allowed=p.cameras,
        since=aware(body.since, "since"),
        until=aware(body.until, "until"),
        limit=body.limit,
        cursor=body.cursor,
    )
    return PlateSearchOut(
        hits=[
            PlateHitOut(
                id=h.key,
                camera_id=h.read.camera_id,
                read_at=h.read.read_at,
                text=h.read.text,
                confidence=h.read.confidence,
                region=h.read.region,
                track_id=h.read.track_id,
                distance=h.distance,
                hotlist_id=h.hotlist_id,
            )
            for h in result.hits
        ],
        scanned=result.scanned,
        truncated=result.truncated,
        next_cursor=result.next_cursor,
    )
