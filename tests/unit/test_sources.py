"""Unit tests of the ingestion pieces with fakes: sampler, timestamps, backoff, queue, tamper,
status, worker fault handling and the supervisor's rate-limited restarts."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vigil.config.settings import CameraConfig
from vigil.errors import InputError, SourceError, ValidationError
from vigil.sources import (
    Backoff,
    CameraState,
    CameraWorker,
    DecodeCounters,
    DropOldestQueue,
    RawFrame,
    Sampler,
    SourceSpec,
    Supervisor,
    TamperDetector,
    TamperSignal,
    TamperThresholds,
    TimestampMapper,
    detect_kind,
)
from vigil.sources.snapshot import split_credentials


def img(value: int = 100, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    return np.full((size[1], size[0], 3), value, np.uint8)


def noisy(seed: int, size: tuple[int, int] = (64, 48)) -> np.ndarray:
    return np.random.default_rng(seed).integers(60, 200, (size[1], size[0], 3), dtype=np.uint8)


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://u:p@cam/stream", "rtsp"),
        ("http://cam/video.mjpg", "mjpeg"),
        ("https://cam/snap.JPG", "snapshot"),
        ("/videos/a.mp4", "file"),
        ("file:///videos/a.mp4", "file"),
    ],
)
def test_detect_kind(url: str, kind: str) -> None:
    assert detect_kind(url) == kind


def test_spec_from_config_keeps_secret_out_of_safe_url() -> None:
    cam = CameraConfig(id="c1", url="rtsp://admin:hunter22@10.0.0.5/live", transport="udp")
    spec = SourceSpec.from_config(cam)
    assert spec.kind == "rtsp" and spec.transport == "udp" and spec.live
    assert "hunter22" not in spec.safe_url and "hunter22" not in repr(cam)


def test_camera_config_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError, match="reconnect_max_s"):
        CameraConfig(id="c1", url="a.mp4", reconnect_min_s=10, reconnect_max_s=1)
    with pytest.raises(ValueError):
        CameraConfig(id="c1", url="a.mp4", stall_timeout_s=0)


def test_sampler_picks_frames_at_rate_without_bursts() -> None:
    s = Sampler(2.0)
    times = [i / 25 for i in range(250)]  # 10 s at 25 fps
    picked = [t for t in times if s.due(t)]
    assert 19 <= len(picked) <= 21
    assert min(np.diff(picked)) >= 0.5 - 0.05
    # a 10 s gap gives one frame, not a burst of twenty catch-up frames
    after = [t for t in (20.0, 20.04, 20.08) if s.due(t)]
    assert after == [20.0]


def test_sampler_rejects_bad_fps() -> None:
    with pytest.raises(ValidationError):
        Sampler(0)


def test_timestamps_follow_media_clock_and_stay_monotonic() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    mapper = TimestampMapper(live=False, clock=lambda: t0)
    a = mapper.map(10.0, 1)
    b = mapper.map(10.5, 1)
    assert b - a == timedelta(seconds=0.5)
    c = mapper.map(0.0, 2)  # reconnect: media clock restarts, capture time must not go back
    assert c > b
    d = mapper.map(None, 2)  # no PTS: wall clock, still after c
    assert d > c


def test_live_timestamps_reanchor_on_drift() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    mapper = TimestampMapper(live=True, max_drift_s=2.0, clock=lambda: now[0])
    mapper.map(0.0, 1)
    now[0] += timedelta(seconds=1)
    assert mapper.map(100.0, 1) == now[0]  # camera clock jumped 99 s ahead: never in the future
    now[0] += timedelta(seconds=10)
    assert mapper.map(100.5, 1) == now[0]  # 9.5 s behind the wall clock: re-anchored
    assert mapper.reanchors == 1
    now[0] += timedelta(seconds=1)
    assert mapper.map(101.0, 1) == now[0] - timedelta(seconds=0.5)  # spacing from the stream


def test_backoff_grows_then_resets() -> None:
    b = Backoff(1.0, 8.0, rng=random.Random(3))
    ceilings = [b.ceiling(i) for i in range(6)]
    assert ceilings == [1, 2, 4, 8, 8, 8]
    delays = [b.next() for _ in range(6)]
    assert all(0.5 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    b.reset()
    assert b.attempt == 0


def test_queue_drops_oldest_and_counts() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(3)
    for i in range(10):
        q.put(i)
    assert len(q) == 3 and q.dropped == 7
    assert [q.get(0), q.get(0), q.get(0), q.get(0.01)] == [7, 8, 9, None]


def test_queue_get_wakes_on_put() -> None:
    q: DropOldestQueue[int] = DropOldestQueue(1)
    threading.Timer(0.05, q.put, args=(1,)).start()
    assert q.get(2.0) == 1


def test_tamper_black_lens_raised_after_hold_and_cleared() -> None:
    d = TamperDetector(TamperThresholds(hold_s=2.0))
    for t in range(3):
        d.update(noisy(t), float(t))
    assert d.update(img(3), 3.0) == frozenset()
    assert TamperSignal.BLACK in d.update(img(3), 5.5)
    for t in range(6, 12):
        active = d.update(noisy(t), float(t))
    assert TamperSignal.BLACK not in active


def test_tamper_frozen_image() -> None:
    d = TamperDetector(TamperThresholds(hold_s=2.0))
    frame = noisy(1)
    signals = [d.update(frame, float(t)) for t in range(5)]
    assert TamperSignal.FROZEN in signals[-1]
    assert TamperSignal.BLACK not in signals[-1]


def test_tamper_normal_scene_raises_nothing() -> None:
    d = TamperDetector(TamperThresholds(hold_s=2.0))
    for t in range(30):
        assert d.update(noisy(t), float(t)) == frozenset()


def test_tamper_scene_change_is_one_event() -> None:
    d = TamperDetector(TamperThresholds(hold_s=2.0))
    base = np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1))
    scene_a = np.dstack([base] * 3)
    scene_b = np.ascontiguousarray(scene_a[:, ::-1])
    rng = np.random.default_rng(0)

    def jitter(x: np.ndarray) -> np.ndarray:
        return np.clip(x.astype(int) + rng.integers(-3, 4, x.shape), 0, 255).astype(np.uint8)

    for t in range(5):
        d.update(jitter(scene_a), float(t))
    raised = [
        TamperSignal.SCENE_CHANGE in d.update(jitter(scene_b), float(t)) for t in range(5, 15)
    ]
    assert any(raised) and not raised[-1]
    assert d.raised_count == 1


class FakeSource:
    """A scripted source: each connection runs the next script entry."""

    def __init__(self, spec: SourceSpec, script: list[object]) -> None:
        self.spec = spec
        self.counters = DecodeCounters()
        self.script = script
        self.connections = 0

    def frames(self, stop: threading.Event) -> Iterator[RawFrame]:
        self.connections += 1
        step = self.script.pop(0) if self.script else "block"
        if isinstance(step, BaseException):
            raise step
        if step == "block":
            stop.wait()
            return
        for i in range(int(step)):  # type: ignore[call-overload]
            yield RawFrame(noisy(i), i * 0.5, True, self.connections)


def worker_with(script: list[object], kind: str = "rtsp") -> tuple[CameraWorker, FakeSource]:
    spec = SourceSpec("cam", "rtsp://u:secretpw@h/x", kind, fps=2)  # type: ignore[arg-type]
    holder: list[FakeSource] = []

    def factory(s: SourceSpec) -> FakeSource:
        holder.append(FakeSource(s, script))
        return holder[0]

    w = CameraWorker(
        spec, queue_size=2, reconnect_min_s=0.01, reconnect_max_s=0.02, source_factory=factory
    )
    return w, holder[0]


def test_worker_reconnects_after_faults_and_goes_online() -> None:
    w, _src = worker_with([SourceError("camera cam: host unreachable rtsp://u:secretpw@h"), 3])
    w.start()
    assert _wait(lambda: w.frames == 3)
    assert _wait(lambda: w.reconnects == 2)  # the stream then ended: reconnect again
    snap = w.snapshot()
    assert snap.state is CameraState.OFFLINE and "ended" in (snap.last_error or "")
    assert snap.dropped == 1 and len(w.queue) == 2
    assert snap.last_error is not None and "secretpw" not in snap.last_error
    assert w.stop(2.0)
    assert not w.failed


def test_worker_permanent_input_error_stops_without_retry() -> None:
    w, src = worker_with([InputError("camera cam: video file x does not exist")], kind="file")
    w.start()
    assert w.join(2.0)
    assert w.finished and not w.failed and src.connections == 1
    assert w.snapshot().state is CameraState.OFFLINE
    assert "does not exist" in (w.snapshot().last_error or "")


def test_worker_frames_have_monotonic_refs() -> None:
    w, _ = worker_with([5, 5])
    w.queue = DropOldestQueue(100)
    w.start()
    assert _wait(lambda: w.frames == 10)
    w.stop(2.0)
    refs = [f.ref for f in iter(lambda: w.queue.get(0), None)]
    assert [r.index for r in refs] == list(range(10))
    assert all(b.captured_at > a.captured_at for a, b in itertools.pairwise(refs))


def test_supervisor_restarts_crashed_worker_with_rate_limit() -> None:
    crash = RuntimeError("bug in frame handling")
    w, _src = worker_with([crash, crash, crash, crash, "block"])
    clock = [0.0]
    sup = Supervisor([w], restart_limit=2, restart_window_s=60, clock=lambda: clock[0])
    w.start()
    assert _wait(lambda: w.failed)
    assert sup.check() == ["cam"]
    assert _wait(lambda: w.failed)
    assert sup.check() == ["cam"]
    assert _wait(lambda: w.failed)
    assert sup.check() == []  # third crash within the window: held back
    assert sup.report().waiting_for_restart == ("cam",)
    clock[0] = 61.0
    assert sup.check() == ["cam"]
    report = sup.report()
    assert report.restarts == {"cam": 3}
    assert "bug in frame handling" in report.last_failures["cam"]
    assert sup.stop(2.0) == []


def test_supervisor_stop_is_bounded() -> None:
    workers = [worker_with(["block"])[0] for _ in range(1)]
    sup = Supervisor(workers, poll_s=0.05)
    sup.start()
    assert sup.stop(2.0) == []
    assert all(not w.alive for w in workers)


def test_split_credentials_moves_userinfo_to_auth() -> None:
    url, auth = split_credentials("http://admin:p%40ss@cam.local:8080/snap.jpg?x=1")
    assert url == "http://cam.local:8080/snap.jpg?x=1" and auth is not None
    assert split_credentials("http://cam/snap.jpg") == ("http://cam/snap.jpg", None)


def _wait(cond: object, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False
