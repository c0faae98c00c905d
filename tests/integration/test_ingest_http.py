"""Ingestion from a real HTTP camera on 127.0.0.1: an MJPEG stream (through PyAV) and polled JPEG
snapshots; stalls, a dead server, wrong answers; credentials never shown. Also the ``vigil
cameras`` CLI end to end, including a clean SIGTERM shutdown."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cameras import HttpCamera, free_port, wait_for
from vigil.sources import CameraState, CameraWorker, SourceSpec, detect_kind

pytestmark = pytest.mark.services


@pytest.fixture
def camera() -> Iterator[HttpCamera]:
    cam = HttpCamera(fps=10)
    yield cam
    cam.close()


def http_worker(url: str, **kw: object) -> CameraWorker:
    kw.setdefault("fps", 4.0)
    kw.setdefault("stall_timeout_s", 1.0)
    kw.setdefault("connect_timeout_s", 2.0)
    spec = SourceSpec("gate", url, detect_kind(url), **kw)  # type: ignore[arg-type]
    return CameraWorker(spec, reconnect_min_s=0.1, reconnect_max_s=0.5)


def test_mjpeg_stream_is_sampled_on_the_wall_clock(camera: HttpCamera) -> None:
    w = http_worker(camera.url("/mjpeg"), fps=4.0)
    w.start()
    try:
        assert wait_for(lambda: w.frames >= 2, 10)
        start, t0 = w.frames, time.monotonic()
        time.sleep(2.0)
        rate = (w.frames - start) / (time.monotonic() - t0)
        assert 2.5 <= rate <= 5.0  # 4 fps out of a 10 fps stream
        assert w.snapshot().resolution == (320, 240)
    finally:
        assert w.stop(3.0)


def test_mjpeg_stall_goes_offline_then_recovers(camera: HttpCamera) -> None:
    w = http_worker(camera.url("/mjpeg"))
    w.start()
    try:
        assert wait_for(lambda: w.snapshot().state is CameraState.ONLINE, 10)
        camera.stall.set()
        assert wait_for(lambda: w.snapshot().state is CameraState.OFFLINE, 8)
        camera.stall.clear()
        assert wait_for(lambda: w.snapshot().state is CameraState.ONLINE, 10)
        assert w.reconnects >= 1 and not w.failed
    finally:
        assert w.stop(3.0)


def test_snapshots_with_credentials_never_leak(
    camera: HttpCamera, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    w = http_worker(camera.url("/snapshot.jpg", userinfo="admin:pa55word"), fps=5.0)
    w.start()
    try:
        assert wait_for(lambda: w.frames >= 5, 10)
        assert w.snapshot().state is CameraState.ONLINE
    finally:
        w.stop(3.0)
    assert "pa55word" not in caplog.text


@pytest.mark.parametrize(
    ("path", "message"), [("/missing.jpg", "HTTP 404"), ("/text.jpg", "not a JPEG")]
)
def test_snapshot_errors_are_clear(camera: HttpCamera, path: str, message: str) -> None:
    w = http_worker(camera.url(path))
    w.start()
    try:
        assert wait_for(lambda: w.reconnects >= 2, 10)
        snap = w.snapshot()
        assert snap.state is CameraState.OFFLINE and message in (snap.last_error or "")
    finally:
        assert w.stop(3.0)


def test_dead_http_server_is_offline_not_a_hang() -> None:
    w = http_worker(f"http://127.0.0.1:{free_port()}/mjpeg")
    w.start()
    try:
        assert wait_for(lambda: w.reconnects >= 2, 10)
        assert w.snapshot().state is CameraState.OFFLINE and w.snapshot().last_error
    finally:
        assert w.stop(3.0)


def _config(tmp_path: Path, camera: HttpCamera) -> Path:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        "cameras:\n"
        f"  - id: gate\n    url: {camera.url('/mjpeg', 'admin:pa55word')}\n    fps: 2\n"
        f"  - id: snap\n    url: {camera.url('/snapshot.jpg')}\n    fps: 1\n"
        "  - id: spare\n    url: /nonexistent.mp4\n    enabled: false\n"
    )
    return cfg


def test_cli_list_and_status(tmp_path: Path, camera: HttpCamera) -> None:
    cfg = _config(tmp_path, camera)
    vigil = [sys.executable, "-m", "vigil"]
    out = subprocess.run(
        [*vigil, "cameras", "list", str(cfg), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["gate", "snap", "spare"]
    assert "pa55word" not in out.stdout and rows[0]["kind"] == "mjpeg"
    out = subprocess.run(
        [*vigil, "cameras", "status", str(cfg), "--probe", "3", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    states = {json.loads(line)["camera_id"]: json.loads(line) for line in out.stdout.splitlines()}
    assert set(states) == {"gate", "snap"}  # disabled cameras are not probed
    assert states["gate"]["state"] == "online" and states["gate"]["frames"] >= 2
    assert "pa55word" not in out.stdout + out.stderr


def test_cli_run_stops_cleanly_on_sigterm_within_5_s(tmp_path: Path, camera: HttpCamera) -> None:
    cfg = _config(tmp_path, camera)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigil",
            "cameras",
            "run",
            str(cfg),
            "--report-every",
            "1",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # first status report: the runtime is up
        assert json.loads(line)["camera_id"] == "gate"
        time.sleep(1.0)
        t0 = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)
        rc = proc.wait(10)
        elapsed = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert rc == 0 and elapsed < 5.0
    _, err = proc.communicate()
    assert "0 worker(s) still blocked" in err and "pa55word" not in err
