"""Appearances: the hits of one footage-search job grouped into visits to one camera.

A post-event job stores one hit per analysed frame that matched (see
:mod:`vigil.governance.postevent`); a person walking past a camera for ten seconds yields dozens.
What an investigator reviews is the *appearance*: consecutive hits on one camera no more than
``gap`` apart, with its first and last time, the hit count, the best hit (highest face score, or
the most confident plate read and its text) and one clip spanning it (``pad`` either side).

Computed from the stored hits each time they are read, not stored. Trade-off: a view of a job
with many hits re-groups them (linear after the sort, a few milliseconds for thousands of
hits), but there is no second table to keep consistent when a paused job resumes and a new
segment's hits extend an appearance found before the pause, and a changed gap applies to every
job at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.storage.postevent import ResultRow


def clip_span_url(camera_id: str, start: datetime, end: datetime) -> str:
    """The recordings API's clip of ``camera_id`` over ``[start, end]``."""
    a, b = start.isoformat(), end.isoformat()
    return f"/api/v1/cameras/{camera_id}/clips?start={a}&end={b}".replace("+", "%2B")


@dataclass(frozen=True, slots=True)
class Appearance:
    """One visit of the sought person or vehicle to one camera (module doc)."""

    camera_id: str
    first_at: datetime
    last_at: datetime
    hits: int
    best: ResultRow

    def __post_init__(self) -> None:
        if self.hits < 1:
            raise ValueError("an appearance holds at least one hit")
        if self.last_at < self.first_at:
            raise ValueError("an appearance ends before it starts")

    def clip_url(self, pad: timedelta) -> str:
        return clip_span_url(self.camera_id, self.first_at - pad, self.last_at + pad)


def group_appearances(hits: Iterable[ResultRow], gap: timedelta) -> list[Appearance]:
    """Group hits into appearances: per camera, a hit more than ``gap`` after the previous one
    starts a new appearance. Returned in time order (ties by camera).

    Every hit is in exactly one appearance; two appearances of one camera are separated by
    more than ``gap`` (the property test ``tests/unit/test_appearances.py`` holds this).
    """
    if gap <= timedelta(0):
        raise ValueError(f"the gap must be positive, got {gap}")
    out: list[Appearance] = []
    ordered = sorted(hits, key=lambda h: (h.camera_id, h.at, h.id))
    run: list[ResultRow] = []
    for h in ordered:
        if run and (h.camera_id != run[-1].camera_id or h.at - run[-1].at > gap):
            out.append(_close(run))
            run = []
        run.append(h)
    if run:
        out.append(_close(run))
    return sorted(out, key=lambda a: (a.first_at, a.camera_id))


def _close(run: list[ResultRow]) -> Appearance:
    best = max(run, key=lambda h: (h.score, -h.at.timestamp()))
    return Appearance(run[0].camera_id, run[0].at, run[-1].at, len(run), best)
