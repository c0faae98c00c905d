"""Post-event face search over real recorded footage (issue 19, item 1).

The footage is built from OpenCV's real pedestrian clip with real face photos at known seconds
(:mod:`tests.support.postevent`), recorded through the real recorder, and searched with a probe
made from a *different* photo of the probe person. Checks: recall of the probe person's seconds
at the configured (calibrated) threshold, no bystander reported, progress, cancel and resume
(per-segment state), audit entries, refusals and bad input.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.support.evidence import embed_photo, face_pipeline
from tests.support.governance_world import (
    INVESTIGATOR,
    OPERATOR,
    World,
    post_event,
)
from tests.support.postevent import (
    PROBE_PERSON,
    SCHEDULE,
    recorded_case,
    scheduled_clip,
    subject_seconds,
)
from vigil.config.settings import FacesConfig
from vigil.core.domain import CaseRow
from vigil.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
    ValidationError,
)
from vigil.governance.audit import iter_entries
from vigil.governance.postevent import PostEventSearch, clip_url, probe_template
from vigil.recording.index import SegmentIndex
from vigil.storage.postevent import PostEventStore

THRESHOLD = FacesConfig().identification.threshold


@dataclass
class Setup:
    world: World
    index: SegmentIndex
    search: PostEventSearch
    auth: str
    case: str
    anchor: datetime
    end: datetime


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("postevent")
    rc = recorded_case(tmp, scheduled_clip(tmp), title="robbery", frames=7, segment_s=2.0)
    w, db, index, auth, case, segs = rc.world, rc.db, rc.index, rc.auth, rc.case, rc.segments
    search = PostEventSearch(
        w.repo,
        PostEventStore(db),
        index,
        w.audit,
        w.deployments,
        face_pipeline(),
        threshold=THRESHOLD,
    )
    yield Setup(w, index, search, auth, case, segs[0].started_at, segs[-1].ended_at)
    db.dispose()


def _start(s: Setup, **kw: object) -> str:
    args: dict[str, object] = {
        "case_id": s.case,
        "authorisation_id": s.auth,
        "cameras": ["cam-1"],
        "start": s.anchor - timedelta(seconds=1),
        "end": s.anchor + timedelta(minutes=5),
        "reason": "robbery suspect",
    }
    args.update(kw)
    return s.search.start(INVESTIGATOR, **args).id  # type: ignore[arg-type]


def _probe() -> np.ndarray:
    return embed_photo("demo-obama")


def test_recall_of_probe_person_and_no_bystander(setup: Setup) -> None:
    job_id = _start(setup)
    job = setup.search.run(job_id, _probe())
    assert job.state == "done" and job.segments_done == job.segments_total >= 3
    rows = setup.search.view_results(INVESTIGATOR, job_id, "review")
    assert rows, "no hit at all"
    recorded = int((setup.end - setup.anchor).total_seconds())
    wanted = {sec for sec in subject_seconds() if sec < recorded}
    spans = [(a, b) for name, a, b, _ in SCHEDULE if name in PROBE_PERSON]
    found = set()
    for r in rows:
        t = (r.at - setup.anchor).total_seconds()
        assert any(a - 0.05 <= t < b + 0.05 for a, b in spans), f"bystander reported at {t:.1f}s"
        assert r.score >= THRESHOLD and r.camera_id == "cam-1" and r.case_id == setup.case
        found.add(int(t + 0.05))
    recall = len(found & wanted) / len(wanted)
    assert recall >= 0.95, f"recall {recall:.2f} of seconds {sorted(wanted)}; found {sorted(found)}"
    url = clip_url(rows[0].camera_id, rows[0].at)
    assert url.startswith("/api/v1/cameras/cam-1/clips?start=") and "%2B00:00" in url
    kinds = [dict(e.details).get("kind") for e in iter_entries(setup.world.repo)]
    assert "postevent_face" in kinds and "postevent_view" in kinds
    started = next(
        e for e in iter_entries(setup.world.repo) if e.target == f"postevent_job:{job_id}"
    )
    links = setup.world.repo.case_links(setup.case)
    assert ("search", str(started.seq)) in {(lk.kind, lk.target_id) for lk in links}
    entries = [e for e in iter_entries(setup.world.repo) if e.target == f"postevent_job:{job_id}"]
    assert all("probe" not in str(e.details).lower() for e in entries)


class _StopAfter(threading.Event):
    """A stop event that reads as set from its ``n``-th check on (a shutdown mid-job)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_pause_resume_and_cancel(setup: Setup) -> None:
    job_id = _start(setup)
    paused = setup.search.run(job_id, _probe(), stop=_StopAfter(1))
    assert paused.state == "paused" and paused.segments_done == 1
    first = setup.search.store.count_results(job_id)
    setup.search.resume(INVESTIGATOR, job_id, "restart after maintenance")
    done = setup.search.run(job_id, _probe())
    assert done.state == "done" and done.segments_done == done.segments_total
    assert setup.search.store.count_results(job_id) >= first
    with pytest.raises(ValidationError, match="not paused"):
        setup.search.resume(INVESTIGATOR, job_id, "again")
    # a second job, cancelled before it runs, scans nothing
    other = _start(setup)
    setup.search.cancel(INVESTIGATOR, other, "wrong window")
    assert setup.search.run(other, _probe()).segments_done == 0
    with pytest.raises(ValidationError, match="already cancelled"):
        setup.search.cancel(INVESTIGATOR, other, "twice")
    kinds = [dict(e.details).get("kind") for e in iter_entries(setup.world.repo)]
    assert "postevent_cancel" in kinds and "postevent_resume" in kinds


