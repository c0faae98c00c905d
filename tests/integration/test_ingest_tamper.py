"""Tamper alerts from real video: a frozen picture and a capped (black) lens, each raised once
and cleared once, stored as tamper alerts, announced by the event watcher, and visible in camera
status (embedded system view, API schema, ``vigil cameras status``).

The videos are vtest.avi frames re-encoded to H.264 with PyAV in a temp dir: motion, then the
same frame repeated (an encoder stuck on one picture) or black frames, then motion again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from tests.support.data import shared_data
from vigil.api.schemas import CameraStatusOut
from vigil.cli.main import app
from vigil.config.settings import VigilConfig
from vigil.core.records import Alert, AlertKind, AlertStatus
from vigil.notify.events import Event, event_json
from vigil.notify.hub import Hub
from vigil.notify.watcher import EventWatcher
from vigil.sources import CameraWorker, DropOldestQueue, SourceSpec, TamperThresholds
from vigil.sources.status import TamperChange, TamperSignal
from vigil.storage import Repository
from vigil.storage.database import open_database
from vigil.system.embedded import EmbeddedSystem, StageSinks
from vigil.system.tamper_alerts import TamperAlerter

pytestmark = pytest.mark.data
FPS = 10
Segment = tuple[str, int, int]  # ("play", first vtest frame, count) | ("hold"|"black", frame, n)


def _vtest_frames(n: int) -> list[np.ndarray]:
    with av.open(str(shared_data("opencv_vtest", "vtest.avi"))) as c:
        frames = []
        for frame in c.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
            if len(frames) == n:
                return frames
    return frames


def _frames(segments: list[Segment], source: list[np.ndarray]) -> Iterator[np.ndarray]:
    for what, first, count in segments:
        for i in range(count):
            if what == "play":
                yield source[first + i]
            elif what == "hold":
                yield source[first]
            else:
                yield np.zeros_like(source[0])


def make_video(path: Path, segments: list[Segment]) -> Path:
    source = _vtest_frames(max(f + (n if w == "play" else 1) for w, f, n in segments))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        for image in _frames(segments, source):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode(None))
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("tamper")
    return {
        # 3 s motion, 8 s one repeated picture, 7 s motion
        "frozen": make_video(
            tmp / "frozen.mp4", [("play", 0, 30), ("hold", 30, 80), ("play", 31, 70)]
        ),
        # 3 s motion, 8 s black, 7 s motion
        "black": make_video(
            tmp / "black.mp4", [("play", 0, 30), ("black", 0, 80), ("play", 30, 70)]
        ),
        # 3 s motion, then frozen until the end of the file
        "stuck": make_video(tmp / "stuck.mp4", [("play", 0, 30), ("hold", 30, 80)]),
    }


def run_worker(video: Path, sink: list[TamperChange], hold_s: float = 1.0) -> CameraWorker:
    spec = SourceSpec("cam", str(video), "file", fps=5.0, realtime=False)
    worker = CameraWorker(
        spec,
        queue=DropOldestQueue(1),
        tamper=TamperThresholds(hold_s=hold_s),
        on_tamper=sink.append,
    )
    worker.start()
    assert worker.join(60), "worker did not reach the end of the file"
    assert worker.finished and worker.failure is None
    return worker


def phases(changes: list[TamperChange], signal: TamperSignal) -> list[str]:
    return [c.phase for c in changes if c.signal is signal]


def test_frozen_picture_is_raised_once_and_cleared_once(videos: dict[str, Path]) -> None:
    changes: list[TamperChange] = []
    worker = run_worker(videos["frozen"], changes)
    assert [(c.signal, c.phase) for c in changes] == [
        (TamperSignal.FROZEN, "raised"),
        (TamperSignal.FROZEN, "cleared"),
    ]
    raised, cleared = changes
    # Raised after hold_s of the 8 s freeze (which starts at 3 s of video), cleared after the
    # motion has been back for hold_s: the duration is the freeze's, on the video's own clock.
    assert 6.0 <= (cleared.at - raised.at).total_seconds() <= 10.0
    assert cleared.onset_at == raised.at and cleared.reason == "recovered"
    snap = worker.snapshot()
    assert snap.tamper == frozenset() and snap.tamper_raised == 1


def test_black_lens_is_raised_once_and_cleared_once(videos: dict[str, Path]) -> None:
    changes: list[TamperChange] = []
    run_worker(videos["black"], changes)
    assert phases(changes, TamperSignal.BLACK) == ["raised", "cleared"]
    # Black frames are also identical (frozen) and a different view (scene change): every
    # signal alternates raised/cleared, one event per onset, and all end cleared.
    for signal in TamperSignal:
        seq = phases(changes, signal)
        assert seq == ["raised", "cleared"] * (len(seq) // 2), (signal, seq)


def test_tamper_alerts_are_stored_and_announced(videos: dict[str, Path], tmp_path: Path) -> None:
    repo = Repository(open_database(f"sqlite:///{tmp_path / 'vigil.db'}"))
    hub = Hub()
    announced: list[Event] = []
    hub.add_sink(announced.append)
    watcher = EventWatcher(repo, hub)
    alerter = TamperAlerter(repo)
    alerter.start()
    changes: list[TamperChange] = []

    def sink(change: TamperChange) -> None:
        changes.append(change)
        alerter.submit(change)

    spec = SourceSpec("cam-frozen", str(videos["frozen"]), "file", fps=5.0, realtime=False)
    worker = CameraWorker(spec, tamper=TamperThresholds(hold_s=1.0), on_tamper=sink)
    worker.start()
    assert worker.join(60)
    alerter.stop()
    assert alerter.stats.raised == 1 and alerter.stats.cleared == 1 and alerter.stats.failures == 0

    alerts = sorted(repo.list_alerts(camera_id="cam-frozen"), key=lambda a: a.raised_at)
    assert [a.kind for a in alerts] == [AlertKind.TAMPER, AlertKind.TAMPER]
    raised, cleared = alerts
    # No two-person queue: raised straight to actionable, then expired by its clearance.
    assert raised.status is AlertStatus.EXPIRED and cleared.status is AlertStatus.EXPIRED
    words = TamperChange.parse_detail(cleared.detail)
    assert words["signal"] == "frozen" and words["phase"] == "cleared"
    assert words["raised_alert"] == raised.id

    assert watcher.poll_alerts() == 2
    bodies = [event_json(e) for e in announced]
    assert [(b["alert"]["kind"], b["tamper"]["phase"]) for b in bodies] == [  # type: ignore[index]
        ("tamper", "raised"),
        ("tamper", "cleared"),
    ]
    assert watcher.poll_alerts() == 0  # announced once
    repo.db.dispose()


def test_a_tamper_alert_open_when_the_process_stopped_is_closed_at_the_next_start(
    tmp_path: Path,
) -> None:
    """Real SQLite: a run stopped while a signal was active leaves an actionable alert; the
    next run's alerter expires it with a `monitoring_restarted` record, touching nothing else."""
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    repo = Repository(open_database(url))
    first = TamperAlerter(repo)
    at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    open_alert = first.handle(TamperChange("cam-1", TamperSignal.BLACK, True, at, at))
    assert open_alert is not None
    crowd = Alert(
        id="crowd-1",
        kind=AlertKind.CROWD,
        camera_id="cam-1",
        raised_at=at,
        score=1.0,
        status=AlertStatus.ACTIONABLE,
        detail="count=80 threshold=50",
    )
    repo.add_alert(crowd)
    repo.db.dispose()  # the process ends without clearing the signal

    repo = Repository(open_database(url))
    second = TamperAlerter(repo)
    second.start()
    second.stop()
    assert second.stats.failures == 0
    assert repo.get_alert(open_alert.id).status is AlertStatus.EXPIRED
    assert repo.get_alert("crowd-1").status is AlertStatus.ACTIONABLE
    notes = [
        TamperChange.parse_detail(a.detail)
        for a in repo.list_alerts(kind=AlertKind.TAMPER)
        if a.id != open_alert.id
    ]
    assert notes == [
        {
            "signal": "black",
            "phase": "cleared",
            "reason": "monitoring_restarted",
            "raised_alert": open_alert.id,
        }
    ]
    repo.db.dispose()


