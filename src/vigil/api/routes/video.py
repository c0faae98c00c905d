"""``/video``: live tiles of the cameras for the console's wall (MJPEG over plain HTTP).

An ``<img>`` pointed at ``/video/cameras/{id}/mjpeg`` shows the camera's latest analysed frames
with Vigil's own overlays (:mod:`vigil.system.live_video`): no plug-in, no script library, and
the browser sends the session cookie like any image request. MJPEG was chosen over fragmented
MP4/MSE because it needs no client code and no encoder state per viewer; the trade-off is more
bytes per frame, acceptable at a wall's low rates (``console.live_fps``) and tile sizes.

Who sees what: operators, supervisors and investigators, on the cameras in their scope (a camera
outside it is not listed and its stream answers 404, as an absent one; :mod:`vigil.api.scope`).
Auditors and admins get no pictures. Each stream is audited as one viewing: a
``live_video.start`` entry when it opens (a stream whose entry cannot be written is not served)
and ``live_video.end`` with from, to, frames sent and why it ended when it ends.

Revocation reaches an open stream like it reaches the event WebSocket (:mod:`vigil.api.live`):
every ``api.live_recheck_s`` the stream re-reads its credential from the system of record
(:meth:`~vigil.governance.accounts.AccountService.resolve_many`) and re-applies the route's rules
(a viewer role; every camera still in the caller's assignment). A logged-out, expired or revoked
session, a disabled account, a lost role or a removed camera ends the stream within that interval
plus one read, with the reason in the ``live_video.end`` entry. One read per stream per interval,
rather than joining the WebSocket registry's shared read: a stream lives in its own response task,
and a wall is one stream for all its cameras, so the count stays at one per open page. A re-check
that fails :data:`~vigil.api.live.MAX_CHECK_FAILURES` times in a row ends the stream (access that
cannot be checked is not kept). A stream also lasts at most ``console.live_session_s``; the
console then opens a new one, authorised and audited afresh.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import access, check, services
from vigil.api.live import MAX_CHECK_FAILURES
from vigil.api.routes.common import router
from vigil.api.schemas import IdPath
from vigil.api.scope import camera_allowed, require
from vigil.core.domain import Role
from vigil.errors import NotFoundError, PermissionDeniedError, RateLimitedError
from vigil.governance.accounts import Principal
from vigil.governance.audit import AuditAction
from vigil.system.live_video import LiveVideo

log = logging.getLogger(__name__)
video = router("/video", "video")
VIEWERS = (Role.OPERATOR, Role.SUPERVISOR, Role.INVESTIGATOR)
BOUNDARY = "vigilframe"


class LiveCameraOut(BaseModel):
    """A camera of the live wall: identity, health and the live tile's own figures."""

    camera_id: str
    name: str
    zone: str | None
    state: str
    analysed_fps: float
    dropped_frames: int
    people_now: int | None
    has_frame: bool
    frame_at: str | None
    viewers: int
    stream_s: int  # the server ends a stream after this; the console reopens it before


def _live(request: Request) -> LiveVideo | None:
    system = request.app.state.system
    live = getattr(system, "live", None)
    return live if isinstance(live, LiveVideo) else None


@video.get("/cameras", response_model=list[LiveCameraOut])
def live_cameras(request: Request, p: Principal = access(*VIEWERS)) -> list[LiveCameraOut]:
    """The caller's cameras that this process runs, with state, analysed rate and drops."""
    live = _live(request)
    if live is None:
        return []
    names = {c.id: c for c in services(request).repo.list_cameras()}
    views = {str(r["camera_id"]): r for r in request.app.state.system.camera_view()}
    out = []
    for cam in live.cameras:
        if not camera_allowed(p, cam) or cam not in names:
            continue
        view, status = views.get(cam, {}), live.status(cam)
        out.append(
            LiveCameraOut(
                camera_id=cam,
                name=names[cam].name or cam,
                zone=names[cam].zone,
                state=str(view.get("state", "unknown")),
                analysed_fps=float(status["analysed_fps"] or 0.0),
                dropped_frames=int(view.get("dropped_frames") or 0),
                people_now=view.get("people_now"),
                has_frame=bool(status["has_frame"]),
                frame_at=None if status["frame_at"] is None else str(status["frame_at"]),
                viewers=int(status["viewers"] or 0),
                stream_s=request.app.state.config.console.live_session_s,
            )
        )
    return out


