"""Issue 19: a vehicle followed across cameras by its plate, each hop checked against travel time.

Three cameras replay real footage: clips of the same real OpenALPR car photo (DH7X317) seen by a
virtual camera (synthetic pan, zoom, blur and lighting per camera; see
:mod:`tests.support.plate_clips`), and on the middle camera a second real car (5LTA600) too. Each
clip goes through the real camera source (PyAV), NanoDet, ByteTrack, the PP-OCR plate reader and
the fuser, as ``vigil run`` does; the fused reads are stored as the recorder would. The cameras
are placed so that gate-a -> gate-b (1 km in 3 minutes) is plausible and gate-b -> gate-c (50 km
in 2 minutes) is not. The trajectory API must list the three visits in order, flag the second hop
and keep it, leave out the other car, stay inside the caller's cameras, and audit the request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.api_env import PASSWORD, Env, build_env, config
from tests.support.data import shared_data
from tests.support.plate_clips import SIZE, Image, camera_pass, write_clip
from vigil.config import VigilConfig
from vigil.config.analytics import PeopleConfig
from vigil.core import FrameRef
from vigil.core.domain import CameraRow, Role
from vigil.core.plates import fold_confusables
from vigil.core.records import PlateRead
from vigil.governance.audit import iter_entries
from vigil.perception.objects import NanoDetDetector
from vigil.perception.plates import PlateReader
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec
from vigil.storage.repository import plate_key
from vigil.system.people import PeopleStage
from vigil.system.plates import PlateStage

pytestmark = pytest.mark.models
US_DIR = ("openalpr_benchmarks_endtoend", "endtoend", "us")
CAR, OTHER = "wts-lg-000196", "wts-lg-000041"  # DH7X317, 5LTA600
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
# camera -> (lat, lon, seconds after T0 its clip starts, cars it shows)
PLAN = {
    "gate-a": (51.5000, -0.1200, 0, (CAR,)),
    "gate-b": (51.5090, -0.1200, 180, (CAR, OTHER)),  # ~1.0 km north, 3 min later
    "gate-c": (51.9500, -0.1200, 300, (CAR,)),  # ~49 km further, 2 min after gate-b
}


def _clip(data: Path, cars: tuple[str, ...], seed: int, out: Path) -> tuple[Path, list[str]]:
    frames: list[Image] = []
    labels = []
    for i, name in enumerate(cars):
        parts = (data / f"{name}.txt").read_text().split()
        box = (int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]))
        labels.append(parts[5])
        frames += camera_pass(cv2.imread(str(data / f"{name}.jpg")), box, 10, seed * 10 + i)
        frames += [np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)] * 4
    write_clip(out, frames)
    return out, labels


def _replay(camera: str, path: Path, start: datetime, reader: PlateReader) -> list[PlateRead]:
    """The clip through the real camera source and stages; the fused reads it yields."""
    cfg = VigilConfig()
    fused: list[PlateRead] = []
    people = PeopleStage(
        camera, NanoDetDetector(cfg.models.dir, score_threshold=0.1), PeopleConfig(track_buffer=2)
    )
    people.plates = PlateStage(camera, reader, cfg.plates, sink=lambda r, k: fused.append(r))
    source = AVSource(SourceSpec(camera, str(path), "file", fps=4.0, decode_mode="all"))
    for n, raw in enumerate(source.frames(threading.Event())):
        h, w = raw.image.shape[:2]
        at = start + timedelta(seconds=raw.media_time or n / 4)
        people.process(raw.image, FrameRef(camera, at, n, w, h))
    people.finish()
    return fused


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[PlateRead]]:
    data = shared_data(*US_DIR)
    folder = tmp_path_factory.mktemp("trajectory")
    reader = PlateReader.from_models(threads=2)
    out: dict[str, list[PlateRead]] = {}
    for seed, (cam, (_, _, offset, cars)) in enumerate(PLAN.items()):
        path, labels = _clip(data, cars, seed, folder / f"{cam}.mp4")
        fused = _replay(cam, path, T0 + timedelta(seconds=offset), reader)
        assert [r.text for r in fused] == labels, f"{cam}: the reader got {fused}"
        out[cam] = fused
    return out


@pytest.fixture
def env(tmp_path: Path, reads: dict[str, list[PlateRead]]) -> Iterator[Env]:
    base = config()
    cams = [
        {"id": c, "url": f"file:///data/{c}.mp4", "location": {"lat": la, "lon": lo}}
        for c, (la, lo, _, _) in PLAN.items()
    ]
    cfg = VigilConfig.model_validate(
        {**base.model_dump(mode="json", exclude={"cameras", "api"}), "cameras": cams}
        | {"api": {"secret_key": "test-secret-key"}}
    )
    e = build_env(tmp_path, cfg=cfg)
    for c, (la, lo, _, _) in PLAN.items():  # build_env stores no positions; the config does
        e.repo.upsert_camera(CameraRow(c, c, "file:///x", T0, lat=la, lon=lo))
    e.repo.add_plate_reads([r for rs in reads.values() for r in rs])
    yield e
    e.repo.db.dispose()


def _anchor(reads: dict[str, list[PlateRead]]) -> str:
    return plate_key(reads["gate-b"][0])


def test_the_trajectory_lists_each_hop_in_order_and_flags_the_impossible_one(
    env: Env, reads: dict[str, list[PlateRead]]
) -> None:
    c = env.client(Role.INVESTIGATOR)
    r = c.post(
        "/api/v1/trajectories/plates",
        json={"read_id": _anchor(reads), "reason": "robbery, case 19-7", "window_s": 3600},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["plate"] == fold_confusables("DH7X317")  # the folded text is followed
    assert [v["camera_id"] for v in body["visits"]] == ["gate-a", "gate-b", "gate-c"]
    assert [len(v["read_ids"]) for v in body["visits"]] == [1, 1, 1]  # not the other car
    a, b = body["hops"]
    assert (a["from_camera"], a["to_camera"], a["check"]) == ("gate-a", "gate-b", "plausible")
    assert (b["from_camera"], b["to_camera"], b["check"]) == ("gate-b", "gate-c", "implausible")
    assert 900 < a["distance_m"] < 1100 and 45_000 < b["distance_m"] < 52_000
    assert b["seconds"] < b["min_seconds"] and body["flagged"] == 1 and not body["truncated"]
    assert set(body["positions"]) == set(PLAN)
    entries = [e for e in iter_entries(env.repo) if e.action == "search.run"]
    details = dict(entries[-1].details)
    assert details["kind"] == "trajectory" and details["flagged_hops"] == "1"
    assert details["results"] == "3" and entries[-1].actor == env.users[Role.INVESTIGATOR]


def test_a_narrow_window_or_a_scoped_investigator_sees_less(
    env: Env, reads: dict[str, list[PlateRead]]
) -> None:
    c = env.client(Role.INVESTIGATOR)
    body = {"read_id": _anchor(reads), "reason": "case 19-7", "window_s": 150}
    r = c.post("/api/v1/trajectories/plates", json=body)
    assert [v["camera_id"] for v in r.json()["visits"]] == ["gate-b", "gate-c"]
    user = env.svc.accounts.create_user("scoped", PASSWORD, [Role.INVESTIGATOR], cameras=["gate-b"])
    scoped = env.client()
    scoped.headers["Authorization"] = f"Bearer {env.svc.accounts.start_session(user)[0]}"
    r = scoped.post("/api/v1/trajectories/plates", json=body | {"window_s": 3600})
    assert r.status_code == 200 and [v["camera_id"] for v in r.json()["visits"]] == ["gate-b"]
    away = plate_key(reads["gate-a"][0])
    r = scoped.post("/api/v1/trajectories/plates", json=body | {"read_id": away})
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("role", "change", "status"),
    [
        (Role.OPERATOR, {}, 403),
        (Role.AUDITOR, {}, 403),
        (Role.INVESTIGATOR, {"window_s": 0}, 422),
        (Role.INVESTIGATOR, {"window_s": 10 * 86_400}, 422),
        (Role.INVESTIGATOR, {"reason": ""}, 422),
        (Role.INVESTIGATOR, {"read_id": "../etc"}, 422),
        (Role.INVESTIGATOR, {"read_id": "f" * 64}, 404),
        (Role.INVESTIGATOR, {"extra": 1}, 422),
    ],
)
def test_bad_requests_get_the_error_envelope_and_no_audit_of_a_search(
    env: Env, reads: dict[str, list[PlateRead]], role: Role, change: dict[str, object], status: int
) -> None:
    before = sum(e.action == "search.run" for e in iter_entries(env.repo))
    body = {"read_id": _anchor(reads), "reason": "case 19-7", "window_s": 60} | change
    r = env.client(role).post("/api/v1/trajectories/plates", json=body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"} and r.json()["error"]["message"]
    assert sum(e.action == "search.run" for e in iter_entries(env.repo)) == before


def test_a_stored_read_without_positions_gives_unknown_hops(
    env: Env, reads: dict[str, list[PlateRead]]
) -> None:
    env.repo.upsert_camera(CameraRow("gate-c", "gate-c", "file:///x", T0))  # position removed
    r = env.client(Role.INVESTIGATOR).post(
        "/api/v1/trajectories/plates",
        json={"read_id": _anchor(reads), "reason": "case 19-7", "window_s": 3600},
    )
    checks = [h["check"] for h in r.json()["hops"]]
    assert checks == ["plausible", "unknown"] and r.json()["positions"]["gate-c"] is None
