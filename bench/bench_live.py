"""CPU cost of the console's live tiles beside the analysis cost of the same frames.

vtest.avi (768×576) is decoded with PyAV and each sampled frame goes through what a live camera
does: the people stage (:class:`vigil.system.people.PeopleStage`: NanoDet whole frame, ByteTrack,
counts) and then :meth:`vigil.system.live_video.LiveVideo.observe`. For each frame the tile is
then drawn and encoded once (overlays, scaled to ``console.live_fps``' default width 640, JPEG
quality 70) and served to ``V`` viewers (each takes the shared tile and frames it as one MJPEG
part, as the route does). All on one thread; CPU time of the process.

* ``analysis_cpu_ms_per_frame``: the people stage per frame (the baseline).
* ``tile_encode_cpu_ms``: one overlay + scale + JPEG encode; ``tile_encode_to_analysis_ratio``.
* ``serve_cpu_ms_per_viewer_frame``: one viewer's share once the tile exists (cache hit and
  framing); ``per_viewer_to_analysis_ratio``.
* ``shared_vs_per_viewer_encoder_ratio_8``: 8 viewers of one camera with the shared encoder
  against 8 encodes (what an encoder per viewer would cost), same frames, same run.

* ``http_*``: the same through the real route over HTTP: the app (``create_app`` over
  ``assemble``) served by uvicorn in this process, frames fed to the camera's live tile at
  ``live_fps`` (2/s) from the decoded clip, and ``V`` = 0, 1 and 8 ``curl`` processes (separate
  processes, so their CPU is not counted) reading the MJPEG stream for ``http_seconds``. The
  server's CPU per second with ``V`` viewers minus with none, divided by ``V``, is the cost of
  one viewer of one camera (``http_cpu_ms_per_s_per_viewer``); beside it the analysis CPU of
  the same camera per second at 2 fps (``analysis_cpu_ms_per_s_at_2fps``), and their ratio.

Not included: the browser's decoding. Quick: 30 frames and 6 s per HTTP step; full: 150 and 20.
"""

from __future__ import annotations

import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from vigil.config.analytics import PeopleConfig
from vigil.config.console import ConsoleConfig
from vigil.core import FrameRef
from vigil.system.live_video import CameraGeometry, LiveVideo, TileEncoder

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
VTEST = DATA / "opencv_vtest" / "vtest.avi"
VIEWERS = 8


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _frames(n: int, every: int = 2) -> list[np.ndarray]:
    out = []
    with av.open(str(VTEST)) as box:
        for i, frame in enumerate(box.decode(video=0)):
            if i % every == 0:
                out.append(frame.to_ndarray(format="bgr24"))
            if len(out) >= n:
                break
    return out


def _part(jpeg: bytes) -> bytes:
    head = f"--vigilframe\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return head.encode() + jpeg + b"\r\n"


