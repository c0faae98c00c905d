"""Ingestion from real video files: decode modes, key-frame savings, loop, resolution change,
corrupt and non-video input. Videos come from ../shared/data; derived ones are made with ffmpeg
in a temp dir."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.support.cameras import make_gop_video, wait_for
from tests.support.data import shared_data
from vigil.errors import InputError, SourceError
from vigil.sources import CameraState, CameraWorker, DropOldestQueue, SourceSpec
from vigil.sources.av_source import AVSource

pytestmark = pytest.mark.data
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg CLI")


def spec(path: Path | str, **kw: object) -> SourceSpec:
    kw.setdefault("fps", 2.0)
    kw.setdefault("realtime", False)
    return SourceSpec("cam", str(path), "file", **kw)  # type: ignore[arg-type]


def read_all(s: SourceSpec) -> tuple[AVSource, list[object]]:
    src = AVSource(s)
    return src, list(src.frames(threading.Event()))


@pytest.fixture(scope="module")
def gop_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 s of vtest at 25 fps with a 1 s GOP (the issue's key-frame benchmark stream)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg CLI to make the test stream")
    src = shared_data("opencv_vtest", "vtest.avi")
    return make_gop_video(src, tmp_path_factory.mktemp("gop") / "gop1s.mp4", seconds=20)


def test_full_decode_samples_vtest_at_2_fps() -> None:
    src, frames = read_all(spec(shared_data("opencv_vtest", "vtest.avi")))
    cost = src.counters.snapshot()
    assert cost.packets == 795 and cost.frames_decoded == 795
    assert 155 <= len(frames) <= 161  # 79.5 s at 2 fps
    assert frames[0].image.shape == (576, 768, 3)  # type: ignore[attr-defined]


def test_keyframe_mode_decodes_only_keyframes_and_reports_savings(gop_video: Path) -> None:
    src, frames = read_all(spec(gop_video, decode_mode="keyframes"))
    cost = src.counters.snapshot()
    assert cost.keyframe_mode
    assert cost.packets == 500 and cost.packets_decoded == 20 == len(frames)
    assert cost.saved_fraction == pytest.approx(480 / 500)
    assert cost.saved_cpu_s_estimate > 0
    assert all(f.keyframe for f in frames)  # type: ignore[attr-defined]


def test_keyframe_mode_skips_deblocking_only_when_configured(gop_video: Path) -> None:
    """The option reaches the decoder (pixels change) and costs little quality (PSNR vs the
    deblocked key frame); ``auto`` never skips it, since it may switch to full decoding."""
    _, skipped = read_all(spec(gop_video, decode_mode="keyframes"))
    _, deblocked = read_all(
        spec(gop_video, decode_mode="keyframes", keyframe_skip_loop_filter=False)
    )
    _, auto = read_all(spec(gop_video, fps=1.0, decode_mode="auto"))
    a = np.stack([f.image for f in skipped]).astype(np.float64)  # type: ignore[attr-defined]
    b = np.stack([f.image for f in deblocked]).astype(np.float64)  # type: ignore[attr-defined]
    mse = float(np.mean((a - b) ** 2))
    assert mse > 0  # the filter really was skipped
    assert 10 * np.log10(255**2 / mse) > 40  # and the images are still close
    by_time = {f.media_time: f.image for f in deblocked}  # type: ignore[attr-defined]
    same = [np.array_equal(by_time[f.media_time], f.image) for f in auto if f.keyframe]  # type: ignore[attr-defined]
    assert len(same) >= 15 and all(same)


@pytest.mark.parametrize(("fps", "keyframes"), [(1.0, True), (2.0, False)])
def test_auto_mode_uses_keyframes_only_when_the_interval_allows(
    gop_video: Path, fps: float, keyframes: bool
) -> None:
    src, frames = read_all(spec(gop_video, fps=fps, decode_mode="auto"))
    assert src.counters.keyframe_mode is keyframes
    assert len(frames) == pytest.approx(20 * fps, abs=2)


def test_h264_mp4_from_intel_samples() -> None:
    video = shared_data("intel_sample_videos", "one-by-one-person-detection.mp4")
    worker = CameraWorker(spec(video, fps=5.0), queue=DropOldestQueue(1000))
    worker.start()
    assert wait_for(lambda: worker.frames >= 50, 20)
    worker.stop(2.0)
    assert worker.resolution == (768, 432)
    frames = list(iter(lambda: worker.queue.get(0), None))
    times = [f.ref.captured_at for f in frames]
    assert times == sorted(times) and len(set(times)) == len(times)


@needs_ffmpeg
def test_loop_keeps_going_with_monotonic_timestamps(tmp_path: Path) -> None:
    short = make_gop_video(
        shared_data("opencv_vtest", "vtest.avi"), tmp_path / "short.mp4", fps=10, seconds=2
    )
    worker = CameraWorker(spec(short, fps=5.0, loop=True), queue=DropOldestQueue(1000))
    worker.start()
    assert wait_for(lambda: worker.frames >= 30, 20)  # 3 passes of a 2 s file
    worker.stop(2.0)
    assert worker.snapshot().state is CameraState.OFFLINE and not worker.failed
    times = [f.ref.captured_at for f in iter(lambda: worker.queue.get(0), None)]
    assert all(b > a for a, b in itertools.pairwise(times))
    span = (times[-1] - times[0]).total_seconds()
    assert span == pytest.approx((len(times) - 1) / 5.0, rel=0.15)


@needs_ffmpeg
def test_resolution_change_midstream_is_reported_not_fatal(tmp_path: Path) -> None:
    vt = shared_data("opencv_vtest", "vtest.avi")
    parts = []
    for i, size in enumerate(("320:240", "640:360")):
        out = tmp_path / f"p{i}.ts"
        subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-y",
                "-i",
                str(vt),
                "-t",
                "2",
                "-vf",
                f"scale={size}",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-g",
                "10",
                "-an",
                str(out),
            ],
            check=True,
            timeout=120,
        )
        parts.append(out.read_bytes())
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(parts))  # MPEG-TS segments concatenate byte-wise
    worker = CameraWorker(spec(joined, fps=5.0), queue=DropOldestQueue(1000))
    worker.start()
    assert worker.join(20)
    snap = worker.snapshot()
    assert worker.finished and not worker.failed
    assert snap.resolution == (640, 360) and snap.resolution_changes == 1
    assert snap.last_error == "end of file"


@needs_ffmpeg
def test_corrupt_packets_are_counted_and_survived(tmp_path: Path) -> None:
    clean = make_gop_video(
        shared_data("opencv_vtest", "vtest.avi"), tmp_path / "c.ts", fps=10, seconds=6
    )
    data = bytearray(clean.read_bytes())
    n = len(data)
    for start in range(n // 4, 3 * n // 4, n // 20):  # smash ten stretches of the payload
        data[start : start + 2000] = bytes(range(256)) * 7 + bytes(208)
    broken = tmp_path / "broken.ts"
    broken.write_bytes(bytes(data))
    worker = CameraWorker(spec(broken, fps=10.0), queue=DropOldestQueue(1000))
    worker.start()
    assert worker.join(20)
    assert worker.finished and not worker.failed
    assert worker.frames > 20
    assert worker.snapshot().last_error == "end of file"


def test_missing_file_is_a_clear_permanent_error() -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_all(spec("/nonexistent/video.mp4"))


def test_non_video_file_is_a_clear_permanent_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("definitely not a video\n" * 100)
    with pytest.raises(InputError, match="cannot open"):
        read_all(spec(text))


def test_truncated_file_gives_error_or_fewer_frames_never_a_hang(tmp_path: Path) -> None:
    video = shared_data("intel_sample_videos", "one-by-one-person-detection.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(video.read_bytes()[:200_000])  # moov atom at the end: unreadable
    try:
        _, frames = read_all(spec(cut))
    except (InputError, SourceError) as exc:
        assert "cut.mp4" in str(exc)
    else:
        assert len(frames) < 50


def test_worker_on_non_video_reports_offline_and_stops(tmp_path: Path) -> None:
    text = tmp_path / "x.avi"
    text.write_bytes(b"\x00" * 10_000)
    worker = CameraWorker(spec(text))
    worker.start()
    assert worker.join(5)
    snap = worker.snapshot()
    assert snap.state is CameraState.OFFLINE and worker.finished and not worker.failed
    assert "x.avi" in (snap.last_error or "")


def test_b_frame_stream_yields_every_frame_up_to_the_end(tmp_path: Path) -> None:
    """A decoder with B-frames holds the last frames until it is drained at the end of file."""
    import av

    path = tmp_path / "bframes.mp4"
    src = list(
        itertools.islice(
            AVSource(spec(shared_data("opencv_vtest", "vtest.avi"), fps=10.0)).frames(
                threading.Event()
            ),
            28,
        )
    )
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        stream.codec_context.options = {"bf": "3", "g": "30"}
        for f in src:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(f.image, format="bgr24")))  # type: ignore[attr-defined]
        out.mux(stream.encode(None))
    source, frames = read_all(spec(path, fps=10.0))
    assert len(frames) == 28  # all of them, the last three included
    times = [f.media_time for f in frames]  # type: ignore[attr-defined]
    assert times == sorted(times) and times[-1] == pytest.approx(2.7, abs=0.01)
    assert source.counters.snapshot().frames_decoded == 28
