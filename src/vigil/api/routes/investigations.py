"""``/investigations/jobs``: post-event face search of recorded footage, as background jobs.

Thin handlers over :class:`vigil.governance.postevent.PostEventSearch` (the rules and audit) and
:class:`vigil.system.postevent.PostEventRunner` (the worker that holds probes in memory). An
investigator uploads a probe photo (multipart) with the case, the approved post-event
authorisation, the cameras, the window and a reason; the job starts (audited) and runs in the
background; ``GET`` reads its progress, ``/results`` its hits (each view audited), ``/cancel``
stops it, ``/resume`` restarts a paused one with the probe photo again (it was never stored).
The job's cameras scope it (``job_id`` is a camera-bound path record), and its case must be the
caller's (``vigil.api.scope.require_case``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import File, Form, Query, Request, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import access, services
from vigil.api.errors import UnsupportedMediaError
from vigil.api.routes.common import aware, router
from vigil.api.routes.watchlists import IMAGE_TYPES
from vigil.api.schemas import IdPath
from vigil.api.scope import require_cameras, require_case
from vigil.core.domain import Role
from vigil.errors import NotFoundError, ValidationError
from vigil.governance.accounts import Principal
from vigil.governance.postevent import clip_url
from vigil.storage.postevent import JobRow, ResultRow
from vigil.system.postevent import PostEventRunner
from vigil.system.services import Services

investigations = router("/investigations", "investigations")

ID = r"^[A-Za-z0-9_-]{1,64}$"
Reason = Annotated[str, Query(min_length=3, max_length=500, description="Why (audited).")]


class JobOut(BaseModel):
    id: str
    case_id: str
    authorisation_id: str
    kind: str
    camera_ids: list[str]
    start: str
    end: str
    threshold: float
    state: str
    segments_done: int
    segments_total: int
    created_by: str
    created_at: str

    @classmethod
    def of(cls, j: JobRow) -> JobOut:
        return cls(
            id=j.id,
            case_id=j.case_id,
            authorisation_id=j.authorisation_id,
            kind=j.kind,
            camera_ids=list(j.camera_ids),
            start=j.start_at.isoformat(),
            end=j.end_at.isoformat(),
            threshold=j.threshold,
            state=j.state,
            segments_done=j.segments_done,
            segments_total=j.segments_total,
            created_by=j.created_by,
            created_at=j.created_at.isoformat(),
        )


class ResultOut(BaseModel):
    id: str
    camera_id: str
    at: str
    score: float
    false_match_rate: float | None
    false_match_rate_upper: float | None
    clip_url: str

    @classmethod
    def of(cls, r: ResultRow) -> ResultOut:
        return cls(
            id=r.id,
            camera_id=r.camera_id,
            at=r.at.isoformat(),
            score=r.score,
            false_match_rate=r.rate_point,
            false_match_rate_upper=r.rate_upper,
            clip_url=clip_url(r.camera_id, r.at),
        )


def _runner(svc: Services) -> PostEventRunner:
    if svc.postevent is None:
        raise NotFoundError("post-event search is not configured on this server")
    return svc.postevent


async def _photo(photo: UploadFile) -> bytes:
    if (photo.content_type or "").lower() not in IMAGE_TYPES:
        raise UnsupportedMediaError(
            f"probe is {photo.content_type or 'untyped'}; send one of {sorted(IMAGE_TYPES)}"
        )
    return await photo.read()


@investigations.post("/jobs", response_model=JobOut, status_code=202)
async def start_job(
    request: Request,
    *,
    probe: Annotated[UploadFile, File(description="One photo of the person sought.")],
    case_id: Annotated[str, Form(pattern=ID)],
    authorisation_id: Annotated[str, Form(pattern=ID)],
    cameras: Annotated[str, Form(min_length=1, max_length=2000, description="Comma-separated.")],
    start: Annotated[datetime, Form(description="Window start (ISO 8601 with a zone).")],
    end: Annotated[datetime, Form(description="Window end (ISO 8601 with a zone).")],
    reason: Annotated[str, Form(min_length=3, max_length=2000)],
    p: Principal = access(Role.INVESTIGATOR),
) -> JobOut:
    """Start a face search of the cameras' recordings in the window (audited; 202: it runs in
    the background). Refused (403) without an approved post-event authorisation covering the
    cameras and window; 422 when the photo has no usable face."""
    data = await _photo(probe)
    svc = services(request)
    runner = _runner(svc)
    cams = [c.strip() for c in cameras.split(",") if c.strip()]

    def run() -> JobOut:
        require_case(svc, p, case_id, write=True)
        require_cameras(svc, p, cams)
        template = runner.probe(data)  # refused before anything is recorded
        job = runner.search.start(
            p.actor,
            case_id=case_id,
            authorisation_id=authorisation_id,
            cameras=cams,
            start=aware(start, "start") or start,
            end=aware(end, "end") or end,
            reason=reason,
            allowed=p.cameras,
        )
        runner.submit(job.id, template)
        return JobOut.of(job)

    return await run_in_threadpool(run)


def _job(svc: Services, p: Principal, job_id: str, *, write: bool) -> JobRow:
    job = _runner(svc).store.get_job(job_id)
    require_case(svc, p, job.case_id, write=write)
    return job


@investigations.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: IdPath, request: Request, p: Principal = access(Role.INVESTIGATOR)) -> JobOut:
    """The job's state and progress (segments done / total)."""
    return JobOut.of(_job(services(request), p, job_id, write=False))


@investigations.post("/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(
    job_id: IdPath, request: Request, reason: Reason, p: Principal = access(Role.INVESTIGATOR)
) -> JobOut:
    """Stop the job for good (audited); results found so far stay with the case."""
    svc = services(request)
    _job(svc, p, job_id, write=True)
    return JobOut.of(_runner(svc).search.cancel(p.actor, job_id, reason))


@investigations.post("/jobs/{job_id}/resume", response_model=JobOut, status_code=202)
async def resume_job(
    job_id: IdPath,
    request: Request,
    *,
    probe: Annotated[UploadFile, File(description="The probe photo again (never stored).")],
    reason: Annotated[str, Form(min_length=3, max_length=2000)],
    p: Principal = access(Role.INVESTIGATOR),
) -> JobOut:
    """Resume a paused job from its first unfinished segment (audited)."""
    data = await _photo(probe)
    svc = services(request)
    runner = _runner(svc)

    def run() -> JobOut:
        _job(svc, p, job_id, write=True)
        template = runner.probe(data)
        job = runner.search.resume(p.actor, job_id, reason)
        runner.submit(job_id, template)
        return JobOut.of(job)

    return await run_in_threadpool(run)


@investigations.get("/jobs/{job_id}/results", response_model=list[ResultOut])
def job_results(
    job_id: IdPath,
    request: Request,
    *,
    reason: Reason,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    p: Principal = access(Role.INVESTIGATOR),
) -> list[ResultOut]:
    """Hits found so far, oldest first, each with its calibrated false-match rate and a clip URL
    (the view is audited)."""
    svc = services(request)
    _job(svc, p, job_id, write=False)
    if not reason.strip():
        raise ValidationError("a reason is needed")
    rows = _runner(svc).search.view_results(p.actor, job_id, reason, offset=offset, limit=limit)
    return [ResultOut.of(r) for r in rows]