def run(quick: bool = False) -> dict[str, object]:
    from vigil.perception.objects import NanoDetDetector
    from vigil.system.people import PeopleStage

    if not VTEST.exists():
        return {"skipped": f"needs {VTEST}"}
    images = _frames(30 if quick else 150)
    detector = NanoDetDetector(tile_grids=(1,), threads=1, score_threshold=0.1)
    stage = PeopleStage("bench", detector, PeopleConfig())
    geometry = CameraGeometry(
        zones=(("near", ((0.0, 288.0), (768.0, 288.0), (768.0, 576.0), (0.0, 576.0))),),
        lines=(("mid", (384.5, 0.0), (384.5, 576.0)),),
    )
    config = ConsoleConfig(live_fps=10.0)  # no rate skip: every frame is encoded once
    live = LiveVideo({"bench": geometry}, config)
    per_viewer = [TileEncoder(geometry, config) for _ in range(VIEWERS)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    analysis = encode = serve = own = 0.0
    sent = 0
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        ref = FrameRef("bench", t0 + timedelta(seconds=i / 5), i, w, h)
        c = _cpu_s()
        stage.process(image, ref)
        last = stage.last
        live.observe("bench", image, ref, objects=None if last is None else last.tracked.detections)
        c1 = _cpu_s()
        analysis += c1 - c
        time.sleep(0.11)  # past 1/live_fps: the next tile() is a fresh encode
        tile = live.tile("bench")
        c2 = _cpu_s()
        encode += c2 - c1
        for _ in range(VIEWERS):
            shared = live.tile("bench")
            assert shared is tile and tile is not None
            sent += len(_part(shared.jpeg))
        c3 = _cpu_s()
        serve += c3 - c2
        scene = live._cams["bench"].scene
        for enc in per_viewer:  # the alternative: an encoder per viewer
            time.sleep(0)
            enc._encoded_at = -1e9
            enc._tile = None
            _part(enc.tile(scene).jpeg)  # type: ignore[union-attr]
        own += _cpu_s() - c3
    n = len(images)
    a_ms, e_ms = analysis * 1000 / n, encode * 1000 / n
    import tempfile

    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        http = _http(images, 6.0 if quick else 20.0, Path(tmp))
    v_ms = serve * 1000 / (n * VIEWERS)
    shared_8 = e_ms + VIEWERS * v_ms
    own_8 = own * 1000 / n
    return {
        "frames": n,
        "viewers": VIEWERS,
        "analysis_cpu_ms_per_frame": round(a_ms, 2),
        "tile_encode_cpu_ms": round(e_ms, 2),
        "tile_encode_to_analysis_ratio": round(e_ms / a_ms, 3),
        "serve_cpu_ms_per_viewer_frame": round(v_ms, 4),
        "per_viewer_to_analysis_ratio": round(v_ms / a_ms, 5),
        "shared_8_viewers_cpu_ms_per_frame": round(shared_8, 2),
        "per_viewer_encoders_8_cpu_ms_per_frame": round(own_8, 2),
        "shared_vs_per_viewer_encoder_ratio_8": round(shared_8 / own_8, 3),
        "mean_jpeg_kb": round(sent / (n * VIEWERS) / 1024, 1),
        **http,
        "analysis_cpu_ms_per_s_at_2fps": round(2 * a_ms, 2),
        "http_per_viewer_to_analysis_ratio": round(
            http["http_cpu_ms_per_s_per_viewer"] / (2 * a_ms), 3
        ),
        "http_one_viewer_to_analysis_ratio": round(
            http["http_cpu_ms_per_s_one_viewer"] / (2 * a_ms), 3
        ),
    }


def _measure(base: str, token: str, seconds: float) -> dict[str, float]:
    """Server CPU per second while 0, 1 and ``VIEWERS`` curl processes read the stream."""
    import subprocess

    out: dict[str, float] = {}
    for viewers in (0, 1, VIEWERS):
        cmd = ["curl", "-s", "-o", "/dev/null", "--max-time", str(seconds + 1)]
        cmd += ["-H", f"Authorization: Bearer {token}", f"{base}/video/cameras/bench/mjpeg"]
        procs = [subprocess.Popen(cmd) for _ in range(viewers)]
        time.sleep(0.5)
        c0, t0 = _cpu_s(), time.perf_counter()
        time.sleep(seconds)
        out[f"http_server_cpu_ms_per_s_{viewers}_viewers"] = round(
            (_cpu_s() - c0) * 1000 / (time.perf_counter() - t0), 2
        )
        for p in procs:
            p.wait()
    return out


def _http(images: list[np.ndarray], seconds: float, tmp: Path) -> dict[str, float]:
    """Server CPU per second of the real MJPEG route with 0, 1 and 8 curl viewers."""
    import threading

    import httpx
    import uvicorn

    from vigil.api.app import create_app
    from vigil.cli.run_cmd import server_config
    from vigil.config import VigilConfig
    from vigil.core.domain import Role
    from vigil.system.assembly import assemble

    cfg = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp)},
            "api": {"secret_key": "bench-live-secret-key-0123456789", "cookie_secure": False},
            "cameras": [{"id": "bench", "url": str(VTEST), "analytics": ["persons"]}],
        }
    )
    built = assemble(cfg)
    assert built.system is not None
    live = built.system.live
    built.services.accounts.create_user("bench-op", "bench password 123", [Role.OPERATOR])
    app = create_app(cfg, services=built.services, system=built.system, start_background=False)
    server = uvicorn.Server(server_config(app, "127.0.0.1", 0))
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1"
    token = httpx.post(
        f"{base}/auth/login",
        json={"username": "bench-op", "password": "bench password 123", "mode": "token"},
    ).json()["token"]
    stop = threading.Event()

    def feed() -> None:  # the camera: a new analysed frame every 1/2 s
        i = 0
        while not stop.is_set():
            img = images[i % len(images)]
            ref = FrameRef("bench", datetime.now(UTC), i, img.shape[1], img.shape[0])
            live.observe("bench", img, ref)
            i += 1
            stop.wait(0.5)

    threading.Thread(target=feed, daemon=True).start()
    time.sleep(1.0)
    try:
        out = _measure(base, token, seconds)
    finally:
        stop.set()
        server.should_exit = True
        serving.join(15)
        built.services.repo.db.dispose()
    base_cpu = out["http_server_cpu_ms_per_s_0_viewers"]
    out["http_cpu_ms_per_s_per_viewer"] = round(
        (out[f"http_server_cpu_ms_per_s_{VIEWERS}_viewers"] - base_cpu) / VIEWERS, 2
    )
    out["http_cpu_ms_per_s_one_viewer"] = round(
        out["http_server_cpu_ms_per_s_1_viewers"] - base_cpu, 2
    )
    return out


if __name__ == "__main__":
    print(run(quick=True))
