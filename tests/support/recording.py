"""Helpers for the recording tests: record part of a real clip through the real source tee."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.support.data import shared_data
from vigil.recording.index import SegmentIndex
from vigil.recording.writer import SegmentRecorder
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec
from vigil.storage import Database
from vigil.storage.recordings import RecordingStore

INTEL = ("intel_sample_videos", "one-by-one-person-detection.mp4")


def intel_clip() -> Path:
    """The H.264 pedestrian clip (768x432, 10 fps, 1 s GOP); skips when absent."""
    return shared_data(*INTEL)


def record_file(
    video: Path,
    index: SegmentIndex,
    *,
    frames: int,
    segment_s: float = 2.0,
    camera_id: str = "cam-1",
    fps: float = 1.0,
) -> SegmentRecorder:
    """Read ``video`` faster than real time through an :class:`AVSource` teed to a recorder,
    until ``frames`` analysis frames were sampled; returns the stopped recorder."""
    recorder = SegmentRecorder(
        camera_id, index.root, index.segment_sink(), segment_s=segment_s, key=index.key
    )
    recorder.start()
    spec = SourceSpec(camera_id, str(video), "file", fps=fps, realtime=False, loop=True)
    source = AVSource(spec, tee=recorder)
    stop = threading.Event()
    for n, _ in enumerate(source.frames(stop), start=1):
        if n >= frames:
            break
    recorder.stop()
    return recorder


def index_over(db: Database, root: Path, key: bytes | None = None) -> SegmentIndex:
    return SegmentIndex(RecordingStore(db), root, key)