def _require_live(request: Request, camera_id: str) -> LiveVideo:
    live = _live(request)
    if live is None or camera_id not in live.cameras:
        raise NotFoundError(f"camera {camera_id!r} has no live video in this process")
    return live


@video.get(
    "/cameras/{camera_id}/mjpeg",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}}}},
)
def live_stream(
    camera_id: IdPath, request: Request, p: Principal = access(*VIEWERS)
) -> StreamingResponse:
    """The camera's live tile as MJPEG (one JPEG part per new frame), audited as a viewing."""
    return _stream(request, p, [camera_id])


WallCameras = Annotated[
    str,
    Query(
        pattern=r"^[A-Za-z0-9_-]{1,64}(,[A-Za-z0-9_-]{1,64}){0,15}$",
        description="Up to 16 camera ids, comma-separated.",
    ),
]


@video.get(
    "/wall",
    response_class=StreamingResponse,
    responses={200: {"content": {f"multipart/mixed; boundary={BOUNDARY}": {}}}},
)
def wall_stream(
    request: Request, cameras: WallCameras, p: Principal = access(*VIEWERS)
) -> StreamingResponse:
    """Several cameras' tiles on ONE connection (a wall page): each part is a JPEG with an
    ``X-Camera-Id`` header. A browser opens at most six HTTP/1.1 connections per server, so a
    wall of one ``<img>`` stream per camera would stall past five tiles; the console reads
    this stream with ``fetch`` instead. Every camera must be the caller's (else 404, as for an
    absent one); each is audited as a viewing of its own."""
    ids = list(dict.fromkeys(cameras.split(",")))
    for camera_id in ids:
        require(services(request), p, "camera", camera_id, write=False)
    return _stream(request, p, ids, wall=True)


