"""Routes the console's dashboards need beyond the core API: the crowd series of a chart, the
audit page with names and filters, and watchlist tools (photo check, details, expiry).

Thin handlers: the queries are in :mod:`vigil.storage.console`, the watchlist rules in
:class:`vigil.governance.watchlists.WatchlistService`. Each follows the API's usual rules (one
error envelope, role and camera scope through :func:`vigil.api.deps.access`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import File, Query, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import access, services
from vigil.api.errors import PayloadTooLargeError, UnsupportedMediaError
from vigil.api.routes.audit import AUDITORS
from vigil.api.routes.common import Since, Until, aware, router
from vigil.api.routes.watchlists import IMAGE_TYPES, MANAGERS, READERS, watchlist_out
from vigil.api.schemas import AuditEntryOut, DecisionIn, IdPath, WatchlistOut
from vigil.core.records import AlertKind
from vigil.errors import InputError, ValidationError
from vigil.governance.accounts import Principal
from vigil.governance.audit import AuditAction
from vigil.perception.image import MAX_PIXELS, image_size
from vigil.storage.console import AuditFilter, ConsoleStore

crowd_charts = router("/cameras", "cameras")
audit_pages = router("/audit", "audit")
report_pages = router("/reports", "reports")
watchlist_tools = router("/watchlists", "watchlists")

#: Chart windows: span and bucket width (a chart has at most 168 points).
WINDOWS = {"1h": (3600, 60), "24h": (86_400, 900), "7d": (7 * 86_400, 3600)}
Filter = Annotated[str | None, Query(min_length=1, max_length=200)]


class CrowdPoint(BaseModel):
    at: datetime  # start of the bucket
    mean: float
    max: float
    samples: int


class CrowdAlertMark(BaseModel):
    id: str
    raised_at: datetime
    status: str
    detail: str


class CrowdSeriesOut(BaseModel):
    camera_id: str
    zone: str | None
    window: str
    since: datetime
    until: datetime
    bucket_s: int
    points: list[CrowdPoint]
    truncated: bool
    overcrowd: float
    alerts: list[CrowdAlertMark]
    zones: list[str]
    line_crossings: dict[str, int]


def buckets(rows: list[tuple[datetime, float]], since: datetime, bucket_s: int) -> list[CrowdPoint]:
    """Mean and max of the samples per ``bucket_s`` from ``since`` (empty buckets left out)."""
    acc: dict[int, list[float]] = {}
    for at, count in rows:
        acc.setdefault(int((at - since).total_seconds() // bucket_s), []).append(count)
    return [
        CrowdPoint(
            at=since + timedelta(seconds=k * bucket_s),
            mean=sum(v) / len(v),
            max=max(v),
            samples=len(v),
        )
        for k, v in sorted(acc.items())
    ]


@crowd_charts.get("/{camera_id}/crowd/series", response_model=CrowdSeriesOut)
def crowd_series(
    camera_id: IdPath,
    request: Request,
    *,
    window: Literal["1h", "24h", "7d"] = "1h",
    zone: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    until: Until = None,
    p: Principal = access(scope="cameras:read"),
) -> CrowdSeriesOut:
    """People over time on one camera (whole view, or ``zone``) for a chart: the stored crowd
    series in buckets, the overcrowding threshold, the crowd alerts raised in the window and
    the line crossings counted since this process started."""
    svc = services(request)
    svc.repo.get_camera(camera_id)
    span, bucket_s = WINDOWS[window]
    end = aware(until, "until") or datetime.now(UTC)
    start = end - timedelta(seconds=span)
    store = ConsoleStore(svc.repo.db)
    rows, more = store.crowd_window(camera_id, zone, start, end)
    alerts = svc.repo.list_alerts(
        kind=AlertKind.CROWD, camera_id=camera_id, since=start, until=end, limit=200
    )
    system = request.app.state.system
    view: dict[str, Any] = next(
        (r for r in (system.camera_view() if system else []) if r["camera_id"] == camera_id), {}
    )
    return CrowdSeriesOut(
        camera_id=camera_id,
        zone=zone,
        window=window,
        since=start,
        until=end,
        bucket_s=bucket_s,
        points=buckets(rows, start, bucket_s),
        truncated=more,
        overcrowd=request.app.state.config.people.crowd.overcrowd,
        alerts=[
            CrowdAlertMark(id=a.id, raised_at=a.raised_at, status=a.status.value, detail=a.detail)
            for a in alerts
        ],
        zones=[z for z in store.crowd_zones(camera_id) if z],
        line_crossings=dict(view.get("line_crossings") or {}),
    )


class CrossingPoint(BaseModel):
    at: datetime  # start of the chart bucket
    count: int


class CrossingSeries(BaseModel):
    line: str
    direction: Literal["in", "out"]
    total: int
    points: list[CrossingPoint]  # buckets with no crossing left out


class CrossingSeriesOut(BaseModel):
    camera_id: str
    line: str | None
    window: str
    since: datetime
    until: datetime
    bucket_s: int
    series: list[CrossingSeries]
    lines: list[str]  # every line of the camera (configured or with stored crossings)
    truncated: bool


def crossing_series_of(
    rows: list[tuple[str, str, datetime, int]], since: datetime, bucket_s: int
) -> list[CrossingSeries]:
    """Stored one-minute buckets summed into the chart's ``bucket_s`` buckets from ``since``,
    one series per line and direction (sorted; a direction with no crossing has no series)."""
    acc: dict[tuple[str, str], dict[int, int]] = {}
    for line, direction, at, count in rows:
        k = int((at - since).total_seconds() // bucket_s)
        per = acc.setdefault((line, direction), {})
        per[k] = per.get(k, 0) + count
    return [
        CrossingSeries(
            line=line,
            direction="in" if direction == "in" else "out",
            total=sum(per.values()),
            points=[
                CrossingPoint(at=since + timedelta(seconds=k * bucket_s), count=n)
                for k, n in sorted(per.items())
            ],
        )
        for (line, direction), per in sorted(acc.items())
    ]


@crowd_charts.get("/{camera_id}/crossings/series", response_model=CrossingSeriesOut)
def crossings_series(
    camera_id: IdPath,
    request: Request,
    *,
    window: Literal["1h", "24h", "7d"] = "1h",
    line: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    until: Until = None,
    p: Principal = access(scope="cameras:read"),
) -> CrossingSeriesOut:
    """Line crossings over time on one camera (every line, or ``line``) for a chart: the
    stored per-minute counts summed per chart bucket, one series per line and direction."""
    svc = services(request)
    svc.repo.get_camera(camera_id)
    span, bucket_s = WINDOWS[window]
    end = aware(until, "until") or datetime.now(UTC)
    start = end - timedelta(seconds=span)
    store = ConsoleStore(svc.repo.db)
    rows, more = store.crossing_window(camera_id, line, start, end)
    configured: set[str] = {
        ln.name for c in request.app.state.config.cameras if c.id == camera_id for ln in c.lines
    }
    names = configured | set(store.crossing_lines(camera_id))
    return CrossingSeriesOut(
        camera_id=camera_id,
        line=line,
        window=window,
        since=start,
        until=end,
        bucket_s=bucket_s,
        series=crossing_series_of(rows, start, bucket_s),
        lines=sorted(names),
        truncated=more,
    )


class AuditRowOut(AuditEntryOut):
    actor_name: str  # the account's username ("system" and unknown ids as they are)


class AuditPageOut(BaseModel):
    items: list[AuditRowOut]
    next_before_seq: int | None


class ActorOut(BaseModel):
    id: str
    username: str
    display_name: str


@audit_pages.get("/search", response_model=AuditPageOut)
def audit_search(
    request: Request,
    *,
    actor: Filter = None,
    action: Filter = None,
    target: Filter = None,
    since: Since = None,
    until: Until = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    _: Principal = access(*AUDITORS, scope="audit:read"),
) -> AuditPageOut:
    """The chain newest first, filtered (``actor``: a username or id; ``action`` and ``target``:
    prefixes), with each actor's name; page on with ``before_seq=next_before_seq``."""
    store = ConsoleStore(services(request).repo.db)
    actor_id = None if actor is None else (store.user_id(actor) or actor)
    f = AuditFilter(
        actor_id, action, target, aware(since, "since"), aware(until, "until"), before_seq
    )
    entries = store.audit_page(f, limit + 1)
    names = store.user_names([e.actor for e in entries])
    items = [
        AuditRowOut(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            actor_name=names.get(e.actor, (e.actor, ""))[0],
            action=e.action,
            target=e.target,
            reason=e.reason,
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
            details=[list(d) for d in e.details],
        )
        for e in entries[:limit]
    ]
    more = len(entries) > limit
    return AuditPageOut(items=items, next_before_seq=items[-1].seq if more else None)