def _config(tmp: Path, videos: dict[str, Path]) -> Path:
    cams = [
        {"id": cid, "url": str(videos[v]), "analytics": [], "realtime": False, "fps": 2.0}
        for cid, v in (("cam-stuck", "stuck"), ("cam-ok", "frozen"))
    ]
    path = tmp / "vigil.yaml"
    path.write_text(yaml.safe_dump({"cameras": cams, "system": {"data_dir": str(tmp / "var")}}))
    return path


def test_camera_status_shows_active_tamper(videos: dict[str, Path], tmp_path: Path) -> None:
    """Default thresholds (5 s hold): the stuck camera ends frozen, the other recovered."""
    config = VigilConfig.model_validate(yaml.safe_load(_config(tmp_path, videos).read_text()))
    repo = Repository(open_database(f"sqlite:///{tmp_path / 'vigil.db'}"))
    alerter = TamperAlerter(repo)
    system = EmbeddedSystem(config, sinks=StageSinks(tamper=alerter))
    system.start()
    for w in system.supervisor.workers.values():
        assert w.join(60), f"camera {w.camera_id} did not reach the end of its file"
    system.stop()
    rows = {r["camera_id"]: r for r in system.camera_view()}
    stuck, ok = rows["cam-stuck"], rows["cam-ok"]
    assert stuck["tamper"] == ["frozen"] and stuck["tamper_raised"] == 1
    assert set(stuck["tamper_since"]) == {"frozen"}
    assert ok["tamper"] == [] and ok["tamper_raised"] == 1
    out = CameraStatusOut.model_validate(stuck)  # what GET /cameras/status serves
    assert out.tamper == ["frozen"] and out.tamper_raised == 1
    open_alerts = repo.list_alerts(status=AlertStatus.ACTIONABLE)
    assert [(a.kind, a.camera_id) for a in open_alerts] == [(AlertKind.TAMPER, "cam-stuck")]
    assert alerter.stats.raised == 2 and alerter.stats.cleared == 1
    repo.db.dispose()


