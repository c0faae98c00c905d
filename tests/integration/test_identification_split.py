"""The identification seam cluster mode cuts at: a pure step that decides, a recorder that stores.

``FaceIdentifier`` holds no repository, media store or audit log (it cannot do I/O); its decisions
are plain, picklable records; non-match biometrics never leave it; and the recorder writes a
decision's sighting, alerts, crop and audit entries together or not at all.
"""

from __future__ import annotations

import inspect
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from tests.support.governance_world import (
    OFFICER,
    World,
    make_world,
    post_event,
    request,
    seed_watchlist,
    unit,
)
from vigil.core.records import FaceObservation, FrameRef
from vigil.governance.audit import iter_entries
from vigil.governance.recorder import IdentificationRecorder
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.live import NONE, FaceIdentifier, TrackDecision
from vigil.storage import Repository
from vigil.storage.governance import GovernanceStore
from vigil.system.identification import DeploymentAuthority

CURVE = FalseAlertModel.from_counts(
    np.linspace(-1, 1, 21), np.round(np.geomspace(1.0, 1e-6, 21) * 1e7), 10_000_000
)
FACE = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)


class OneFace:
    """A fake pipeline (the class under test is the identifier): one face at a fixed place,
    embedded with ``vector`` when asked to embed."""

    min_quality = 0.3
    embedder = SimpleNamespace(name="test")

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector
        self.embedded = 0

    def analyse(self, image: np.ndarray, frame: FrameRef, *, embed: bool = True) -> Any:
        emb = self.vector if embed else None
        self.embedded += int(embed)
        obs = FaceObservation(frame, [10, 10, 90, 110], 0.9, FACE, 0.8, emb)
        crop = np.full((1, 112, 112, 3), 120, np.uint8)
        return SimpleNamespace(observations=[obs], crops=crop)


def _run(ident: FaceIdentifier, w: World, auth_for: Any, frames: int = 3) -> list[TrackDecision]:
    image = np.zeros((120, 160, 3), np.uint8)
    out: list[TrackDecision] = []
    for i in range(frames):
        out += ident.process(image, FrameRef("cam-1", w.clock(), i, 160, 120), auth_for())
        w.clock.advance(seconds=1)
    return out + ident.finish(auth_for())


@pytest.fixture
def w(repo: Repository, tmp_path: Path) -> World:
    return make_world(repo, tmp_path)


def test_the_identifier_can_do_no_io_and_its_decisions_travel(w: World) -> None:
    params = inspect.signature(FaceIdentifier).parameters
    assert len(params) <= 6 and not {"repo", "media", "audit", "deployments"} & set(params)
    vectors = unit(2)
    dep = request(w, seed_watchlist(w, vectors))
    w.deployments.approve(OFFICER, dep, "ok")
    authority = DeploymentAuthority(w.deployments, w.repo, CURVE, 0.5, clock=w.clock)
    pipeline = OneFace(vectors[0])
    ident = FaceIdentifier("cam-1", pipeline, clock=w.clock)  # type: ignore[arg-type]
    (decision,) = _run(ident, w, lambda: authority.for_camera("cam-1"))
    assert decision.is_match and decision.hits[0].deployment_id == dep
    assert decision.embedding is None  # a match carries the crop, not the template
    copy = pickle.loads(pickle.dumps(decision))  # a record another process can receive
    assert copy.hits == decision.hits and copy.probe_jpeg == decision.probe_jpeg
    assert ident.take_counts()[0][dep] == 1


def test_no_authorisation_no_embedding_and_a_non_match_leaves_nothing(w: World) -> None:
    vectors = unit(2)
    pipeline = OneFace(-vectors[0])  # nobody on the list
    ident = FaceIdentifier("cam-1", pipeline, clock=w.clock)  # type: ignore[arg-type]
    assert _run(ident, w, lambda: NONE) == [] and pipeline.embedded == 0
    dep = request(w, seed_watchlist(w, vectors))
    w.deployments.approve(OFFICER, dep, "ok")
    authority = DeploymentAuthority(w.deployments, w.repo, CURVE, 0.5, clock=w.clock)
    assert _run(ident, w, lambda: authority.for_camera("cam-1")) == []  # compared, no match
    assert pipeline.embedded > 0 and ident.take_counts()[0][dep] == 1


def test_a_non_match_inside_a_post_event_window_is_handed_over_for_the_archive(w: World) -> None:
    auth_id = post_event(w, ("cam-1",))
    w.deployments.approve(OFFICER, auth_id, "ok")
    authority = DeploymentAuthority(w.deployments, w.repo, CURVE, 0.5, clock=w.clock)
    ident = FaceIdentifier("cam-1", OneFace(unit(1)[0]), clock=w.clock)  # type: ignore[arg-type]
    (decision,) = _run(ident, w, lambda: authority.for_camera("cam-1"))
    assert not decision.is_match and decision.embedding is not None


def test_the_recorder_stores_a_decision_whole_or_not_at_all(
    w: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    vectors = unit(2)
    dep = request(w, seed_watchlist(w, vectors))
    w.deployments.approve(OFFICER, dep, "ok")
    authority = DeploymentAuthority(w.deployments, w.repo, CURVE, 0.5, clock=w.clock)
    ident = FaceIdentifier("cam-1", OneFace(vectors[0]), clock=w.clock)  # type: ignore[arg-type]
    (decision,) = _run(ident, w, lambda: authority.for_camera("cam-1"))
    recorder = IdentificationRecorder(w.repo, w.media, w.audit, archive=w.archive, clock=w.clock)
    before = (GovernanceStore(w.repo.db).biometric_counts(), sorted(w.media.keys()))
    entries = len(list(iter_entries(w.repo)))

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(w.audit, "append", broken)
    with pytest.raises(RuntimeError):
        recorder.record(decision)
    assert (GovernanceStore(w.repo.db).biometric_counts(), sorted(w.media.keys())) == before
    assert len(list(iter_entries(w.repo))) == entries
    monkeypatch.undo()
    (alert,) = recorder.record(decision)
    assert alert.alert.deployment_id == dep and w.media.get(alert.probe_key)[:2] == b"\xff\xd8"
    assert w.audit.verify().ok


def test_face_tracks_are_linked_to_the_person_track_of_the_same_frame(w: World) -> None:
    """One family of track ids: the identifier links its face tracks through the people step's
    result for the same frame (and ignores a result of another frame)."""
    from vigil.analytics.people import PeopleAnalysis
    from vigil.config.analytics import PeopleConfig
    from vigil.core import CLASS_IDS, Detections, ObjectClass

    people = PeopleAnalysis("cam-1", PeopleConfig())
    person = Detections(
        np.array([[0, 0, 100, 400]], np.float32),
        np.full(1, 0.9, np.float32),
        np.full(1, CLASS_IDS[ObjectClass.PERSON]),
    )
    ident = FaceIdentifier("cam-1", OneFace(unit(1)[0]), clock=w.clock)  # type: ignore[arg-type]
    image = np.zeros((400, 200, 3), np.uint8)
    stale = None
    for i in range(4):
        ref = FrameRef("cam-1", w.clock(), i, 200, 400)
        result = people.step(ref, person)
        stale = stale or result
        ident.process(image, ref, NONE, result if i < 3 else stale)
        w.clock.advance(seconds=1)
    (track,) = ident.tracker.open.values()
    ids = result.persons.tracker_id
    assert ids is not None and track.person_track_id == int(ids[0])
