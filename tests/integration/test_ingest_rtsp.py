"""Ingestion from a real RTSP camera: GStreamer's RTSP server (Debian packages, run by
/usr/bin/python3) streaming vtest.avi as H.264. The server is killed mid-stream, frozen
(SIGSTOP: a stall) and restarted; the camera must go offline and come back online with the same
worker thread, never a crash."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cameras import RtspServer, free_port, rtsp_server, wait_for
from tests.support.data import shared_data
from vigil.sources import CameraState, CameraWorker, SourceSpec

pytestmark = [pytest.mark.services, pytest.mark.data]


@pytest.fixture
def server() -> Iterator[RtspServer]:
    with rtsp_server(shared_data("opencv_vtest", "vtest.avi"), gop=10) as srv:
        yield srv


def rtsp_worker(url: str, **kw: object) -> CameraWorker:
    kw.setdefault("fps", 2.0)
    kw.setdefault("stall_timeout_s", 2.0)
    kw.setdefault("connect_timeout_s", 5.0)
    spec = SourceSpec("door", url, "rtsp", **kw)  # type: ignore[arg-type]
    return CameraWorker(spec, reconnect_min_s=0.2, reconnect_max_s=1.0)


def online(w: CameraWorker) -> bool:
    return w.snapshot().state in (CameraState.ONLINE, CameraState.DEGRADED)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_stream_decodes_at_the_sampling_rate(server: RtspServer, transport: str) -> None:
    w = rtsp_worker(server.url, transport=transport)
    w.start()
    try:
        assert wait_for(lambda: online(w), 15), w.snapshot()
        first = w.frames
        assert wait_for(lambda: w.frames >= first + 6, 10)
        snap = w.snapshot()
        assert snap.resolution == (768, 576)
        assert snap.decode.frames_decoded > snap.frames  # 10 fps decoded, 2 fps sampled
    finally:
        assert w.stop(3.0)


def test_keyframe_only_over_rtsp_when_gop_fits_the_interval(server: RtspServer) -> None:
    # GOP 10 frames at 10 fps = 1 s; analysing at 1 fps lets auto mode decode key frames only.
    w = rtsp_worker(server.url, fps=1.0)
    w.start()
    try:
        # auto mode decodes everything until it has measured the GOP (two key frames)
        assert wait_for(lambda: w.snapshot().decode.keyframe_mode, 20)
        before, frames = w.snapshot().decode, w.frames
        assert wait_for(lambda: w.frames >= frames + 3, 10)
        after = w.snapshot().decode
        decoded = after.packets_decoded - before.packets_decoded
        skipped = after.packets_skipped - before.packets_skipped
        assert skipped >= 5 * decoded  # ~9 of every 10 packets never reach the decoder
    finally:
        w.stop(3.0)


def test_server_killed_midstream_then_restarted(server: RtspServer) -> None:
    w = rtsp_worker(server.url)
    w.start()
    try:
        assert wait_for(lambda: online(w), 15)
        thread = w._thread
        server.kill()
        assert wait_for(lambda: w.snapshot().state is CameraState.OFFLINE, 10)
        down = w.snapshot()
        assert down.last_error and down.since >= down.last_frame_at  # type: ignore[operator]
        server.start()
        assert wait_for(lambda: online(w), 30), w.snapshot()
        frames = w.frames
        assert wait_for(lambda: w.frames > frames + 2, 10)
        up = w.snapshot()
        assert up.reconnects >= 1 and up.running and not w.failed and w._thread is thread
    finally:
        assert w.stop(3.0)


def test_stalled_server_is_detected_and_recovered(server: RtspServer) -> None:
    w = rtsp_worker(server.url, stall_timeout_s=1.5)
    w.start()
    try:
        assert wait_for(lambda: online(w), 15)
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGSTOP)  # the camera hangs without closing sockets
        try:
            assert wait_for(lambda: w.snapshot().state is CameraState.OFFLINE, 10)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        assert wait_for(lambda: online(w), 30), w.snapshot()
        assert not w.failed
    finally:
        assert w.stop(4.0)


def test_unreachable_port_goes_offline_with_backoff() -> None:
    w = rtsp_worker(f"rtsp://admin:s3cr3tpw@127.0.0.1:{free_port()}/cam")
    w.start()
    try:
        assert wait_for(lambda: w.reconnects >= 2, 10)
        snap = w.snapshot()
        assert snap.state is CameraState.OFFLINE and snap.frames == 0
        assert snap.last_error and "refused" in snap.last_error.lower()
        assert "s3cr3tpw" not in snap.last_error
    finally:
        assert w.stop(3.0)


def test_stop_is_prompt_while_streaming(server: RtspServer) -> None:
    import time

    w = rtsp_worker(server.url)
    w.start()
    assert wait_for(lambda: online(w), 15)
    t0 = time.monotonic()
    assert w.stop(5.0)
    assert time.monotonic() - t0 < 2.0


def test_rtsp_script_is_valid_python_for_system_interpreter() -> None:
    script = Path(__file__).parents[1] / "support" / "rtsp_server.py"
    compile(script.read_text(), str(script), "exec")