@audit_pages.get("/actors", response_model=list[ActorOut])
def audit_actors(
    request: Request, _: Principal = access(*AUDITORS, scope="audit:read")
) -> list[ActorOut]:
    """Every account's id and name (for the audit page's actor filter); no other field."""
    names = ConsoleStore(services(request).repo.db).user_names()
    return [
        ActorOut(id=i, username=u, display_name=d)
        for i, (u, d) in sorted(names.items(), key=lambda x: x[1][0])
    ]


class ActivityOut(BaseModel):
    since: datetime
    until: datetime
    actions: dict[str, int]  # audited action -> entries in the period


@report_pages.get("/activity", response_model=ActivityOut)
def activity(
    request: Request,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    _: Principal = access(*AUDITORS, scope="audit:read"),
) -> ActivityOut:
    """Audited actions per kind in ``[from, to)`` (searches, refusals, live views, purges,
    retention runs, enrolments...): the oversight page's activity chart. Counts only."""
    a, b = aware(start, "from"), aware(end, "to")
    assert a is not None and b is not None
    if b <= a:
        raise ValidationError("'to' must be after 'from'")
    counts = ConsoleStore(services(request).repo.db).action_counts(a, b)
    return ActivityOut(since=a, until=b, actions=counts)


class PhotoCheckOut(BaseModel):
    ok: bool
    faces: int
    face_px: float | None
    pose: float | None
    sharpness: float | None
    quality: float | None
    min_quality: float
    min_face_px: int
    reason: str | None