def test_restart_pauses_running_jobs(setup: Setup) -> None:
    job_id = _start(setup)
    assert setup.search.pause_running() >= 1
    assert setup.search.store.get_job(job_id).state == "paused"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"authorisation_id": "nope"}, "no authorisation"),
        ({"cameras": ["cam-9"]}, "outside the authorisation"),
        ({"end": datetime.now(UTC) + timedelta(days=2)}, "time bounds"),
    ],
)
def test_refusals_are_audited(setup: Setup, change: dict[str, object], why: str) -> None:
    before = len(list(iter_entries(setup.world.repo)))
    with pytest.raises(PolicyViolationError, match=why):
        _start(setup, **change)
    last = list(iter_entries(setup.world.repo))[before:]
    assert [str(e.action) for e in last] == ["search.refused"]


def test_unapproved_and_outside_scope_refused(setup: Setup) -> None:
    pending = post_event(setup.world, ("cam-1",))
    with pytest.raises(PolicyViolationError, match="not approved"):
        _start(setup, authorisation_id=pending)
    with pytest.raises(PolicyViolationError, match="no authorisation"):
        setup.search.start(
            INVESTIGATOR,
            case_id=setup.case,
            authorisation_id=setup.auth,
            cameras=["cam-1"],
            start=setup.anchor,
            end=setup.anchor + timedelta(minutes=1),
            reason="x",
            allowed={"cam-7"},
        )
    with pytest.raises(PermissionDeniedError):
        setup.search.start(
            OPERATOR,
            case_id=setup.case,
            authorisation_id=setup.auth,
            cameras=["cam-1"],
            start=setup.anchor,
            end=setup.anchor + timedelta(minutes=1),
            reason="x",
        )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"reason": "  "}, ValidationError),
        ({"cameras": []}, ValidationError),
        ({"start": datetime(2026, 1, 1)}, ValidationError),
        ({"case_id": "no-such-case"}, NotFoundError),
    ],
)
def test_bad_requests(setup: Setup, change: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        _start(setup, **change)


def test_bad_probes(setup: Setup, tmp_path: Path) -> None:
    job_id = _start(setup)
    with pytest.raises(ValidationError, match="finite"):
        setup.search.run(job_id, np.array([np.nan, 1.0], np.float32))
    blank = np.full((240, 320, 3), 127, np.uint8)
    with pytest.raises(ValidationError, match="no face"):
        probe_template(face_pipeline(), blank)
    assert setup.search.store.get_job(job_id).segments_done == 0


def test_closed_case_takes_no_search(setup: Setup) -> None:
    closed = uuid.uuid4().hex
    setup.world.repo.add_case(
        CaseRow(closed, "old", INVESTIGATOR.id, setup.world.clock(), status="closed")
    )
    with pytest.raises(ConflictError, match="closed"):
        _start(setup, case_id=closed)
    assert setup.world.repo.case_links(closed) == []