def test_cli_status_shows_tamper(videos: dict[str, Path], tmp_path: Path) -> None:
    path = _config(tmp_path, videos)
    result = CliRunner().invoke(app, ["cameras", "status", str(path), "--probe", "4", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["camera_id"]: r for r in map(json.loads, result.output.strip().splitlines())}
    assert rows["cam-stuck"]["tamper"] == ["frozen"]
    assert rows["cam-stuck"]["tamper_raised"] == 1 and "frozen" in rows["cam-stuck"]["tamper_since"]
    assert rows["cam-ok"]["tamper"] == [] and rows["cam-ok"]["tamper_raised"] == 1


def test_tamper_settings_come_from_the_camera_config(videos: dict[str, Path]) -> None:
    from vigil.config.settings import CameraConfig

    def worker_for(tamper: dict[str, object], sink: list[TamperChange]) -> CameraWorker:
        cam = CameraConfig.model_validate(
            {
                "id": "cam",
                "url": str(videos["black"]),
                "fps": 5.0,
                "realtime": False,
                "tamper": tamper,
            }
        )
        w = CameraWorker.from_config(cam, queue=DropOldestQueue(1), on_tamper=sink.append)
        w.start()
        assert w.join(60) and w.failure is None
        return w

    seen: list[TamperChange] = []
    w = worker_for({"hold_s": 1.0, "black_mean": 30.0}, seen)
    assert w.tamper.t.hold_s == 1.0 and w.tamper.t.black_mean == 30.0
    assert phases(seen, TamperSignal.BLACK) == ["raised", "cleared"]
    # A hold longer than the 8 s of black: nothing is raised.
    seen.clear()
    worker_for({"hold_s": 20.0}, seen)
    assert phases(seen, TamperSignal.BLACK) == []
    # Disabled: the detector does not run at all.
    seen.clear()
    w = worker_for({"enabled": False, "hold_s": 1.0}, seen)
    assert seen == [] and w.snapshot().tamper_raised == 0
