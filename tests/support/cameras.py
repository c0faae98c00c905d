"""Real servers the ingestion tests talk to: a GStreamer RTSP camera and an HTTP MJPEG/snapshot
camera, both on 127.0.0.1, plus small helpers (free ports, waiting for a condition)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

SYSTEM_PYTHON = "/usr/bin/python3"
RTSP_SCRIPT = Path(__file__).with_name("rtsp_server.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(cond: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``cond`` until it is true or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return cond()


def require_gst_rtsp() -> None:
    """Skip with the packages to install when GStreamer's RTSP server is not available."""
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.skip(
            "needs GStreamer's RTSP server for /usr/bin/python3 (apt-get install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,bad,ugly} "
            "gstreamer1.0-libav)"
        )


class RtspServer:
    """A GStreamer RTSP server process serving ``video`` at rtsp://127.0.0.1:PORT/cam.

    :meth:`kill` is a camera dying mid-stream; :meth:`start` again brings it back on the same port.
    """

    def __init__(self, video: Path, *, gop: int = 10, fps: int | None = None) -> None:
        self.video = video
        self.gop = gop
        self.fps = fps
        self.port = free_port()
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def start(self, timeout: float = 15.0) -> None:
        cmd = [SYSTEM_PYTHON, str(RTSP_SCRIPT), "--file", str(self.video)]
        cmd += ["--port", str(self.port), "--gop", str(self.gop)]
        if self.fps:
            cmd += ["--fps", str(self.fps)]
        deadline = time.monotonic() + timeout
        while True:  # the port may linger briefly after a kill
            self.proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
            )
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline().strip()
            if line.startswith("READY"):
                return
            self.proc.kill()
            self.proc.wait()
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start: {line!r}")
            time.sleep(0.3)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None


@contextlib.contextmanager
def rtsp_server(video: Path, **kwargs: int | None) -> Iterator[RtspServer]:
    require_gst_rtsp()
    server = RtspServer(video, **kwargs)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.kill()


def synthetic_jpegs(n: int = 20, size: tuple[int, int] = (320, 240)) -> list[bytes]:
    """JPEG frames of a moving bright square over a noisy gradient (a scene with motion)."""
    rng = np.random.default_rng(0)
    w, h = size
    base = np.tile(np.linspace(40, 200, w, dtype=np.float32), (h, 1))
    out = []
    for i in range(n):
        img = base + rng.normal(0, 4, (h, w))
        x = (i * 13) % (w - 40)
        img[60:100, x : x + 40] = 250
        ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8))
        assert ok
        out.append(buf.tobytes())
    return out


class HttpCamera:
    """An HTTP camera on 127.0.0.1: ``/mjpeg`` (multipart stream), ``/snapshot.jpg``,
    ``/text.jpg`` (not an image), anything else 404. Set :attr:`stall` to stop sending frames
    without closing connections; :meth:`close` drops every connection (server gone)."""

    def __init__(self, fps: float = 10.0) -> None:
        self.frames = synthetic_jpegs()
        self.fps = fps
        self.stall = threading.Event()
        self.closing = threading.Event()
        self.requests = 0
        camera = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                camera.requests += 1
                if self.path.startswith("/mjpeg"):
                    camera._mjpeg(self)
                elif self.path.startswith("/snapshot.jpg"):
                    body = camera.frames[camera.requests % len(camera.frames)]
                    self._send(200, "image/jpeg", body)
                elif self.path.startswith("/text.jpg"):
                    self._send(200, "text/plain", b"this is not a jpeg")
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str, userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"http://{at}127.0.0.1:{self.port}{path}"

    def _mjpeg(self, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        handler.end_headers()
        i = 0
        try:
            while not self.closing.is_set():
                if self.stall.is_set():
                    time.sleep(0.05)
                    continue
                body = self.frames[i % len(self.frames)]
                handler.wfile.write(
                    b"--frame\r\nContent-Type: image/jpeg\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                    + b"\r\n"
                )
                handler.wfile.flush()
                i += 1
                time.sleep(1.0 / self.fps)
        except (BrokenPipeError, ConnectionResetError):
            return

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def make_gop_video(
    src: Path, dst: Path, *, fps: int = 25, gop_s: float = 1.0, seconds: int = 0
) -> Path:
    """Re-encode ``src`` to H.264 at ``fps`` with a fixed GOP of ``gop_s`` seconds (into a temp
    dir, never the repository); ``seconds`` limits the length (0: whole video)."""
    gop = max(1, round(fps * gop_s))
    cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(src)]
    if seconds:
        cmd += ["-t", str(seconds)]
    cmd += ["-vf", f"fps={fps}", "-c:v", "libx264", "-preset", "veryfast", "-g", str(gop)]
    cmd += ["-keyint_min", str(gop), "-sc_threshold", "0", "-bf", "0", "-an", str(dst)]
    env = dict(os.environ)
    subprocess.run(cmd, check=True, env=env, timeout=300)
    return dst