@watchlist_tools.post("/check-photo", response_model=PhotoCheckOut)
async def check_photo(
    request: Request,
    *,
    photo: Annotated[UploadFile, File(description="One photo to check (nothing is stored).")],
    _: Principal = access(*MANAGERS),
) -> PhotoCheckOut:
    """What enrolment would say of this photo (faces found, size, pose, sharpness, quality and
    the refusal reason), from the same gate; nothing is stored and the photo is dropped."""
    if (photo.content_type or "").lower() not in IMAGE_TYPES:
        raise UnsupportedMediaError(
            f"the photo is {photo.content_type or 'untyped'}; send one of {sorted(IMAGE_TYPES)}"
        )
    data = await photo.read()
    if not data:
        raise InputError("the photo is empty")
    width, height = image_size(data, name="photo")
    if width * height > MAX_PIXELS:
        raise PayloadTooLargeError(f"the photo is {width}x{height}; at most {MAX_PIXELS} px")
    check = await run_in_threadpool(services(request).watchlists.check_photo, data)
    return PhotoCheckOut(
        ok=check.ok,
        faces=check.faces,
        face_px=check.face_px,
        pose=check.pose,
        sharpness=check.sharpness,
        quality=check.quality,
        min_quality=check.min_quality,
        min_face_px=check.min_face_px,
        reason=check.reason,
    )


class TemplateInfoOut(BaseModel):
    id: str
    provenance: str
    captured_at: datetime | None
    quality: float
    added_by: str
    created_at: datetime


class SubjectDetailOut(BaseModel):
    id: str
    label: str
    reason: str
    added_by: str
    created_at: datetime
    expires_at: datetime | None
    templates: list[TemplateInfoOut]


class WatchlistDetailOut(BaseModel):
    watchlist: WatchlistOut
    subjects: list[SubjectDetailOut]
    names: dict[str, str]  # user id -> username, for owner and "added by"


@watchlist_tools.get("/{watchlist_id}/details", response_model=WatchlistDetailOut)
def watchlist_details(
    watchlist_id: IdPath, request: Request, p: Principal = access(*READERS)
) -> WatchlistDetailOut:
    """A watchlist with its subjects and each photo's provenance, capture date and quality
    (never the photo or the template); the view is audited (``watchlist.view``)."""
    svc = services(request)
    wl = svc.repo.get_watchlist(watchlist_id)
    subjects = svc.repo.list_subjects(watchlist_id)
    templates = svc.repo.templates_for_watchlist(watchlist_id)
    svc.audit.append(
        p.actor.id,
        AuditAction.WATCHLIST_VIEW,
        f"watchlist:{watchlist_id}",
        "watchlist details in the console",
        [("subjects", str(len(subjects))), *p.attribution()],
    )
    people = {wl.owner_id} | {s.added_by for s in subjects} | {t.added_by for t in templates}
    names = ConsoleStore(svc.repo.db).user_names(sorted(people))
    out: list[SubjectDetailOut] = []
    for s in subjects:
        mine = [t for t in templates if t.subject_id == s.id]
        out.append(
            SubjectDetailOut(
                id=s.id,
                label=s.label,
                reason=s.reason,
                added_by=s.added_by,
                created_at=s.created_at,
                expires_at=s.expires_at,
                templates=[
                    TemplateInfoOut(
                        id=t.id,
                        provenance=t.provenance,
                        captured_at=t.captured_at,
                        quality=round(t.quality, 3),
                        added_by=t.added_by,
                        created_at=t.created_at,
                    )
                    for t in mine
                ],
            )
        )
    return WatchlistDetailOut(
        watchlist=watchlist_out(wl),
        subjects=out,
        names={k: v[0] for k, v in names.items()},
    )


class ExpiredOut(BaseModel):
    version_hash: str


@watchlist_tools.post("/{watchlist_id}/expire", response_model=ExpiredOut)
def expire_watchlist(
    watchlist_id: IdPath, body: DecisionIn, request: Request, p: Principal = access(*MANAGERS)
) -> ExpiredOut:
    """End a watchlist now, with a reason (audited ``watchlist.expire``); its version changes,
    so deployments pinned to the old version stop matching against it."""
    version = services(request).watchlists.expire(p.actor, watchlist_id, body.reason)
    return ExpiredOut(version_hash=version)
