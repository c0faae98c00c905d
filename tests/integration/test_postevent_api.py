"""The post-event search API over real recorded footage: start (multipart probe), progress,
results with clip URLs and rates, cancel, role and camera scope, bad input, each audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.api_env import Env, build_env, jpeg
from tests.support.postevent import authorised_runner, scheduled_clip
from tests.support.recording import index_over, record_file
from vigil.config.settings import FacesConfig
from vigil.core.domain import Role
from vigil.governance.audit import iter_entries
from vigil.models.installer import model_path
from vigil.storage.postevent import PostEventStore

JOBS = "/api/v1/investigations/jobs"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, datetime]]:
    tmp = tmp_path_factory.mktemp("pe-api")
    e = build_env(tmp)
    index = index_over(e.repo.db, tmp / "rec")
    clip = scheduled_clip(tmp)
    now = datetime.now(UTC)
    record_file(clip, index, frames=7, segment_s=2.0)
    auth, _runner = authorised_runner(e, index, "warrant 7")
    yield e, auth, now
    e.repo.db.dispose()


def _form(auth: str, case: str, now: datetime, **kw: str) -> dict[str, str]:
    form = {
        "case_id": case,
        "authorisation_id": auth,
        "cameras": "cam-1",
        "start": (now - timedelta(minutes=1)).isoformat(),
        "end": (now + timedelta(minutes=30)).isoformat(),
        "reason": "robbery suspect",
    }
    form.update(kw)
    return form


def _photo() -> dict[str, tuple[str, bytes, str]]:
    return {"probe": ("p.jpg", model_path("demo-obama").read_bytes(), "image/jpeg")}


def test_start_run_progress_results_cancel(env: tuple[Env, str, datetime]) -> None:
    e, auth, now = env
    c = e.client(Role.INVESTIGATOR)
    case = c.post("/api/v1/cases", json={"title": "robbery", "reason": "opened"}).json()["id"]
    r = c.post(JOBS, data=_form(auth, case, now), files=_photo())
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "running" and job["segments_total"] >= 3
    assert e.svc.postevent is not None and e.svc.postevent.run_once()
    got = c.get(f"{JOBS}/{job['id']}").json()
    assert got["state"] == "done" and got["segments_done"] == got["segments_total"]
    res = c.get(f"{JOBS}/{job['id']}/results", params={"reason": "review hits", "hits": "true"})
    assert res.status_code == 200 and res.json()["hits"], res.text
    hit = res.json()["hits"][0]
    assert hit["camera_id"] == "cam-1" and hit["clip_url"].startswith("/api/v1/cameras/cam-1/")
    assert hit["score"] >= FacesConfig().identification.threshold and hit["text"] is None
    # the hits grouped into appearances: every hit counted once, each with one spanning clip
    found = res.json()["appearances"]
    assert found and sum(a["hits"] for a in found) == len(res.json()["hits"])
    assert all(a["clip_url"].startswith("/api/v1/cameras/cam-1/clips?") for a in found)
    plain = c.get(f"{JOBS}/{job['id']}/results", params={"reason": "review"}).json()
    assert plain["hits"] is None and plain["appearances"] == found
    again = c.post(f"{JOBS}/{job['id']}/cancel", params={"reason": "done already"})
    assert again.status_code == 422 and again.json()["error"]["message"].endswith("done")
    kinds = [dict(x.details).get("kind") for x in iter_entries(e.repo)]
    assert {"postevent_face", "postevent_view"} <= set(kinds)


def test_refusals_and_bad_input(env: tuple[Env, str, datetime]) -> None:
    e, auth, now = env
    c = e.client(Role.INVESTIGATOR)
    case = c.post("/api/v1/cases", json={"title": "robbery", "reason": "opened"}).json()["id"]
    bad = [
        (_form("nosuch", case, now), _photo(), 403),
        (_form(auth, case, now, cameras="cam-2"), _photo(), 403),
        (_form(auth, case, now, cameras="cam-9"), _photo(), 422),
        (_form(auth, case, now, start="2026-01-01T00:00:00"), _photo(), 422),
        (_form(auth, "nosuchcase", now), _photo(), 404),
        (_form(auth, case, now), {"probe": ("p.txt", b"hello", "text/plain")}, 415),
        (_form(auth, case, now), {"probe": ("p.jpg", jpeg(), "image/jpeg")}, 422),
        (_form(auth, case, now), {"probe": ("p.jpg", b"\xff\xd8garbage", "image/jpeg")}, 400),
    ]
    for form, files, status in bad:
        r = c.post(JOBS, data=form, files=files)
        assert r.status_code == status, (form, r.text)
        assert set(r.json()) == {"error"}  # the one error envelope
    op = e.client(Role.OPERATOR).post(JOBS, data=_form(auth, case, now), files=_photo())
    assert op.status_code == 403
    assert c.get(f"{JOBS}/nosuch0").status_code == 404
    assert e.repo.db is not None and not PostEventStore(e.repo.db).jobs_in_state("running")


def test_unconfigured_server_answers_404(tmp_path: Path) -> None:
    """A server without the runner answers 404 with the envelope, not a crash."""
    e = build_env(tmp_path)
    e.svc.postevent = None
    r = e.client(Role.INVESTIGATOR).get(f"{JOBS}/abc")
    assert r.status_code == 404 and "not configured" in r.json()["error"]["message"]
    e.repo.db.dispose()
