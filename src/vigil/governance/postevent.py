"""Post-event face and plate search over recorded footage: an authorised, audited background job.

An investigator with an **approved post-event authorisation** (the same checks as the archive
face search, :class:`~vigil.governance.search.ArchiveSearch`: kind ``post_event``, approved, not
expired; cameras and window inside it) starts a job for a case with a probe template. The job
walks the recorded segments of the chosen cameras in the window, scanning each key frames first
and densely around candidates (:func:`vigil.recording.scan.scan_segment`), and writes each
segment's hits together with "segment done" in one write, so progress is ``segments done /
total`` and a restarted job resumes at the first unfinished segment.

What is kept, and what never is:

* the **probe template lives only in memory** (the worker's argument); it is never written to the
  database, the audit chain or a file. A job interrupted by a restart is ``paused`` and needs the
  probe again (:meth:`PostEventSearch.resume`);
* faces of the footage are scored and dropped: no crop, no template, only the score of a frame
  that reached the threshold, with camera and time;
* every start, cancel, resume and results view appends an audit entry in the same transaction
  as the state change (a refusal appends ``search.refused``).

Each hit carries its calibrated false-match rate (point and 95% upper bound of one comparison,
:class:`~vigil.identification.calibration.FalseAlertModel`) like an alert, and a clip URL.

A **plate** job (:meth:`PostEventSearch.start_plate`) is the same job with a plate text instead of
a probe photo (:mod:`vigil.governance.postevent_plates`): the same authorisation check (a plate
is not biometric, but this is still a search of the past), the same audit (kind
``postevent_plate``), progress, cancel and resume. Its query is stored with the job, so a paused
plate job resumes without being given anything again. A plate hit keeps the read text and its
confidence (as ``score``); it has no false-match rate.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from vigil.core import FrameRef
from vigil.core.domain import CaseLink, DeploymentRow, Role
from vigil.errors import ConflictError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.appearances import Appearance, group_appearances
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.deployments import DeploymentService
from vigil.governance.postevent_plates import CANDIDATE as PLATE_CANDIDATE
from vigil.governance.postevent_plates import MATCH as PLATE_MATCH
from vigil.governance.postevent_plates import FrameReader, PlateScorer, plate_query
from vigil.governance.search import post_event_authorisation
from vigil.identification.calibration import FalseAlertModel
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.plates.profiles import RegionProfile, get_profile
from vigil.recording.index import SegmentIndex
from vigil.recording.scan import FrameHit, Scorer, scan_segment
from vigil.storage import Repository
from vigil.storage.postevent import JobRow, PostEventStore, ResultRow
from vigil.storage.recordings import SegmentRow

log = logging.getLogger(__name__)

MAX_WINDOW = timedelta(days=7)
MAX_CAMERAS = 64
CLIP_PAD = timedelta(seconds=3)
MAX_GROUPED = 20_000  # hits one view groups (a job past it says so: narrow its window)


class JobKind(StrEnum):
    FACE = "face"
    PLATE = "plate"


class JobState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"  # stopped by a restart or a stop event: resumable with the probe
    CANCELLED = "cancelled"
    DONE = "done"


def clip_url(camera_id: str, at: datetime) -> str:
    """The clip around a hit, as the recordings API serves it."""
    start, end = (at - CLIP_PAD).isoformat(), (at + CLIP_PAD).isoformat()
    return f"/api/v1/cameras/{camera_id}/clips?start={start}&end={end}".replace("+", "%2B")


def probe_template(pipeline: FacePipeline, image: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """The template of the largest usable face of a probe photo.

    Raises:
        ValidationError: no face, or none of usable quality (the message says which).
    """
    ref = FrameRef("probe", utc_now(), 0, image.shape[1], image.shape[0])
    found = pipeline.analyse(image, ref)
    if not found.observations:
        raise ValidationError("no face found in the probe photo")
    usable = [o for o in found.observations if o.embedding is not None]
    if not usable:
        raise ValidationError("the probe face's quality is too low to search with")
    best = max(usable, key=lambda o: float((o.xyxy[2] - o.xyxy[0]) * (o.xyxy[3] - o.xyxy[1])))
    assert best.embedding is not None
    return np.asarray(best.embedding, np.float32)


def face_scorer(pipeline: FacePipeline, probe: npt.NDArray[np.float32]) -> Scorer:
    """Frame -> best cosine score of its usable faces against the probe (0 when none).

    Only the float leaves this function: the frame's faces, crops and templates are dropped.
    """
    unit = probe / max(float(np.linalg.norm(probe)), 1e-12)

    def score(img: npt.NDArray[np.uint8], at: datetime) -> float:
        ref = FrameRef("footage", at, 0, img.shape[1], img.shape[0])
        best = 0.0
        for o in pipeline.analyse(img, ref).observations:
            if o.embedding is not None:
                e = o.embedding / max(float(np.linalg.norm(o.embedding)), 1e-12)
                best = max(best, float(e @ unit))
        return best

    return score


class PostEventSearch:
    """Starts, runs, cancels and reports post-event face and plate searches (module doc).

    Args:
        pipeline: the face pipeline, or a factory of it called at the first face job.
        threshold: the calibrated face threshold (``faces.identification.threshold``).
        candidate: key-frame score that triggers dense sampling around it (below ``threshold``).
        rates: the measured false-match model; ``None`` leaves the rate columns empty.
        plates: builds the frame reader (vehicle detector + plate reader) of a region profile;
            called once per profile at its first plate job. ``None``: plate jobs are refused.
        plate_profile: a region profile by name (``None``: the configured region).
        plate_min_confidence: a frame read below this confidence is no hit (``plates.
            min_confidence``); a match to a specific query is itself strong evidence, so this
            is a floor against noise, not the main filter.
        appearance_gap, appearance_pad: how hits group into appearances and how much footage
            their clips add either side (``investigation.appearance_gap_s`` / ``_pad_s``).
    """

    def __init__(  # noqa: PLR0917 - the collaborators, injected by the composition root
        self,
        repo: Repository,
        store: PostEventStore,
        segments: SegmentIndex,
        audit: AuditLog,
        deployments: DeploymentService,
        pipeline: FacePipeline | Callable[[], FacePipeline],
        *,
        threshold: float,
        candidate: float | None = None,
        rates: FalseAlertModel | None = None,
        plates: Callable[[RegionProfile], FrameReader] | None = None,
        plate_profile: Callable[[str | None], RegionProfile] | None = None,
        plate_min_confidence: float = 0.2,
        appearance_gap: timedelta = timedelta(seconds=3),
        appearance_pad: timedelta = CLIP_PAD,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.store = store
        self.segments = segments
        self.audit = audit
        self.deployments = deployments
        # the face models load at the first face job, not when a plate job or a view needs
        # the service (a factory is resolved once, under the lock)
        self._pipeline = pipeline
        self._lock = threading.Lock()
        self.threshold = threshold
        self.candidate = threshold * 0.7 if candidate is None else candidate
        self.rates = rates
        self.plates = plates
        self.plate_profile = plate_profile or (lambda name: get_profile(name or "us"))
        self.plate_min_confidence = plate_min_confidence
        self._readers: dict[str, FrameReader] = {}  # one per region profile used (a handful)
        self.appearance_gap = appearance_gap
        self.appearance_pad = appearance_pad
        self.clock = clock

    @property
    def pipeline(self) -> FacePipeline:
        """The face pipeline (built on first use when a factory was given)."""
        with self._lock:
            if not isinstance(self._pipeline, FacePipeline):
                self._pipeline = self._pipeline()
            return self._pipeline

    # -- starting -------------------------------------------------------------------------
    def start(
        self,
        actor: Actor,
        *,
        case_id: str,
        authorisation_id: str,
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str,
        allowed: Collection[str] | None = None,
    ) -> JobRow:
        """Record a new ``running`` face job (audited ``search.run``, kind ``postevent_face``)
        and link that audit entry to the case, all in one transaction.

        Raises:
            PermissionDeniedError: not an investigator.
            ValidationError: no reason, no cameras, a bad window.
            NotFoundError: no such case.
            ConflictError: the case is closed.
            PolicyViolationError: no approved post-event authorisation covering the cameras and
                window (audited ``search.refused``).
        """
        request = _Request(JobKind.FACE, "probe photo", self.threshold, 0, None, ())
        return self._start(
            actor, request, case_id, authorisation_id, cameras, (start, end), reason, allowed
        )

    def start_plate(
        self,
        actor: Actor,
        *,
        case_id: str,
        authorisation_id: str,
        plate: str,
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        reason: str,
        max_distance: int = 0,
        profile: str | None = None,
        allowed: Collection[str] | None = None,
    ) -> JobRow:
        """Record a new ``running`` plate job (audited ``search.run``, kind ``postevent_plate``,
        with the query) linked to the case; the same checks and refusals as :meth:`start`, and
        ValidationError for a plate query the plate search would refuse or an unknown profile.
        """
        actor.require(Role.INVESTIGATOR, action="searching recorded footage")
        if self.plates is None:
            raise ValidationError("plate search of footage is not configured on this server")
        query = plate_query(plate, max_distance)
        try:
            region = self.plate_profile(profile)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        details = (("plate", query), ("max_distance", str(max_distance)), ("profile", region.name))
        request = _Request(
            JobKind.PLATE, query, self.plate_min_confidence, max_distance, region.name, details
        )
        return self._start(
            actor, request, case_id, authorisation_id, cameras, (start, end), reason, allowed
        )

    def _start(  # noqa: PLR0917 - one request, spelt out for the two public starts
        self,
        actor: Actor,
        request: _Request,
        case_id: str,
        authorisation_id: str,
        cameras: Sequence[str],
        window: tuple[datetime, datetime],
        reason: str,
        allowed: Collection[str] | None,
    ) -> JobRow:
        actor.require(Role.INVESTIGATOR, action="searching recorded footage")
        start, end = window
        cams = tuple(sorted(set(cameras)))
        _check_request(cams, start, end, reason)
        case = self.repo.get_case(case_id)  # NotFoundError for an unknown case
        if case.status != "open":
            raise ConflictError(f"case {case_id} is {case.status}; reopen it first")
        dep = self._authorisation(
            actor,
            authorisation_id,
            reason,
            kind=request.kind,
            cams=cams,
            start=start,
            end=end,
            allowed=allowed,
        )
        total = sum(len(self.segments.window(c, start, end)) for c in cams)
        now = self.clock()
        job = JobRow(
            uuid.uuid4().hex,
            case_id,
            dep.id,
            request.kind.value,
            request.query,
            cams,
            start,
            end,
            request.threshold,
            JobState.RUNNING.value,
            total,
            0,
            actor.id,
            now,
            now,
            max_distance=request.max_distance,
            profile=request.profile,
        )
        with self.repo.db.transaction():
            self.store.add_job(job)
            entry = self.audit.append(
                actor.id,
                AuditAction.SEARCH,
                f"postevent_job:{job.id}",
                reason,
                [
                    ("kind", f"postevent_{request.kind.value}"),
                    ("case", case_id),
                    ("authorisation", dep.id),
                    ("cameras", ",".join(cams)[:200]),
                    ("from", start.isoformat()),
                    ("to", end.isoformat()),
                    ("segments", str(total)),
                    *request.details,
                ],
            )
            # the case lists the search like any other (a "search" link names its audit entry)
            self.repo.link_case(CaseLink(case_id, "search", str(entry.seq), actor.id, now))
        return job

    def _authorisation(
        self,
        actor: Actor,
        authorisation_id: str,
        reason: str,
        *,
        kind: JobKind,
        cams: tuple[str, ...],
        start: datetime,
        end: datetime,
        allowed: Collection[str] | None,
    ) -> DeploymentRow:
        return post_event_authorisation(
            self.repo,
            self.deployments,
            self.audit,
            actor=actor,
            authorisation_id=authorisation_id,
            reason=reason,
            allowed=allowed,
            search=f"postevent_{kind.value}",
            cameras=cams,
            window=(start, end),
        )

    # -- running --------------------------------------------------------------------------
    def run(
        self,
        job_id: str,
        probe: npt.ArrayLike | None = None,
        stop: threading.Event | None = None,
    ) -> JobRow:
        """Scan the job's unfinished segments until done, cancelled or ``stop`` is set (then
        ``paused``). A face job needs its ``probe`` (held only here); a plate job carries its
        query and takes none. Returns the job as it ended."""
        job = self.store.get_job(job_id)
        score, describe = self._scorer(job, probe)
        done = self.store.done_segments(job_id)
        for seg in self._segments(job):
            if seg.id in done:
                continue
            if stop is not None and stop.is_set():
                self.store.set_state(job_id, JobState.PAUSED.value, self.clock())
                return self.store.get_job(job_id)
            if self.store.get_job(job_id).state != JobState.RUNNING.value:
                return self.store.get_job(job_id)  # cancelled meanwhile
            self._scan(job, seg, score, describe)
        if self.store.get_job(job_id).state == JobState.RUNNING.value:
            self.store.set_state(job_id, JobState.DONE.value, self.clock())
        return self.store.get_job(job_id)

    def _scorer(self, job: JobRow, probe: npt.ArrayLike | None) -> tuple[Scorer, _Describe]:
        """The frame scorer of a job and how a hit becomes (score, text) for its result row."""
        if job.kind == JobKind.PLATE.value:
            if self.plates is None:
                raise ValidationError("plate search of footage is not configured on this server")
            profile = self.plate_profile(job.profile)
            if profile.name not in self._readers:
                self._readers[profile.name] = self.plates(profile)
            scorer = PlateScorer(
                self._readers[profile.name],
                job.query,
                profile,
                max_distance=job.max_distance,
                min_confidence=job.threshold,
            )

            def describe_plate(h: FrameHit) -> tuple[float, str | None]:
                read = scorer.take(h.at)
                return read.confidence, read.text

            return scorer, describe_plate
        if probe is None:
            raise ValidationError("a face search needs its probe photo")
        template = np.asarray(probe, np.float32).reshape(-1)
        if template.size == 0 or not np.isfinite(template).all():
            raise ValidationError("the probe must be a finite vector")
        return face_scorer(self.pipeline, template), lambda h: (h.score, None)

    def _segments(self, job: JobRow) -> list[SegmentRow]:
        rows = [
            s for c in job.camera_ids for s in self.segments.window(c, job.start_at, job.end_at)
        ]
        return sorted(rows, key=lambda s: (s.started_at, s.camera_id))

    def _scan(self, job: JobRow, seg: SegmentRow, score: Scorer, describe: _Describe) -> None:
        if job.kind == JobKind.PLATE.value:
            threshold, candidate = PLATE_MATCH, PLATE_CANDIDATE
        else:
            threshold, candidate = job.threshold, min(self.candidate, job.threshold)
        hits, _ = scan_segment(
            self.segments.read(seg),
            seg.started_at,
            score,
            threshold=threshold,
            candidate=candidate,
        )
        results = []
        for h in hits:
            value, text = describe(h)
            if not job.start_at <= h.at <= job.end_at:
                continue
            point = upper = None
            if self.rates is not None and text is None:
                est = self.rates.fpir(h.score, 1)
                point, upper = est.point, est.upper
            results.append(
                ResultRow(
                    uuid.uuid4().hex,
                    job.id,
                    job.case_id,
                    seg.camera_id,
                    seg.id,
                    h.at,
                    value,
                    point,
                    upper,
                    text,
                )
            )
        if isinstance(score, PlateScorer):
            score.forget()
        self.store.finish_segment(job.id, seg.id, results, self.clock())

    # -- control and views ----------------------------------------------------------------
    def cancel(self, actor: Actor, job_id: str, reason: str) -> JobRow:
        """Stop a job for good (audited); its results so far stay with the case."""
        job = self._own(actor, job_id, "cancelling a post-event search")
        if job.state in {JobState.DONE.value, JobState.CANCELLED.value}:
            raise ValidationError(f"job {job_id} is already {job.state}")
        with self.repo.db.transaction():
            self.store.set_state(job_id, JobState.CANCELLED.value, self.clock())
            self.audit.append(
                actor.id,
                AuditAction.SEARCH,
                f"postevent_job:{job_id}",
                reason,
                [("kind", "postevent_cancel")],
            )
        return self.store.get_job(job_id)

    def resume(self, actor: Actor, job_id: str, reason: str) -> JobRow:
        """Mark a paused job running again (audited); the caller then :meth:`run`\\ s it with
        the probe, which was not kept."""
        job = self._own(actor, job_id, "resuming a post-event search")
        if job.state != JobState.PAUSED.value:
            raise ValidationError(f"job {job_id} is {job.state}, not paused")
        with self.repo.db.transaction():
            self.store.set_state(job_id, JobState.RUNNING.value, self.clock())
            self.audit.append(
                actor.id,
                AuditAction.SEARCH,
                f"postevent_job:{job_id}",
                reason,
                [("kind", "postevent_resume")],
            )
        return self.store.get_job(job_id)

    def pause_running(self) -> int:
        """At start-up: jobs left ``running`` by a stopped process become ``paused`` (their
        probes died with it)."""
        jobs = self.store.jobs_in_state(JobState.RUNNING.value, limit=10_000)
        for j in jobs:
            self.store.set_state(j.id, JobState.PAUSED.value, self.clock())
        return len(jobs)

    def view_results(
        self, actor: Actor, job_id: str, reason: str, *, offset: int = 0, limit: int = 500
    ) -> list[ResultRow]:
        """The job's hits so far, oldest first (audited ``search.run`` kind ``postevent_view``)."""
        self._own(actor, job_id, "viewing post-event results")
        with self.repo.db.transaction():
            rows = self.store.results(job_id, offset=offset, limit=limit)
            self.audit.append(
                actor.id,
                AuditAction.SEARCH,
                f"postevent_job:{job_id}",
                reason,
                [("kind", "postevent_view"), ("results", str(len(rows)))],
            )
        return rows

    def view_appearances(
        self, actor: Actor, job_id: str, reason: str, *, via: str = "results"
    ) -> tuple[list[Appearance], list[ResultRow], bool]:
        """The job's hits so far grouped into appearances (:mod:`vigil.governance.appearances`),
        with the hits themselves and whether they were cut at :data:`MAX_GROUPED` (audited
        ``search.run`` kind ``postevent_view``; ``via`` says which page asked)."""
        self._own(actor, job_id, action="viewing post-event results")
        with self.repo.db.transaction():
            rows = self.store.results(job_id, limit=MAX_GROUPED + 1)
            found = group_appearances(rows[:MAX_GROUPED], self.appearance_gap)
            self.audit.append(
                actor.id,
                AuditAction.SEARCH,
                f"postevent_job:{job_id}",
                reason,
                [
                    ("kind", "postevent_view"),
                    ("via", via),
                    ("results", str(min(len(rows), MAX_GROUPED))),
                    ("appearances", str(len(found))),
                ],
            )
        return found, rows[:MAX_GROUPED], len(rows) > MAX_GROUPED

    def _own(self, actor: Actor, job_id: str, action: str) -> JobRow:
        actor.require(Role.INVESTIGATOR, action=action)
        return self.store.get_job(job_id)


_Describe = Callable[[FrameHit], tuple[float, str | None]]


@dataclass(frozen=True, slots=True)
class _Request:
    """What differs between a face and a plate job at its start."""

    kind: JobKind
    query: str
    threshold: float
    max_distance: int
    profile: str | None
    details: tuple[tuple[str, str], ...]


def _check_request(cams: tuple[str, ...], start: datetime, end: datetime, reason: str) -> None:
    if not reason.strip():
        raise ValidationError("a post-event search needs a reason")
    if not cams:
        raise ValidationError("choose at least one camera")
    if len(cams) > MAX_CAMERAS:
        raise ValidationError(f"at most {MAX_CAMERAS} cameras per job, got {len(cams)}")
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("the window's start and end need a time zone")
    if not start < end <= start + MAX_WINDOW:
        raise ValidationError(f"the window must end after it starts and last at most {MAX_WINDOW}")
