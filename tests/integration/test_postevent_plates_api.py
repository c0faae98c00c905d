"""The plate side of the post-event search API over real recorded footage (the first pass of
the sought car, :mod:`tests.support.plate_footage`): start (JSON), the worker run, results as
appearances with the read text (hits on request), resume without input, the case page listing
the job and its appearances, refusals with the one error envelope, each view audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.api_env import Env, build_env
from tests.support.governance_world import INVESTIGATOR
from tests.support.plate_footage import SOUGHT, plate_footage, plate_of, plate_runner
from tests.support.recording import index_over, record_file
from vigil.core.domain import Role
from vigil.governance.audit import iter_entries

pytestmark = pytest.mark.models
PLATE_JOBS = "/api/v1/investigations/plate-jobs"
JOBS = "/api/v1/investigations/jobs"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, datetime]]:
    tmp = tmp_path_factory.mktemp("pe-plates-api")
    e = build_env(tmp)
    index = index_over(e.repo.db, tmp / "rec")
    now = datetime.now(UTC)
    record_file(plate_footage(tmp), index, frames=4, segment_s=4.0)  # the first car pass
    auth, _ = plate_runner(e, index, "warrant 9")
    yield e, auth, now
    e.repo.db.dispose()


def _body(auth: str, case: str, now: datetime, **kw: object) -> dict[str, object]:
    body: dict[str, object] = {
        "case_id": case,
        "authorisation_id": auth,
        "plate": plate_of(SOUGHT),
        "cameras": ["cam-1"],
        "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(minutes=30)).isoformat(),
        "reason": "hit and run",
    }
    body.update(kw)
    return body


def test_plate_job_appearances_resume_and_case_page(env: tuple[Env, str, datetime]) -> None:
    e, auth, now = env
    c = e.client(Role.INVESTIGATOR)
    case = c.post("/api/v1/cases", json={"title": "hit and run", "reason": "opened"}).json()["id"]
    r = c.post(PLATE_JOBS, json=_body(auth, case, now))
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "plate" and job["query"] == plate_of(SOUGHT) and job["state"] == "running"
    runner = e.svc.postevent
    assert runner is not None
    runner.search.store.set_state(job["id"], "paused", now)  # as a restart would leave it
    assert runner.run_once()  # the queued run finds it paused and scans nothing
    assert c.get(f"{JOBS}/{job['id']}").json()["segments_done"] == 0
    resumed = c.post(f"{JOBS}/{job['id']}/resume", data={"reason": "after restart"})
    assert resumed.status_code == 202, resumed.text  # a plate job needs no probe again
    assert runner.run_once()
    got = c.get(f"{JOBS}/{job['id']}").json()
    assert got["state"] == "done" and got["segments_done"] == got["segments_total"] >= 1
    res = c.get(f"{JOBS}/{job['id']}/results", params={"reason": "review", "hits": "true"})
    assert res.status_code == 200, res.text
    doc = res.json()
    assert len(doc["appearances"]) == 1, doc["appearances"]
    (a,) = doc["appearances"]
    assert a["best"]["text"] == plate_of(SOUGHT) and a["hits"] == len(doc["hits"]) >= 2
    assert a["clip_url"].startswith("/api/v1/cameras/cam-1/clips?start=")
    assert all(h["text"] and h["false_match_rate"] is None for h in doc["hits"])
    page = c.get(f"/api/v1/cases/{case}").json()
    (listed,) = page["footage_searches"]
    assert listed["job"]["id"] == job["id"] and listed["appearances"] == doc["appearances"]
    views = [
        dict(x.details) for x in iter_entries(e.repo) if x.target == f"postevent_job:{job['id']}"
    ]
    kinds = [v.get("kind") for v in views]
    assert kinds[0] == "postevent_plate" and "postevent_resume" in kinds
    assert {v.get("via") for v in views if v.get("kind") == "postevent_view"} == {"results", "case"}


def test_plate_refusals_and_bad_input(env: tuple[Env, str, datetime]) -> None:
    e, auth, now = env
    c = e.client(Role.INVESTIGATOR)
    case = c.post("/api/v1/cases", json={"title": "x", "reason": "opened"}).json()["id"]
    bad = [
        (_body("nosuch", case, now), 403),
        (_body(auth, case, now, cameras=["cam-2"]), 403),
        (_body(auth, case, now, plate="D*"), 422),
        (_body(auth, case, now, max_distance=3), 422),
        (_body(auth, case, now, profile="atlantis"), 422),
        (_body(auth, case, now, start="2026-01-01T00:00:00"), 422),
        (_body(auth, "nosuchcase", now), 404),
        (_body(auth, case, now, extra="x"), 422),
        ({"plate": "DH7X317"}, 422),
    ]
    for body, status in bad:
        before = len(list(iter_entries(e.repo)))
        r = c.post(PLATE_JOBS, json=body)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()) == {"error"}
        added = [x.action for x in list(iter_entries(e.repo))[before:]]
        # a refusal is audited (the search's own entry, then the API's 403); bad input is not
        assert added == (["search.refused", "access.refused"] if status == 403 else []), body
    assert e.client(Role.OPERATOR).post(PLATE_JOBS, json=_body(auth, case, now)).status_code == 403
    assert c.post(f"{JOBS}/nosuch0/resume", data={"reason": "x" * 5}).status_code == 404
    # a face job cannot resume without its probe photo (it was never stored)
    runner = e.svc.postevent
    assert runner is not None
    face = runner.search.start(
        INVESTIGATOR,
        case_id=case,
        authorisation_id=auth,
        cameras=["cam-1"],
        start=now - timedelta(minutes=1),
        end=now + timedelta(minutes=30),
        reason="face too",
    )
    runner.search.store.set_state(face.id, "paused", now)
    r = c.post(f"{JOBS}/{face.id}/resume", data={"reason": "after restart"})
    assert r.status_code == 422 and "probe" in r.json()["error"]["message"]
    assert runner.search.store.get_job(face.id).state == "paused"