def _stream(
    request: Request, p: Principal, ids: list[str], *, wall: bool = False
) -> StreamingResponse:
    """The stream of ``ids``' tiles: viewer slots taken and viewings audited before the first
    byte; slots released and ends audited when it stops."""
    live = _live(request)
    for camera_id in ids:
        _require_live(request, camera_id)
    assert live is not None
    config = request.app.state.config.console
    started = datetime.now(UTC)
    held: list[str] = []
    try:
        for camera_id in ids:
            if not live.acquire(camera_id):
                raise RateLimitedError(
                    f"camera {camera_id!r} already has {config.live_max_viewers} live viewers",
                    retry_after_s=10,
                )
            held.append(camera_id)
            services(request).audit.append(
                p.actor.id,
                AuditAction.LIVE_VIDEO_START,
                f"camera:{camera_id}",
                "live wall in the console" if wall else "live view in the console",
                [("from", started.isoformat()), *p.attribution()],
            )
    except BaseException:
        for camera_id in held:  # not recorded: not served
            live.release(camera_id)
        raise

    recheck_s = request.app.state.config.api.live_recheck_s

    async def frames() -> AsyncIterator[bytes]:
        sent = dict.fromkeys(ids, 0)
        last = dict.fromkeys(ids, -1)
        deadline = time.monotonic() + config.live_session_s
        recheck = _Recheck(request, p, ids, recheck_s)
        why = "the viewer left"  # unless the server ends it (below)
        try:
            while True:
                refused = await recheck.due()
                if refused is not None or time.monotonic() >= deadline:
                    why = refused or "session limit reached"
                    break
                for camera_id in ids:
                    tile = await run_in_threadpool(live.tile, camera_id)
                    if tile is None or tile.seq == last[camera_id]:
                        continue
                    last[camera_id], sent[camera_id] = tile.seq, sent[camera_id] + 1
                    head = (
                        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                        f"X-Camera-Id: {camera_id}\r\n"
                        f"Content-Length: {len(tile.jpeg)}\r\n\r\n"
                    )
                    yield head.encode() + tile.jpeg + b"\r\n"
                await asyncio.sleep(1.0 / config.live_fps)
        finally:
            for camera_id in ids:
                live.release(camera_id)
            # The closing entries are database writes: on a worker thread, not on the event
            # loop (which serves every other request), and not awaited (the task may be
            # cancelled here, when the viewer went away).
            asyncio.get_running_loop().run_in_executor(
                None, _ended_all, request, p, ids, started, dict(sent), why
            )

    kind = "multipart/mixed" if wall else "multipart/x-mixed-replace"
    return StreamingResponse(
        frames(),
        media_type=f"{kind}; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class _Recheck:
    """The periodic re-check of one open stream (see the module docs): :meth:`due` answers
    why the stream must end, or ``None``; it reads the database only once per ``every_s``."""

    def __init__(self, request: Request, p: Principal, ids: list[str], every_s: float) -> None:
        self.request, self.p, self.ids, self.every_s = request, p, ids, every_s
        self.next_at = time.monotonic() + every_s
        self.failed = 0

    async def due(self) -> str | None:
        if time.monotonic() < self.next_at:
            return None
        self.next_at = time.monotonic() + self.every_s
        try:
            refused = await run_in_threadpool(still_allowed, self.request, self.p, self.ids)
        except Exception:
            self.failed += 1
            log.exception("re-checking a live video stream failed (%d in a row)", self.failed)
            return "access cannot be re-checked" if self.failed >= MAX_CHECK_FAILURES else None
        self.failed = 0
        return refused


def still_allowed(request: Request, p: Principal, ids: list[str]) -> str | None:
    """Why the caller of an open stream may no longer see it (``None``: still allowed): the
    credential re-read from the system of record, and the route's own rules applied again."""
    now = services(request).accounts.resolve_many({p.token_hash}).get(p.token_hash)
    if now is None:
        return "credential revoked or expired"
    try:
        check(now, VIEWERS, None)
    except PermissionDeniedError:
        return "roles changed: live video is no longer allowed"
    lost = [c for c in ids if not camera_allowed(now, c)]
    return f"camera no longer assigned: {', '.join(lost)}" if lost else None


def _ended_all(  # noqa: PLR0917 - the viewing's whole record
    request: Request,
    p: Principal,
    ids: list[str],
    started: datetime,
    sent: dict[str, int],
    why: str,
) -> None:
    for camera_id in ids:
        _ended(request, p, camera_id, started, sent[camera_id], why)


def _ended(  # noqa: PLR0917 - the viewing's whole record
    request: Request, p: Principal, camera_id: str, started: datetime, sent: int, why: str
) -> None:
    """The viewing's closing entry; logged, not raised, if it cannot be written (the stream
    has ended either way, and its start entry is in the chain)."""
    try:
        services(request).audit.append(
            p.actor.id,
            AuditAction.LIVE_VIDEO_END,
            f"camera:{camera_id}",
            f"live view ended: {why}",
            [
                ("from", started.isoformat()),
                ("to", datetime.now(UTC).isoformat()),
                ("frames", str(sent)),
                ("ended", why),
                *p.attribution(),
            ],
        )
    except Exception:
        log.exception("the end of a live view of camera %s could not be audited", camera_id)


@video.get(
    "/cameras/{camera_id}/still",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "The latest frame (JPEG)."}},
)
def still(
    camera_id: IdPath,
    request: Request,
    *,
    overlays: bool = True,
    p: Principal = access(*VIEWERS),
) -> Response:
    """The camera's latest analysed frame as one JPEG (``overlays=false``: the plain, masked
    frame under a heatmap); audited as ``live_video.still``."""
    live = _require_live(request, camera_id)
    tile = live.tile(camera_id, overlays=overlays)
    if tile is None:
        raise NotFoundError(f"camera {camera_id!r} has no analysed frame yet")
    services(request).audit.append(
        p.actor.id,
        AuditAction.LIVE_VIDEO_STILL,
        f"camera:{camera_id}",
        "still frame in the console",
        [
            ("at", datetime.now(UTC).isoformat()),
            ("overlays", str(overlays).lower()),
            *p.attribution(),
        ],
    )
    headers: dict[str, Any] = {"Cache-Control": "no-store"}
    return Response(tile.jpeg, media_type="image/jpeg", headers=headers)
