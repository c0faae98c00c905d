"""Issue 19: a person followed across cameras by their face, on real footage through the real
pipeline (the face analogue of ``test_trajectory_plates.py``).

Three cameras replay real pedestrian footage (OpenCV's ``vtest.avi``) with the same real person
composited in (three *different* LFW photos of Vladimir Putin, one per camera) and, on the
middle camera, another real person (Hugo Chavez) a few seconds later. Each clip goes through
the real camera source (PyAV), YuNet, the configured face embedder, the face tracker, the
deployment authority and the identification recorder, as ``vigil run`` does, under an approved
post-event search authorisation: every face track is archived (sighting, template, FAISS
archive). The cameras sit on a site plan so that cam-a -> cam-b (300 m in about 3 minutes) is a
walk and cam-b -> cam-c (5 km in about a minute) is not. From the cam-a sighting, the face
trajectory route (default ``min_score``: the calibrated threshold) must list the three visits
in order, flag the second hop and keep it, leave the other person out, and carry each match's
calibrated false-match rate.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.api_env import Env, build_env, config
from tests.support.evidence import face_pipeline
from tests.support.postevent_cast import Appearance, composite_clip, photos_of
from vigil.config import VigilConfig
from vigil.config.settings import PACKAGED_CALIBRATION, FacesConfig
from vigil.core import FrameRef
from vigil.core.domain import CameraRow, Role
from vigil.governance.actors import Actor
from vigil.governance.audit import iter_entries
from vigil.governance.deployments import DeploymentKind, DeploymentRequest, Purpose
from vigil.governance.recorder import IdentificationRecorder
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.live import FaceIdentifier
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec
from vigil.system.governance import embedding_dim
from vigil.system.identification import CameraIdentification, DeploymentAuthority

pytestmark = [pytest.mark.models, pytest.mark.data]
URL = "/api/v1/trajectories/faces"
PERSON, OTHER = "Vladimir_Putin", "Hugo_Chavez"
SECONDS = 6  # each camera's clip
# camera -> (plan x metres, seconds after the first clip starts, (person, on, off) on screen)
PLAN = {
    "cam-a": (0.0, 0, ((PERSON, 1, 4),)),
    "cam-b": (300.0, 180, ((PERSON, 1, 3), (OTHER, 4, 6))),  # 300 m in ~3 min: a walk
    "cam-c": (5300.0, 240, ((PERSON, 1, 4),)),  # 5 km in ~1 min: nobody walks that
}


@dataclass
class World:
    env: Env
    authorisation: str
    sightings: dict[str, list[tuple[str, datetime]]]  # camera -> (sighting id, start)


def _clips(folder: Path) -> dict[str, Path]:
    mine = iter(photos_of(PERSON, 3))
    other = photos_of(OTHER, 1)[0]
    out = {}
    for cam, (_, _, shown) in PLAN.items():
        apps = [
            Appearance(p, next(mine) if p == PERSON else other, cam, a, b, 0.45, p == PERSON)
            for p, a, b in shown
        ]
        out[cam] = composite_clip(folder / f"{cam}.mp4", apps, SECONDS, first=100)
    return out


def _authorise(env: Env, start: datetime) -> str:
    inv = Actor.from_user(env.repo.get_user(env.users[Role.INVESTIGATOR]))
    officer = Actor.from_user(env.repo.get_user(env.users[Role.AUTHORISING_OFFICER]))
    dep = env.svc.deployments.request(
        inv,
        DeploymentRequest(
            Purpose.SERIOUS_CRIME_SUSPECT,
            "warrant 19/2026",
            start,
            start + timedelta(hours=1),
            camera_ids=tuple(PLAN),
            reason="assault at the station",
            kind=DeploymentKind.POST_EVENT,
        ),
    )
    env.svc.deployments.approve(officer, dep, "proportionate")
    return dep


def _replay(env: Env, camera: str, clip: Path, start: datetime) -> None:
    """The clip through the real source and the camera's identification, as the assembly
    wires it (deployment authority -> pure identifier -> recorder with the archive)."""
    ident = FacesConfig().identification
    authority = DeploymentAuthority(
        env.svc.deployments,
        env.repo,
        FalseAlertModel.from_file(PACKAGED_CALIBRATION),
        ident.threshold,
    )
    recorder = IdentificationRecorder(
        env.repo, env.svc.media, env.svc.audit, archive=env.svc.archive
    )
    live = CameraIdentification(FaceIdentifier(camera, face_pipeline()), authority, recorder)
    source = AVSource(SourceSpec(camera, str(clip), "file", fps=5.0, decode_mode="all"))
    for n, raw in enumerate(source.frames(threading.Event())):
        h, w = raw.image.shape[:2]
        at = start + timedelta(seconds=raw.media_time or n / 5)
        assert live.process(raw.image, FrameRef(camera, at, n, w, h)) == []  # no watchlist
    assert live.finish() == []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("face-trajectory")
    base = config()
    cams = [
        {"id": c, "url": f"file:///data/{c}.mp4", "location": {"x": x, "y": 0.0}}
        for c, (x, _, _) in PLAN.items()
    ]
    cfg = VigilConfig.model_validate(
        {**base.model_dump(mode="json", exclude={"cameras", "api"}), "cameras": cams}
        | {"api": {"secret_key": "test-secret-key"}}
    )
    env = build_env(tmp, cfg=cfg, archive_dim=embedding_dim(FacesConfig().embedder))
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=8)
    for c, (x, _, _) in PLAN.items():  # build_env stores no positions; the config does
        env.repo.upsert_camera(CameraRow(c, c, "file:///x", t0, plan_x=x, plan_y=0.0))
    dep = _authorise(env, t0 - timedelta(minutes=1))
    clips = _clips(tmp)
    for cam, (_, offset, _) in PLAN.items():
        _replay(env, cam, clips[cam], t0 + timedelta(seconds=offset))
    seen = {c: [(s.id, s.started_at) for s in env.repo.list_sightings(camera_id=c)] for c in PLAN}
    yield World(env, dep, seen)
    env.repo.db.dispose()


def _body(w: World, **change: object) -> dict[str, object]:
    anchor = w.sightings["cam-a"][0][0]
    return {
        "sighting_id": anchor,
        "authorisation_id": w.authorisation,
        "reason": "suspect",
    } | change


def test_every_face_track_was_archived(world: World) -> None:
    counts = {c: len(s) for c, s in world.sightings.items()}
    assert counts["cam-a"] == 1 and counts["cam-c"] == 1, counts
    assert counts["cam-b"] == 2, counts  # the person, then the other person
    for rows in world.sightings.values():
        for sid, _ in rows:
            assert len(world.env.repo.embeddings_of(sid)) == 1
    assert len(world.env.svc.archive) == 4  # type: ignore[arg-type]


def test_the_person_is_followed_in_order_and_the_too_fast_hop_flagged(world: World) -> None:
    r = world.env.client(Role.INVESTIGATOR).post(URL, json=_body(world))
    assert r.status_code == 200, r.text
    out = r.json()
    model = FalseAlertModel.from_file(PACKAGED_CALIBRATION)
    assert out["min_score"] == pytest.approx(model.threshold)  # the calibrated default
    assert [v["camera_id"] for v in out["visits"]] == ["cam-a", "cam-b", "cam-c"]
    other = world.sightings["cam-b"][1][0]
    assert other not in {sid for v in out["visits"] for sid in v["read_ids"]}
    assert [h["check"] for h in out["hops"]] == ["plausible", "implausible"]
    assert out["flagged"] == 1
    walk, run = out["hops"]
    assert walk["distance_m"] == pytest.approx(300.0) and walk["seconds"] >= walk["min_seconds"]
    assert run["distance_m"] == pytest.approx(5000.0) and run["seconds"] < run["min_seconds"]
    for v in out["visits"][1:]:  # real matches of other photos, with their calibrated rates
        assert v["score"] >= out["min_score"]
        rate = model.fpir(v["score"], 1)
        assert v["false_match_rate_upper"] == pytest.approx(rate.upper)
        assert v["false_match_rate"] <= v["false_match_rate_upper"] < 1e-3
    runs = [e for e in iter_entries(world.env.repo) if e.action == "search.run"]
    assert dict(runs[-1].details)["kind"] == "archive_face"


def test_a_stricter_min_score_drops_hops_and_the_other_person_never_joins(world: World) -> None:
    client = world.env.client(Role.INVESTIGATOR)
    everyone = client.post(URL, json=_body(world, min_score=0.01)).json()
    ids = {sid for v in everyone["visits"] for sid in v["read_ids"]}
    other = world.sightings["cam-b"][1][0]
    assert other in ids  # at a meaningless score anyone joins: the default is what keeps it out
    assert everyone["scores"][other] < everyone["visits"][1]["score"]
    alone = client.post(URL, json=_body(world, min_score=1.0)).json()
    assert [v["camera_id"] for v in alone["visits"]] == ["cam-a"] and alone["hops"] == []


@pytest.mark.parametrize(
    ("change", "status"),
    [({"min_score": 0}, 422), ({"sighting_id": "nope"}, 404), ({"authorisation_id": "x"}, 403)],
)
def test_bad_requests_get_the_envelope(
    world: World, change: dict[str, object], status: int
) -> None:
    r = world.env.client(Role.INVESTIGATOR).post(URL, json=_body(world, **change))
    assert r.status_code == status and set(r.json()) == {"error"}
