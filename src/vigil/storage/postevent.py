"""Post-event search jobs (revision 0018): job rows, per-segment progress, results.

SQL only; the rules (who may start a job, what it may search, what is audited) live in
:mod:`vigil.governance.postevent`. Segment completion and that segment's results are written
in the caller's unit of work, so a job stopped mid-way resumes at the first unfinished segment
without losing or duplicating a result.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from vigil.errors import NotFoundError
from vigil.storage import schema as t
from vigil.storage.database import Database


@dataclass(frozen=True, slots=True)
class JobRow:
    """One post-event search job as stored (``camera_ids`` comma-separated in the table)."""

    id: str
    case_id: str
    authorisation_id: str
    kind: str
    query: str
    camera_ids: tuple[str, ...]
    start_at: datetime
    end_at: datetime
    threshold: float
    state: str
    segments_total: int
    segments_done: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    max_distance: int = 0  # plate jobs: edits a read may be off the query (0 = exact)
    profile: str | None = None  # plate jobs: the region profile whose folding matches

    def __post_init__(self) -> None:
        if not 0 <= self.segments_done <= self.segments_total:
            raise ValueError(f"job {self.id}: segments done outside [0, total]")
        if self.max_distance < 0:
            raise ValueError(f"job {self.id}: negative max_distance")


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One hit of a job: where and when, how strong, and the calibrated false-match rate.

    ``score`` is the cosine score of a face hit, or the read confidence of a plate hit, whose
    ``text`` is what the reader read (``None`` for a face hit)."""

    id: str
    job_id: str
    case_id: str
    camera_id: str
    segment_id: str
    at: datetime
    score: float
    rate_point: float | None
    rate_upper: float | None
    text: str | None = None


_JOB = tuple(f.name for f in fields(JobRow))
_RES = tuple(f.name for f in fields(ResultRow))


def _job(r: Any) -> JobRow:
    values = {n: getattr(r, n) for n in _JOB}
    values["camera_ids"] = tuple(c for c in str(r.camera_ids).split(",") if c)
    return JobRow(**values)


class PostEventStore:
    """Jobs, progress and results over one database (either engine)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add_job(self, job: JobRow) -> None:
        values = {n: getattr(job, n) for n in _JOB}
        values["camera_ids"] = ",".join(job.camera_ids)
        self.db.write(lambda c: c.execute(insert(t.postevent_jobs).values(**values)))

    def get_job(self, job_id: str) -> JobRow:
        col = t.postevent_jobs.c
        with self.db.read() as c:
            r = c.execute(select(t.postevent_jobs).where(col.id == job_id)).first()
        if r is None:
            raise NotFoundError(f"no post-event job {job_id!r}")
        return _job(r)

    def jobs_in_state(self, state: str, limit: int = 100) -> list[JobRow]:
        col = t.postevent_jobs.c
        q = select(t.postevent_jobs).where(col.state == state).order_by(col.created_at)
        with self.db.read() as c:
            return [_job(r) for r in c.execute(q.limit(limit))]

    def set_state(self, job_id: str, state: str, at: datetime) -> None:
        col = t.postevent_jobs.c
        stmt = update(t.postevent_jobs).where(col.id == job_id).values(state=state, updated_at=at)
        self.db.write(lambda c: c.execute(stmt))

    def done_segments(self, job_id: str) -> set[str]:
        col = t.postevent_segments.c
        with self.db.read() as c:
            return set(c.execute(select(col.segment_id).where(col.job_id == job_id)).scalars())

    def finish_segment(
        self, job_id: str, segment_id: str, results: list[ResultRow], at: datetime
    ) -> None:
        """Mark a segment done with its results and bump the job's progress (one write)."""
        seg, job = t.postevent_segments, t.postevent_jobs

        def run(c: Any) -> None:
            c.execute(insert(seg).values(job_id=job_id, segment_id=segment_id, done_at=at))
            if results:
                c.execute(insert(t.postevent_results), [_values(r) for r in results])
            c.execute(
                update(job)
                .where(job.c.id == job_id)
                .values(segments_done=job.c.segments_done + 1, updated_at=at)
            )

        self.db.write(run)

    def results(self, job_id: str, *, offset: int = 0, limit: int = 500) -> list[ResultRow]:
        col = t.postevent_results.c
        q = (
            select(t.postevent_results)
            .where(col.job_id == job_id)
            .order_by(col.at, col.camera_id)
            .offset(offset)
            .limit(limit)
        )
        with self.db.read() as c:
            return [ResultRow(**{n: getattr(r, n) for n in _RES}) for r in c.execute(q)]

    def jobs_of_case(self, case_id: str, limit: int = 100) -> list[JobRow]:
        """The case's jobs, newest first."""
        col = t.postevent_jobs.c
        q = select(t.postevent_jobs).where(col.case_id == case_id)
        with self.db.read() as c:
            return [_job(r) for r in c.execute(q.order_by(col.created_at.desc()).limit(limit))]

    def count_results(self, job_id: str) -> int:
        col = t.postevent_results.c
        with self.db.read() as c:
            q = select(func.count()).select_from(t.postevent_results).where(col.job_id == job_id)
            return int(c.execute(q).scalar_one())


def _values(r: ResultRow) -> dict[str, Any]:
    return {n: getattr(r, n) for n in _RES}
