"""End to end on real video: an enrolled LFW person composited into vtest.avi frames raises one
alert inside an active deployment, none without one, none after expiry; enrolment refusals;
no non-match biometrics left in the stores. Real models, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.cameras import free_port
from tests.support.governance_world import (
    INVESTIGATOR,
    OFFICER,
    OPERATOR,
    SUPERVISOR,
    World,
    make_world,
    post_event,
    request,
)
from tests.support.scenes import scene_frames
from vigil.config.settings import PACKAGED_CALIBRATION, FacesConfig
from vigil.core.domain import Decision
from vigil.core.records import AlertKind, AlertStatus, FrameRef
from vigil.errors import PolicyViolationError
from vigil.eval.faces import fmr_curve
from vigil.governance.recorder import FaceAlert, IdentificationRecorder
from vigil.governance.watchlists import (
    Category,
    EnrolmentPhoto,
    EnrolmentRefusedError,
    WatchlistService,
)
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.gallery import Gallery
from vigil.identification.live import FaceIdentifier
from vigil.identification.matcher import WatchlistMatcher
from vigil.perception.faces.cascade import CascadeBand
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.image import load_image
from vigil.storage import Database, DatabaseOptions, Repository
from vigil.storage.governance import GovernanceStore
from vigil.system.decisions import DecisionWriter, FaceRecord, decode
from vigil.system.governance import embedding_dim
from vigil.system.identification import CameraIdentification, DeploymentAuthority
from vigil.system.outbox import Outbox

pytestmark = [pytest.mark.models, pytest.mark.data]

THRESHOLD = FacesConfig().identification.threshold


@pytest.fixture(scope="module")
def pipeline() -> FacePipeline:
    return FacePipeline.from_config(FacesConfig())


@pytest.fixture(scope="module")
def people(lfw_dir: Path) -> list[list[Path]]:
    """People with at least two photos present (part of LFW is withheld from ../shared)."""
    folders = sorted(d for d in lfw_dir.iterdir() if d.is_dir())
    out = [sorted(d.glob("*.jpg")) for d in folders]
    return [p for p in out if len(p) >= 2][:60]


@pytest.fixture(scope="module")
def calibration(
    pipeline: FacePipeline, people: list[list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> FalseAlertModel:
    """An FMR curve from impostor pairs among 50 real people (different from the enrolled)."""
    embs = []
    for photos in people[10:60]:
        img = load_image(photos[0])
        found = pipeline.analyse(img, FrameRef("cal", _t0(), 0, img.shape[1], img.shape[0]))
        embs += [o.embedding for o in found.observations[:1] if o.embedding is not None]
    e = np.stack(embs)
    scores = (e @ e.T)[np.triu_indices(len(e), 1)]
    path = tmp_path_factory.mktemp("cal") / "faces.json"
    path.write_text(json.dumps({"threshold": THRESHOLD, "fmr_curve": fmr_curve(scores)}))
    return FalseAlertModel.from_file(path)


def _t0():  # type: ignore[no-untyped-def]
    from tests.support.governance_world import T0

    return T0


@pytest.fixture(scope="module")
def frames(vtest_video: Path, people: list[list[Path]]) -> list[np.ndarray]:
    """vtest frames (every 3rd) with another photo of person 0 walking across frames 3..10."""
    return scene_frames(vtest_video, people[0][1])


@dataclass
class Scene:
    """The real-data pieces every test here shares (built once per module)."""

    pipeline: FacePipeline
    calibration: FalseAlertModel
    frames: list[np.ndarray]
    people: list[list[Path]]


@pytest.fixture(scope="module")
def scene(
    pipeline: FacePipeline,
    calibration: FalseAlertModel,
    frames: list[np.ndarray],
    people: list[list[Path]],
) -> Scene:
    return Scene(pipeline, calibration, frames, people)


@pytest.fixture
def w(repo: Repository, tmp_path: Path) -> World:
    return make_world(repo, tmp_path, dim=embedding_dim(FacesConfig().embedder))


@pytest.fixture
def watchlists(w: World, pipeline: FacePipeline, calibration: FalseAlertModel) -> WatchlistService:
    return WatchlistService(
        w.repo,
        w.media,
        w.audit,
        pipeline,
        max_size=lambda: calibration.max_watchlist_size(THRESHOLD, 0.05),
        model="fr_feature",
        clock=w.clock,
    )


def enrol_three(w: World, svc: WatchlistService, people: list[list[Path]]) -> str:
    wl = svc.create(
        INVESTIGATOR,
        name="missing persons",
        category=Category.MISSING_OR_VULNERABLE,
        reason="missing persons reports",
        expires_at=w.clock() + timedelta(days=7),
    )
    for i in range(3):
        photo = EnrolmentPhoto(people[i][0].read_bytes(), f"family photo, report MP-{i}")
        svc.enrol(INVESTIGATOR, wl, label=f"person {i}", photos=[photo], reason=f"report MP-{i}")
    return wl


def run_video(
    w: World,
    pipeline: FacePipeline,
    calibration: FalseAlertModel,
    frames: list[np.ndarray],
    band: CascadeBand | None = None,
) -> tuple[list[FaceAlert], CameraIdentification]:
    """The camera's identification as the assembly builds it: the pure identifier between the
    deployment authority and the recorder (one transaction per decision); ``band``: with the
    face cascade."""
    authority = DeploymentAuthority(w.deployments, w.repo, calibration, THRESHOLD, clock=w.clock)
    recorder = IdentificationRecorder(w.repo, w.media, w.audit, archive=w.archive, clock=w.clock)
    live = CameraIdentification(
        FaceIdentifier("cam-1", pipeline, clock=w.clock, band=band), authority, recorder
    )
    alerts: list[FaceAlert] = []
    for i, frame in enumerate(frames):
        ref = FrameRef("cam-1", w.clock(), i, frame.shape[1], frame.shape[0])
        alerts += live.process(frame, ref)
        w.clock.advance(seconds=1.5)
    return alerts + live.finish(), live


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch, pipeline: FacePipeline) -> Iterator[dict[str, int]]:
    """Counts every 1:N search and every embedding computed."""
    calls = {"search": 0, "embed": 0}
    search, embed = Gallery.search, pipeline.embedder.embed

    def counting_search(self, *a, **k):  # type: ignore[no-untyped-def]
        calls["search"] += 1
        return search(self, *a, **k)

    def counting_embed(*a, **k):  # type: ignore[no-untyped-def]
        calls["embed"] += 1
        return embed(*a, **k)

    monkeypatch.setattr(Gallery, "search", counting_search)
    monkeypatch.setattr(pipeline.embedder, "embed", counting_embed)
    yield calls


def biometric_scan(w: World) -> dict[str, int]:
    return GovernanceStore(w.repo.db).biometric_counts()


def test_one_alert_inside_an_active_deployment_and_no_non_match_biometrics_remain(
    w: World, watchlists: WatchlistService, scene: Scene, spy: dict[str, int]
) -> None:
    wl = enrol_three(w, watchlists, scene.people)
    dep = request(w, wl, hours=2)
    w.deployments.approve(OFFICER, dep, "child at risk; necessary and proportionate")
    alerts, live = run_video(w, scene.pipeline, scene.calibration, scene.frames)
    assert len(alerts) == 1, [(a.alert.score, a.alert.subject_id) for a in alerts]
    fa = alerts[0]
    a = fa.alert
    assert a.kind is AlertKind.FACE_MATCH and a.deployment_id == dep
    assert a.status is AlertStatus.PENDING and a.score >= THRESHOLD
    subjects = {s.label: s.id for s in w.repo.list_subjects(wl)}
    assert a.subject_id == subjects["person 0"]
    assert a.false_alert_rate is not None and 0 < a.false_alert_rate < 0.05
    rate = scene.calibration.fpir(a.score, 3)  # three people, one photo each
    assert a.false_alert_rate == pytest.approx(rate.upper)
    assert a.false_alert_point == pytest.approx(rate.point) and a.false_alert_point <= rate.upper
    assert (a.calibration_count, a.calibration_comparisons) == (rate.count, rate.comparisons)
    assert a.rank2_margin is not None and a.rank2_margin > 0
    assert w.media.get(fa.probe_key)[:2] == b"\xff\xd8"  # the probe crop, a JPEG
    assert (
        fa.enrolled_key is not None
        and w.media.get(fa.enrolled_key) == scene.people[0][0].read_bytes()
    )
    assert w.repo.get_alert(a.id).template_id == fa.template_id  # the enrolled-image reference
    assert spy["search"] >= 1 and live.tracks_closed >= 1
    # Zero non-match biometrics in the stores: only the alert's crop and the enrolled templates.
    counts = biometric_scan(w)
    assert counts == {
        "sighting_embeddings": 0,
        "sighting_crops": 1,
        "templates": 3,
        "alert_probes": 1,
    }
    assert set(w.media.keys()) == {
        fa.probe_key,
        *(t.image_key for t in w.repo.templates_for_watchlist(wl)),
    }
    assert len(w.archive) == 0  # ... and nothing in the archive index
    assert w.purger.purge_unmatched().sightings == 0
    # The two-person rule then makes it actionable; the audit chain is intact and names it all.
    w.verification.decide(OPERATOR, a.id, Decision.CONFIRM, "same person as the report photo")
    w.verification.decide(SUPERVISOR, a.id, Decision.CONFIRM, "agree; dispatch")
    assert w.repo.get_alert(a.id).status is AlertStatus.ACTIONABLE
    assert w.audit.verify().ok
    # A probe crop from the archive cannot be enrolled (no harvesting from the cameras).
    with pytest.raises(PolicyViolationError, match="archive"):
        watchlists.enrol(
            INVESTIGATOR,
            wl,
            label="x",
            reason="r",
            photos=[EnrolmentPhoto(w.media.get(fa.probe_key), "a nice photo")],
        )
    with pytest.raises(PolicyViolationError, match="archive"):
        watchlists.enrol(
            INVESTIGATOR,
            wl,
            label="x",
            reason="r",
            photos=[EnrolmentPhoto(scene.people[5][0].read_bytes(), f"sighting:{a.id}")],
        )


def test_the_cascade_raises_the_same_alert_and_skips_what_cannot_match(
    w: World, watchlists: WatchlistService, scene: Scene, spy: dict[str, int]
) -> None:
    """With the packaged band the cascade raises the alert the full fusion raises, with the
    fused score; with a band no probe reaches, the fusion is never completed and nothing is
    compared further (no alert)."""
    band = CascadeBand.from_calibration(PACKAGED_CALIBRATION, FacesConfig().cascade.margin)
    assert band is not None and band.cheap_member == "sface"
    wl = enrol_three(w, watchlists, scene.people)
    dep = request(w, wl, hours=2)
    w.deployments.approve(OFFICER, dep, "child at risk; necessary and proportionate")
    spy.update(search=0, embed=0)  # enrolment embedded the three photos with the fusion
    alerts, live = run_video(w, scene.pipeline, scene.calibration, scene.frames, band)
    assert len(alerts) == 1
    a = alerts[0].alert
    assert a.score >= THRESHOLD
    assert a.subject_id == {s.label: s.id for s in w.repo.list_subjects(wl)}["person 0"]
    ident = live.identifier
    assert 1 <= ident.cascade_fused <= ident.cascade_probes
    assert spy["embed"] == 0  # per frame only the cheap member ran; the fusion was completed
    # The same best shot through the full fusion scores the same (the fused template).
    w.clock.advance(seconds=60)
    full, _ = run_video(w, scene.pipeline, scene.calibration, scene.frames)
    assert len(full) == 1 and full[0].alert.score == pytest.approx(a.score, abs=1e-4)
    never = CascadeBand(np.array([-1.0]), np.array([1.5]), "sface", 1)
    w.clock.advance(seconds=60)
    none, live = run_video(w, scene.pipeline, scene.calibration, scene.frames, never)
    assert none == [] and live.identifier.cascade_fused == 0
    assert live.identifier.cascade_probes >= 1


def test_the_cascade_archives_fused_templates(
    w: World, watchlists: WatchlistService, scene: Scene
) -> None:
    """Under a post-event authorisation the archived template is the fused one (the archive
    index has the fused dimension and refuses any other)."""
    band = CascadeBand.from_calibration(PACKAGED_CALIBRATION)
    enrol_three(w, watchlists, scene.people)
    post = post_event(w, ("cam-1",), reason="robbery on this street")
    w.deployments.approve(OFFICER, post, "proportionate")
    alerts, live = run_video(w, scene.pipeline, scene.calibration, scene.frames, band)
    assert alerts == [] and live.identifier.cascade_fused >= 1
    archived = biometric_scan(w)["sighting_embeddings"]
    assert archived >= 1 and len(w.archive) == archived


def test_the_cascade_compares_nothing_outside_the_deployment(
    w: World, watchlists: WatchlistService, scene: Scene
) -> None:
    """The cheap comparison is a comparison: the matcher re-checks its handle first."""
    wl = enrol_three(w, watchlists, scene.people)
    dep = request(w, wl, hours=1)
    w.deployments.approve(OFFICER, dep, "ok")
    (handle,) = w.deployments.activate("cam-1")
    matcher = WatchlistMatcher.for_deployment(handle, w.repo, scene.calibration, THRESHOLD)
    cascade = scene.pipeline.cascade
    assert cascade is not None
    probe = cascade.cheap_part(w.repo.templates_for_watchlist(wl)[0].vector)[0]
    assert matcher.cheap_best(probe, cascade, "cam-1", w.clock()) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(PolicyViolationError, match="does not cover"):
        matcher.cheap_best(probe, cascade, "cam-2", w.clock())
    with pytest.raises(PolicyViolationError, match="not active"):
        matcher.cheap_best(probe, cascade, "cam-1", w.clock() + timedelta(hours=2))


def test_no_deployment_no_comparison(
    w: World, watchlists: WatchlistService, scene: Scene, spy: dict[str, int]
) -> None:
    enrol_three(w, watchlists, scene.people)
    spy.update(search=0, embed=0)
    alerts, live = run_video(w, scene.pipeline, scene.calibration, scene.frames)
    assert alerts == [] and live.tracks_closed >= 1
    assert spy == {"search": 0, "embed": 0}  # no face was even turned into a template
    assert biometric_scan(w)["sighting_embeddings"] == 0


def test_expired_deployment_raises_nothing(
    w: World, watchlists: WatchlistService, scene: Scene, spy: dict[str, int]
) -> None:
    wl = enrol_three(w, watchlists, scene.people)
    dep = request(w, wl, hours=1)
    w.deployments.approve(OFFICER, dep, "ok")
    w.clock.advance(hours=1)
    spy.update(search=0, embed=0)
    alerts, _ = run_video(w, scene.pipeline, scene.calibration, scene.frames)
    assert alerts == [] and spy["search"] == 0
    assert w.repo.get_deployment(dep).state.value == "expired"


def test_enrolment_refuses_bad_photos_with_the_reason(
    w: World, watchlists: WatchlistService, people: list[list[Path]], frames: list[np.ndarray]
) -> None:
    watchlists.max_size = lambda: 4  # as if the target false-alert rate allowed four
    wl = watchlists.create(
        INVESTIGATOR,
        name="l",
        category=Category.WANTED_BY_COURT,
        reason="warrants",
        expires_at=w.clock() + timedelta(days=1),
    )
    a, b = (cv2.resize(load_image(people[i][0]), (250, 250)) for i in (0, 1))
    two = np.hstack([a, b])
    cases = {
        "no face": frames[0][400:576, 0:200],
        "2 faces": two,
        "quality bar": cv2.resize(a, (50, 50)),
    }
    for expect, img in cases.items():
        _, buf = cv2.imencode(".png", img)
        with pytest.raises(EnrolmentRefusedError) as err:
            watchlists.enrol(
                INVESTIGATOR,
                wl,
                label="x",
                reason="warrant",
                photos=[EnrolmentPhoto(buf.tobytes(), "court file")],
            )
        assert expect in str(err.value)
    assert w.repo.list_subjects(wl) == [] and list(w.media.keys()) == []
    assert [e.action for e in w.audit.store.audit_entries()].count("watchlist.enrol_refused") == 3
    with pytest.raises(PolicyViolationError, match="limit"):
        for i in range(5):
            photo = EnrolmentPhoto(people[i % 10][0].read_bytes(), f"court file {i}")
            watchlists.enrol(INVESTIGATOR, wl, label=f"p{i}", reason="warrant", photos=[photo])
    before = w.repo.get_watchlist(wl)
    subject = w.repo.list_subjects(wl)[0]
    watchlists.remove_subject(INVESTIGATOR, wl, subject.id, "warrant withdrawn")
    after = w.repo.get_watchlist(wl)
    assert after.version == before.version + 1 and after.version_hash != before.version_hash


def test_post_event_archive_is_emptied_from_every_store_once_it_lapses(
    w: World, watchlists: WatchlistService, scene: Scene
) -> None:
    """Under a post-event authorisation non-match templates are archived (database, media and
    the FAISS index); when it lapses the purge leaves none in any of the three."""
    wl = enrol_three(w, watchlists, scene.people)
    post = post_event(w, ("cam-1",), reason="robbery on this street")
    w.deployments.approve(OFFICER, post, "proportionate")
    alerts, _ = run_video(w, scene.pipeline, scene.calibration, scene.frames)
    assert alerts == []  # no live deployment: archived, never compared
    archived = biometric_scan(w)["sighting_embeddings"]
    assert archived >= 1 and len(w.archive) == archived
    assert w.purger.purge_unmatched().sightings == 0  # still covered
    w.clock.advance(hours=2)
    w.deployments.tick()  # the authorisation expires
    assert w.purger.purge_unmatched().vectors == archived
    counts = biometric_scan(w)
    assert counts["sighting_embeddings"] == 0 and counts["sighting_crops"] == 0
    assert set(w.media.keys()) == {t.image_key for t in w.repo.templates_for_watchlist(wl)}
    assert len(w.archive) == 0
    raw = np.fromfile(w.archive.dir / "vectors.f32", dtype="<f4")
    assert not raw.any()  # the purged rows are zeros on disk


def test_while_the_database_is_away_the_spool_holds_the_alert_and_never_a_template(
    w: World, watchlists: WatchlistService, scene: Scene, spy: dict[str, int], tmp_path: Path
) -> None:
    """The recorder's database unreachable for the whole clip: the outbox spools the one match
    (crop and hits, no template) and the scan counts; the non-match faces, embedded as usual,
    never reach it. Replayed into the real database once, the alert is there once; replayed
    again (a restart that found the same spool), nothing is added."""
    wl = enrol_three(w, watchlists, scene.people)
    dep = request(w, wl, hours=2)
    w.deployments.approve(OFFICER, dep, "child at risk; necessary and proportionate")
    dead = Repository(
        Database(
            f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
            DatabaseOptions(write_retry_s=0),
        )
    )
    recorder = IdentificationRecorder(w.repo, w.media, w.audit, archive=w.archive, clock=w.clock)
    spool = tmp_path / "spool"
    away = Outbox(DecisionWriter(dead, recorder=recorder), spool, memory_items=1)
    authority = DeploymentAuthority(w.deployments, w.repo, scene.calibration, THRESHOLD)
    live = CameraIdentification(
        FaceIdentifier("cam-1", scene.pipeline, clock=w.clock), authority, recorder, sink=away
    )
    for i, frame in enumerate(scene.frames):
        live.process(frame, FrameRef("cam-1", w.clock(), i, frame.shape[1], frame.shape[0]))
        w.clock.advance(seconds=1.5)
    assert live.finish() == []  # nothing written yet: buffered
    away.stop(timeout=0.2)
    dead.db.dispose()

    lines = [ln for f in sorted(spool.glob("*.spool")) for ln in f.read_bytes().splitlines()]
    held = [decode(ln.partition(b" ")[2]) for ln in lines]
    faces = [d for d in held if isinstance(d, FaceRecord)]
    assert len(faces) == 1 and faces[0].hits and faces[0].embedding is None
    assert {d.kind for d in held} == {"face", "scans"}
    assert spy["embed"] > len(faces)  # other faces were embedded, and none was spooled
    assert all(b'embedding":null' in ln for ln in lines if b'"kind":"face"' in ln)
    backup = tmp_path / "backup"
    shutil.copytree(spool, backup)

    for folder in (spool, backup):  # the second replay finds every key recorded
        back = Outbox(DecisionWriter(w.repo, recorder=recorder), folder)
        back.start()
        try:
            assert back.drain(30)
        finally:
            back.stop()
        if folder == backup:
            assert back.stats.duplicates == len(held) and back.stats.replayed == 0
    found = w.repo.list_alerts(kind=AlertKind.FACE_MATCH, limit=10)
    assert len(found) == 1 and found[0].deployment_id == dep
    assert found[0].status is AlertStatus.PENDING
