"""Building recording from the config: the segment index, the playback service, the recorders.

Part of the composition root (:mod:`vigil.system.assembly` calls these): the key file is read
here, once, so a missing or malformed key stops start-up with a clear error instead of failing
at the first finished segment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from vigil.config.settings import CameraConfig, VigilConfig
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.recordings import RecordingService, camera_recordings
from vigil.recording.crypto import load_key
from vigil.recording.index import SegmentIndex
from vigil.recording.playback import build_clip
from vigil.recording.writer import SegmentRecorder
from vigil.storage import Repository
from vigil.storage.recordings import RecordingStore

CLIP_CACHE = "clips"


def recording_root(config: VigilConfig) -> Path:
    """``recording.dir``, under ``system.data_dir`` when relative."""
    return config.system.data_dir / config.recording.dir


def segment_index(config: VigilConfig, repo: Repository) -> SegmentIndex:
    """The segment index over ``repo`` with the configured key (read now when set)."""
    key_file = config.recording.encryption_key_file
    key = None if key_file is None else load_key(key_file)
    return SegmentIndex(RecordingStore(repo.db), recording_root(config), key)


def recording_service(
    config: VigilConfig,
    repo: Repository,
    audit: AuditLog,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> RecordingService:
    """Audited playback and recording retention for the configured cameras."""
    return RecordingService(
        repo,
        audit,
        segment_index(config, repo),
        camera_recordings(config.cameras),
        settings=config.recording,
        cache_dir=config.system.data_dir / CLIP_CACHE,
        clock=clock,
    )


def recorder_factory(
    config: VigilConfig, index: SegmentIndex
) -> Callable[[CameraConfig], SegmentRecorder | None]:
    """Per camera: its recorder, or ``None`` when the camera records nothing."""
    settings = config.recording

    def make(cam: CameraConfig) -> SegmentRecorder | None:
        if cam.record == "off":
            return None
        return SegmentRecorder(
            cam.id,
            index.root,
            index.segment_sink(),
            segment_s=settings.segment_s,
            queue_packets=settings.queue_packets,
            key=index.key,
        )

    return make


class RecordedClips:
    """The evidence exporter's clip source (:class:`vigil.governance.evidence.ClipProvider`):
    footage remuxed from the recorded segments, the same path playback uses."""

    def __init__(self, index: SegmentIndex) -> None:
        self.index = index

    def clip(self, camera_id: str, start: datetime, end: datetime, out: Path) -> Path:
        return build_clip(self.index, camera_id, start, end, out)
