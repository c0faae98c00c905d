"""``/investigations/jobs``: post-event face and plate search of recorded footage, as jobs.

Thin handlers over :class:`vigil.governance.postevent.PostEventSearch` (the rules and audit) and
:class:`vigil.system.postevent.PostEventRunner` (the worker that holds probes in memory). An
investigator uploads a probe photo (multipart, ``POST /jobs``) or gives a plate text (JSON,
``POST /plate-jobs``) with the case, the approved post-event authorisation, the cameras, the
window and a reason; the job starts (audited) and runs in the background; ``GET`` reads its
progress, ``/results`` its appearances (hits grouped per camera visit; the hits themselves with
``hits=true``; each view audited), ``/cancel`` stops it, ``/resume`` restarts a paused one (a
face job with the probe photo again: it was never stored; a plate job with nothing).
The job's cameras scope it (``job_id`` is a camera-bound path record), and its case must be the
caller's (``vigil.api.scope.require_case``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from vigil.api.deps import access, services
from vigil.api.errors import UnsupportedMediaError
from vigil.api.routes.common import aware, router
from vigil.api.routes.watchlists import IMAGE_TYPES
from vigil.api.schemas import Body, IdPath
from vigil.api.scope import require_cameras, require_case
from vigil.core.domain import Role
from vigil.errors import NotFoundError, ValidationError
from vigil.governance.accounts import Principal
from vigil.governance.appearances import Appearance
from vigil.governance.postevent import JobKind, clip_url
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
    kind: str = Field(description="`face` (probe photo) or `plate`.")
    query: str = Field(description="The plate sought (plate jobs); `probe photo` for faces.")
    max_distance: int = Field(0, description="Plate jobs: edits a read may be off the query.")
    profile: str | None = Field(None, description="Plate jobs: the region profile.")
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
            query=j.query,
            max_distance=j.max_distance,
            profile=j.profile,
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
    score: float = Field(description="Face: cosine score; plate: the read's confidence.")
    text: str | None = Field(None, description="Plate hits: what the reader read.")
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
            text=r.text,
            false_match_rate=r.rate_point,
            false_match_rate_upper=r.rate_upper,
            clip_url=clip_url(r.camera_id, r.at),
        )


class AppearanceOut(BaseModel):
    """Consecutive hits on one camera (within ``investigation.appearance_gap_s``)."""

    camera_id: str
    first_at: str
    last_at: str
    hits: int
    best: ResultOut = Field(description="The highest-scoring hit (plates: the best read).")
    clip_url: str = Field(description="One clip spanning the appearance, padded either side.")

    @classmethod
    def of(cls, a: Appearance, pad: timedelta) -> AppearanceOut:
        return cls(
            camera_id=a.camera_id,
            first_at=a.first_at.isoformat(),
            last_at=a.last_at.isoformat(),
            hits=a.hits,
            best=ResultOut.of(a.best),
            clip_url=a.clip_url(pad),
        )


class ResultsOut(BaseModel):
    job: JobOut
    appearances: list[AppearanceOut]
    hits: list[ResultOut] | None = Field(None, description="Per-frame hits (`hits=true`).")
    truncated: bool = Field(description="More hits than one view groups: narrow the window.")


class PlateJobIn(Body):
    case_id: str = Field(pattern=ID)
    authorisation_id: str = Field(pattern=ID)
    plate: str = Field(
        min_length=1,
        max_length=32,
        description="The plate sought (as plate search takes it: letters, digits, `?` and `*`).",
    )
    max_distance: int = Field(0, ge=0, le=2, description="Edits a read may be off the plate.")
    profile: str | None = Field(
        None, max_length=32, description="Region profile (default: the configured `plates.region`)."
    )
    cameras: list[str] = Field(min_length=1, max_length=64)
    start: datetime = Field(description="Window start (ISO 8601 with a zone).")
    end: datetime = Field(description="Window end (ISO 8601 with a zone).")
    reason: str = Field(min_length=3, max_length=2000)


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


@investigations.post("/plate-jobs", response_model=JobOut, status_code=202)
def start_plate_job(
    body: PlateJobIn, request: Request, p: Principal = access(Role.INVESTIGATOR)
) -> JobOut:
    """Start a plate search of the cameras' recordings in the window (audited; 202: it runs in
    the background). The same authorisation as a face search: 403 without an approved
    post-event authorisation covering the cameras and window; 422 for a plate query the plate
    search would refuse (too few fixed characters) or an unknown region profile."""
    svc = services(request)
    runner = _runner(svc)
    require_case(svc, p, body.case_id, write=True)
    require_cameras(svc, p, body.cameras)
    job = runner.search.start_plate(
        p.actor,
        case_id=body.case_id,
        authorisation_id=body.authorisation_id,
        plate=body.plate,
        max_distance=body.max_distance,
        profile=body.profile,
        cameras=body.cameras,
        start=aware(body.start, "start") or body.start,
        end=aware(body.end, "end") or body.end,
        reason=body.reason,
        allowed=p.cameras,
    )
    runner.submit(job.id)
    return JobOut.of(job)


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
    reason: Annotated[str, Form(min_length=3, max_length=2000)],
    probe: Annotated[
        UploadFile | None, File(description="Face jobs: the probe photo again (never stored).")
    ] = None,
    p: Principal = access(Role.INVESTIGATOR),
) -> JobOut:
    """Resume a paused job from its first unfinished segment (audited); a face job needs its
    probe photo again (422 without), a plate job nothing."""
    data = None if probe is None else await _photo(probe)
    svc = services(request)
    runner = _runner(svc)

    def run() -> JobOut:
        job = _job(svc, p, job_id, write=True)
        template = None
        if job.kind == JobKind.FACE.value:
            if data is None:
                raise ValidationError("a face job resumes with its probe photo (never stored)")
            template = runner.probe(data)
        job = runner.search.resume(p.actor, job_id, reason)
        runner.submit(job_id, template)
        return JobOut.of(job)

    return await run_in_threadpool(run)


@investigations.get("/jobs/{job_id}/results", response_model=ResultsOut)
def job_results(
    job_id: IdPath,
    request: Request,
    *,
    reason: Reason,
    hits: Annotated[bool, Query(description="Also list the per-frame hits.")] = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="First hit listed.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Hits listed.")] = 100,
    p: Principal = access(Role.INVESTIGATOR),
) -> ResultsOut:
    """The appearances found so far (hits of one camera within the appearance gap: first and
    last time, hit count, the best hit, one clip spanning it), oldest first; with ``hits=true``
    also the per-frame hits (``offset``/``limit``), each with its calibrated false-match rate
    (face) or read text (plate) and a clip URL. The view is audited."""
    svc = services(request)
    job = _job(svc, p, job_id, write=False)
    if not reason.strip():
        raise ValidationError("a reason is needed")
    search = _runner(svc).search
    found, rows, cut = search.view_appearances(p.actor, job_id, reason)
    return ResultsOut(
        job=JobOut.of(job),
        appearances=[AppearanceOut.of(a, search.appearance_pad) for a in found],
        hits=[ResultOut.of(r) for r in rows[offset : offset + limit]] if hits else None,
        truncated=cut,
    )
