"""Post-event plate search over real recorded footage (issue 19, item 1, plates).

Real OpenALPR car photos (the sought car ``DH7X317`` twice, a bystander ``5LTA600`` between,
:mod:`tests.support.plate_footage`) are recorded through the real recorder and searched with the
live path's plate reading (NanoDet vehicle boxes, PP-OCR). Checks: both appearances of the sought
car are found and grouped, the bystander is not reported, the read text and confidence are
kept, a folded query (``DH7X3I7`` for ``DH7X317``) finds it too, pause and resume need nothing
given again, and the same authorisation refusals as the face search (audited).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from tests.support.evidence import face_pipeline
from tests.support.governance_world import INVESTIGATOR, World, post_event
from tests.support.plate_footage import BYSTANDER, SECONDS, SOUGHT, plate_footage, plate_of, spans
from tests.support.postevent import recorded_case
from vigil.config import VigilConfig
from vigil.config.settings import FacesConfig
from vigil.errors import PolicyViolationError, ValidationError
from vigil.governance.appearances import group_appearances
from vigil.governance.audit import iter_entries
from vigil.governance.postevent import PostEventSearch
from vigil.recording.index import SegmentIndex
from vigil.storage.postevent import PostEventStore
from vigil.system.plates import profile_from_config
from vigil.system.postevent import plate_frame_reader

pytestmark = pytest.mark.models


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
    tmp = tmp_path_factory.mktemp("postevent-plates")
    rc = recorded_case(tmp, plate_footage(tmp), title="hit and run", frames=SECONDS, segment_s=4.0)
    w, db, index, auth, case, segs = rc.world, rc.db, rc.index, rc.auth, rc.case, rc.segments
    cfg = VigilConfig()
    search = PostEventSearch(
        w.repo,
        PostEventStore(db),
        index,
        w.audit,
        w.deployments,
        face_pipeline(),
        threshold=FacesConfig().identification.threshold,
        plates=lambda profile: plate_frame_reader(cfg, profile),
        plate_profile=lambda name: profile_from_config(cfg.plates, name),
        plate_min_confidence=cfg.plates.min_confidence,
    )
    yield Setup(w, index, search, auth, case, segs[0].started_at, segs[-1].ended_at)
    db.dispose()


def _start(s: Setup, **kw: object) -> str:
    args: dict[str, object] = {
        "case_id": s.case,
        "authorisation_id": s.auth,
        "plate": plate_of(SOUGHT),
        "cameras": ["cam-1"],
        "start": s.anchor - timedelta(seconds=1),
        "end": s.anchor + timedelta(minutes=5),
        "reason": "hit and run, white car",
    }
    args.update(kw)
    return s.search.start_plate(INVESTIGATOR, **args).id  # type: ignore[arg-type]


def _second(s: Setup, at: datetime) -> float:
    return (at - s.anchor).total_seconds()


@pytest.fixture(scope="module")
def finished(setup: Setup) -> str:
    """One plate job run to the end (the expensive part, shared by the checks below)."""
    job_id = _start(setup)
    job = setup.search.run(job_id)
    assert job.state == "done" and job.segments_done == job.segments_total >= 3
    return job_id


@pytest.mark.slow  # the whole 21 s of footage: 50-90 s of plate reading on 2 shared cores
def test_finds_both_appearances_of_the_car_and_not_the_other(setup: Setup, finished: str) -> None:
    rows = setup.search.view_results(INVESTIGATOR, finished, "review")
    wanted, other = plate_of(SOUGHT), plate_of(BYSTANDER)
    assert rows, "no hit at all"
    for r in rows:
        t = _second(setup, r.at)
        assert any(a - 0.3 <= t < b + 0.3 for a, b in spans(SOUGHT)), f"hit at {t:.2f}s: {r}"
        assert r.text is not None and r.text != other and r.camera_id == "cam-1"
        assert 0.2 <= r.score <= 1.0 and r.rate_point is None
    assert any(r.text == wanted for r in rows), f"never read exactly: {[r.text for r in rows]}"
    found = group_appearances(rows, timedelta(seconds=3))
    assert len(found) == len(spans(SOUGHT)) == 2, [(a.first_at, a.last_at) for a in found]
    for a, (first, last) in zip(found, spans(SOUGHT), strict=True):
        assert first - 0.3 <= _second(setup, a.first_at) <= _second(setup, a.last_at) < last + 0.3
        assert a.hits >= 2, f"one frame only: the dense pass did not look around {a.best}"
    kinds = [dict(e.details).get("kind") for e in iter_entries(setup.world.repo)]
    assert "postevent_plate" in kinds and "postevent_view" in kinds
    started = next(
        e for e in iter_entries(setup.world.repo) if e.target == f"postevent_job:{finished}"
    )
    assert dict(started.details)["plate"] == wanted
    links = setup.world.repo.case_links(setup.case)
    assert ("search", str(started.seq)) in {(lk.kind, lk.target_id) for lk in links}


class _StopAfter(threading.Event):
    """A stop event that reads as set from its ``n``-th check on (a shutdown mid-job)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.left = n

    def is_set(self) -> bool:
        self.left -= 1
        return self.left < 0


def test_folded_query_pause_and_resume_without_input(setup: Setup) -> None:
    # I for 1 is a confusable fold (as the stored-read plate search folds): still the same car
    # a window over the first pass only (two segments): a pause after one, then the other
    end = setup.anchor + timedelta(seconds=spans(SOUGHT)[0][1] + 2)
    job_id = _start(setup, plate=plate_of(SOUGHT).replace("1", "I"), end=end)
    assert setup.search.store.get_job(job_id).segments_total == 2
    paused = setup.search.run(job_id, stop=_StopAfter(1))
    assert paused.state == "paused" and paused.segments_done == 1
    setup.search.resume(INVESTIGATOR, job_id, "restart after maintenance")
    done = setup.search.run(job_id)  # the query is stored: nothing to give again
    assert done.state == "done" and done.segments_done == done.segments_total
    rows = setup.search.store.results(job_id)
    (first, last), wanted = spans(SOUGHT)[0], plate_of(SOUGHT)
    assert rows and all(first - 0.3 <= _second(setup, r.at) < last + 0.3 for r in rows)
    assert len({r.at for r in rows}) == len(rows)  # the resumed segment added no duplicate
    found = group_appearances(rows, timedelta(seconds=3))
    assert len(found) == 1 and found[0].best.text == wanted, [(a.hits, a.best) for a in found]


@pytest.mark.parametrize(
    ("change", "error", "why"),
    [
        ({"authorisation_id": "nope"}, PolicyViolationError, "no authorisation"),
        ({"cameras": ["cam-9"]}, PolicyViolationError, "outside the authorisation"),
        ({"plate": "D*"}, ValidationError, "fixed character"),
        ({"plate": "DH7X317", "max_distance": 3}, ValidationError, "max_distance"),
        ({"profile": "atlantis"}, ValidationError, "atlantis"),
        ({"reason": " "}, ValidationError, "reason"),
    ],
)
def test_refusals_and_bad_input(
    setup: Setup, change: dict[str, object], error: type[Exception], why: str
) -> None:
    before = len(list(iter_entries(setup.world.repo)))
    with pytest.raises(error, match=why):
        _start(setup, **change)
    last = [str(e.action) for e in list(iter_entries(setup.world.repo))[before:]]
    assert last == (["search.refused"] if error is PolicyViolationError else [])


def test_unapproved_authorisation_refused(setup: Setup) -> None:
    pending = post_event(setup.world, ("cam-1",))
    with pytest.raises(PolicyViolationError, match="not approved"):
        _start(setup, authorisation_id=pending)
