"""``POST /searches/faces``: retrospective face search through the API, only under an approved
post-event authorisation, bounded by it and by the caller's cameras, audited either way."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.support.api_env import Env, build_env, jpeg
from vigil.core.domain import Role
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.actors import Actor
from vigil.governance.audit import iter_entries
from vigil.governance.deployments import DeploymentKind, DeploymentRequest, Purpose

URL = "/api/v1/searches/faces"
SOUGHT, OTHER = (200, 40, 120), (30, 160, 60)  # two "people" (the fake pipeline hashes pixels)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = build_env(tmp_path)
    assert e.svc.archive_search is not None
    archive = e.svc.archive_search.archive
    now = e.svc.clock()
    for i, (cam, colour) in enumerate(
        [("cam-1", SOUGHT), ("cam-2", SOUGHT), ("cam-1", OTHER), ("cam-2", OTHER)]
    ):
        s = Sighting(f"s{i}", cam, ObjectClass.FACE, now, now, 0.8)
        e.repo.add_sightings([s])
        vec = e.svc.watchlists.probe_template(jpeg(colour))
        (vid,) = e.repo.add_embeddings("fake", [(s.id, vec)], at=now)
        archive.add(np.array([vid]), vec[None, :])
    yield e
    e.repo.db.dispose()


def actor(env: Env, role: Role) -> Actor:
    return Actor.from_user(env.repo.get_user(env.users[role]))


def authorisation(env: Env, *, approve: bool = True) -> str:
    now = env.svc.clock()
    dep = env.svc.deployments.request(
        actor(env, Role.INVESTIGATOR),
        DeploymentRequest(
            Purpose.SERIOUS_CRIME_SUSPECT,
            "warrant 12/2026",
            now - timedelta(minutes=5),
            now + timedelta(hours=1),
            camera_ids=("cam-1", "cam-2"),
            reason="robbery on Main Street",
            kind=DeploymentKind.POST_EVENT,
        ),
    )
    if approve:
        env.svc.deployments.approve(actor(env, Role.AUTHORISING_OFFICER), dep, "proportionate")
    return dep


def search(env: Env, role: Role, dep: str, photo: bytes = b"", **form: str) -> object:
    files = {"photo": ("p.jpg", photo or jpeg(SOUGHT), "image/jpeg")}
    data = {"authorisation_id": dep, "reason": "suspect photo from the victim", **form}
    return env.client(role).post(URL, files=files, data=data)


def test_an_authorised_search_finds_the_person_and_is_audited(env: Env) -> None:
    dep = authorisation(env)
    resp = search(env, Role.INVESTIGATOR, dep, k="2")
    assert resp.status_code == 200, resp.text  # type: ignore[attr-defined]
    hits = resp.json()  # type: ignore[attr-defined]
    assert {h["sighting_id"] for h in hits} == {"s0", "s1"}
    assert all(h["score"] == pytest.approx(1.0, abs=1e-4) for h in hits)
    runs = [e for e in iter_entries(env.repo) if e.action == "search.run"]
    assert len(runs) == 1 and dict(runs[0].details)["results"] == "2"
    assert "suspect photo" in runs[0].reason
    assert env.svc.audit.verify().ok


def test_unapproved_or_wrong_kind_authorisations_are_refused_and_logged(env: Env) -> None:
    pending = authorisation(env, approve=False)
    for dep in (pending, "no-such-authorisation"):
        resp = search(env, Role.INVESTIGATOR, dep)
        assert resp.status_code == 403, resp.text  # type: ignore[attr-defined]
        assert resp.json()["error"]["message"].startswith("archive search refused")  # type: ignore[attr-defined]
    refused = [e for e in iter_entries(env.repo) if e.action == "search.refused"]
    assert len(refused) == 2


def test_only_investigators_may_search(env: Env) -> None:
    dep = authorisation(env)
    for role in (Role.OPERATOR, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN):
        assert search(env, role, dep).status_code == 403  # type: ignore[attr-defined]


def test_bad_probes_get_a_clear_4xx_and_search_nothing(env: Env) -> None:
    dep = authorisation(env)
    c = env.client(Role.INVESTIGATOR)
    form = {"authorisation_id": dep, "reason": "r"}
    not_image = c.post(URL, files={"photo": ("p.txt", b"hello", "text/plain")}, data=form)
    assert not_image.status_code == 415
    corrupt = c.post(URL, files={"photo": ("p.jpg", b"\xff\xd8junk", "image/jpeg")}, data=form)
    assert corrupt.status_code == 400 and "error" in corrupt.json()  # input error
    no_face = search(env, Role.INVESTIGATOR, dep, photo=jpeg((255, 0, 0)))
    assert no_face.status_code == 422  # type: ignore[attr-defined]
    assert "probe photo refused: no face found" in no_face.json()["error"]["message"]  # type: ignore[attr-defined]
    assert search(env, Role.INVESTIGATOR, dep, k="0").status_code == 422  # type: ignore[attr-defined]
    assert c.post(URL, data=form).status_code == 422  # no photo at all
    assert not [e for e in iter_entries(env.repo) if e.action == "search.run"]


def test_a_person_limited_to_some_cameras_sees_only_their_hits(env: Env) -> None:
    dep = authorisation(env)
    env.svc.accounts.assign_cameras(env.users[Role.INVESTIGATOR], ["cam-2"])
    hits = search(env, Role.INVESTIGATOR, dep, k="2").json()  # type: ignore[attr-defined]
    # The search runs within their cameras, so k hits come from them (the sought face first),
    # rather than the city-wide best k cut down to fewer.
    assert [h["sighting_id"] for h in hits] == ["s1", "s3"]
    assert {h["camera_id"] for h in hits} == {"cam-2"}


def test_no_archive_is_a_503_not_a_crash(env: Env) -> None:
    env.svc.archive_search = None
    resp = search(env, Role.INVESTIGATOR, authorisation(env))
    assert resp.status_code == 503  # type: ignore[attr-defined]
    assert resp.json()["error"]["code"] == "archive_unavailable"  # type: ignore[attr-defined]
