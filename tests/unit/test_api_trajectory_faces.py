"""``POST /trajectories/faces``: a person followed from a sighting with a stored template, only
under an approved post-event authorisation, hops judged at the walking speed; a sighting whose
template was deleted cannot be followed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.support.api_env import Env, build_env, jpeg
from vigil.core.domain import CameraRow, Role
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.actors import Actor
from vigil.governance.audit import iter_entries
from vigil.governance.deployments import DeploymentKind, DeploymentRequest, Purpose

URL = "/api/v1/trajectories/faces"
SOUGHT, OTHER = (200, 40, 120), (30, 160, 60)  # two "people" (the fake pipeline hashes pixels)
# sighting -> camera, seconds after now, person; cam-2 is 100 m east of cam-1
PLAN = {
    "s0": ("cam-1", 0, SOUGHT),
    "s1": ("cam-2", 60, SOUGHT),  # 100 m in 60 s: a walk
    "s2": ("cam-1", 65, SOUGHT),  # back in 5 s: 20 m/s, no walker
    "s3": ("cam-2", 30, OTHER),
}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = build_env(tmp_path)
    assert e.svc.archive_search is not None
    archive = e.svc.archive_search.archive
    now = e.svc.clock()
    for cam, x in (("cam-1", 0.0), ("cam-2", 100.0)):
        e.repo.upsert_camera(CameraRow(cam, cam, "file:///x", now, plan_x=x, plan_y=0.0))
    for sid, (cam, dt, colour) in PLAN.items():
        at = now + timedelta(seconds=dt)
        e.repo.add_sightings([Sighting(sid, cam, ObjectClass.FACE, at, at, 0.8)])
        vec = e.svc.watchlists.probe_template(jpeg(colour))
        (vid,) = e.repo.add_embeddings("fake", [(sid, vec)], at=now)
        archive.add(np.array([vid]), vec[None, :])
    e.repo.add_sightings([Sighting("s9", "cam-1", ObjectClass.FACE, now, now, 0.8)])  # no template
    yield e
    e.repo.db.dispose()


def authorisation(env: Env, *, approve: bool = True) -> str:
    now = env.svc.clock()
    inv = Actor.from_user(env.repo.get_user(env.users[Role.INVESTIGATOR]))
    dep = env.svc.deployments.request(
        inv,
        DeploymentRequest(
            Purpose.SERIOUS_CRIME_SUSPECT,
            "warrant 19/2026",
            now - timedelta(minutes=5),
            now + timedelta(hours=1),
            camera_ids=("cam-1", "cam-2"),
            reason="assault at the station",
            kind=DeploymentKind.POST_EVENT,
        ),
    )
    if approve:
        officer = Actor.from_user(env.repo.get_user(env.users[Role.AUTHORISING_OFFICER]))
        env.svc.deployments.approve(officer, dep, "proportionate")
    return dep


def body(dep: str, **change: object) -> dict[str, object]:
    return {
        "sighting_id": "s0",
        "authorisation_id": dep,
        "reason": "suspect seen at cam-1",
        "min_score": 0.9,
    } | change


def test_the_person_is_followed_and_the_too_fast_hop_is_flagged(env: Env) -> None:
    r = env.client(Role.INVESTIGATOR).post(URL, json=body(authorisation(env)))
    assert r.status_code == 200, r.text
    out = r.json()
    assert [v["read_ids"] for v in out["visits"]] == [["s0"], ["s1"], ["s2"]]  # not s3
    assert [h["check"] for h in out["hops"]] == ["plausible", "implausible"]
    assert out["hops"][0]["distance_m"] == pytest.approx(100.0) and out["flagged"] == 1
    assert set(out["scores"]) == {"s0", "s1", "s2"} and min(out["scores"].values()) >= 0.9
    runs = [e for e in iter_entries(env.repo) if e.action == "search.run"]
    assert dict(runs[-1].details)["kind"] == "archive_face"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"sighting_id": "s9"}, 404, "not_found"),  # its template was never kept
        ({"sighting_id": "nope"}, 404, "not_found"),
        ({"min_score": 0}, 422, "invalid_request"),
        ({"min_score": 1.5}, 422, "invalid_request"),
        ({"authorisation_id": "unknown"}, 403, None),
    ],
)
def test_bad_requests_are_refused_with_the_envelope(
    env: Env, change: dict[str, object], status: int, code: str | None
) -> None:
    r = env.client(Role.INVESTIGATOR).post(URL, json=body(authorisation(env), **change))
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}
    if code:
        assert r.json()["error"]["code"] == code


def test_an_unapproved_authorisation_is_refused_and_audited(env: Env) -> None:
    r = env.client(Role.INVESTIGATOR).post(URL, json=body(authorisation(env, approve=False)))
    assert r.status_code == 403
    assert any(e.action == "search.refused" for e in iter_entries(env.repo))
    assert env.client(Role.OPERATOR).post(URL, json=body("x")).status_code == 403


def test_min_score_defaults_to_the_calibrated_threshold_and_hops_carry_rates(env: Env) -> None:
    """Without ``min_score`` the calibration's threshold applies; each matched visit and each
    hop carries the one-comparison false-match rate of its score, as an alert's does."""
    from vigil.config.settings import PACKAGED_CALIBRATION
    from vigil.identification.calibration import FalseAlertModel

    model = FalseAlertModel.from_file(PACKAGED_CALIBRATION)  # the env's configured file
    payload = body(authorisation(env))
    del payload["min_score"]
    r = env.client(Role.INVESTIGATOR).post(URL, json=payload)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["min_score"] == pytest.approx(model.threshold)
    assert [v["read_ids"] for v in out["visits"]] == [["s0"], ["s1"], ["s2"]]
    anchor, *matched = out["visits"]
    assert anchor["score"] is None and anchor["false_match_rate_upper"] is None
    for v in matched:
        want = model.fpir(v["score"], 1)
        assert v["false_match_rate"] == pytest.approx(want.point)
        assert v["false_match_rate_upper"] == pytest.approx(want.upper)
        assert v["false_match_rate"] <= v["false_match_rate_upper"]
    for h in out["hops"]:  # the weaker end (the anchor's visit is the reference, not a match)
        ends = [out["visits"][i]["score"] for i in (h["index"], h["index"] + 1)]
        assert h["score"] == min(e for e in ends if e is not None)
        assert h["false_match_rate_upper"] == pytest.approx(model.fpir(h["score"], 1).upper)
