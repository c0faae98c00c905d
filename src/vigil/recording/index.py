"""The segment index: database rows plus the files they name, read back verified.

:class:`SegmentIndex` is what playback, retention and evidence export are given: it finds the
segments of a camera and time window, and reads a segment's bytes only after checking them
against the SHA-256 taken when the segment was finished (and decrypting an encrypted one), so a
file changed on disk is refused, never served or exported as footage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vigil.errors import NotFoundError, ValidationError
from vigil.recording.crypto import unseal
from vigil.storage.recordings import RecordingStore, SegmentRow


@dataclass(frozen=True)
class SegmentIndex:
    """Segments indexed in ``store`` with their files under ``root`` (``key``: AES key of
    encrypted segments, ``None`` when recording is not encrypted)."""

    store: RecordingStore
    root: Path
    key: bytes | None = None

    def window(self, camera_id: str, start: datetime, end: datetime) -> list[SegmentRow]:
        """Segments of the camera overlapping ``[start, end]``, oldest first."""
        return self.store.window(camera_id, start, end)

    def path_of(self, row: SegmentRow) -> Path:
        path = (self.root / row.path).resolve()
        if not path.is_relative_to(self.root.resolve()):  # an index row must not point outside
            raise ValidationError(f"segment {row.id} names a path outside the recording dir")
        return path

    def read(self, row: SegmentRow) -> bytes:
        """The segment's MP4 bytes, checked against its SHA-256 (and decrypted)."""
        try:
            blob = self.path_of(row).read_bytes()
        except FileNotFoundError:
            # In cluster mode the usual cause: the segment was written to a node's own disk and
            # recording.dir is not storage this process shares (docs/cluster.md).
            raise NotFoundError(
                f"the file of segment {row.id} is missing from this recording.dir "
                "(in cluster mode it must be storage shared by every node)"
            ) from None
        if hashlib.sha256(blob).hexdigest() != row.sha256:
            raise ValidationError(f"segment {row.id} does not match its recorded SHA-256")
        if not row.encrypted:
            return blob
        if self.key is None:
            raise ValidationError(
                f"segment {row.id} is encrypted and no recording.encryption_key_file is set"
            )
        return unseal(self.key, blob, row.id)

    def segment_sink(self) -> Callable[[SegmentRow], bool]:
        """The recorder's ``on_segment``: index a finished segment (idempotent)."""
        return self.store.add
