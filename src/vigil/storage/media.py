"""The media store: crops, key frames and exports as content-addressed blobs.

A blob's key is the SHA-256 of its bytes (64 hex characters), so identical bytes are stored once,
a key always names exactly one content, and a reader can verify what it got. The
:class:`MediaStore` protocol is all callers see; :class:`LocalMediaStore` is the default (one file
per blob under ``root/ab/cd/<key>``), and an S3-compatible store implements the same four methods
(``put`` -> ``PutObject`` with the key, ``delete`` -> ``DeleteObject`` on a bucket without
versioning, so deletion really removes the bytes).

Writes are atomic: bytes go to a temporary file in the same folder, are fsynced, then renamed over
the final name, and the folder is fsynced; a crash leaves either the whole blob or none (stray
``.tmp-*`` files are removed by :meth:`LocalMediaStore.sweep`).

Deletion removes the file (and, by default, first overwrites it with zeros so the bytes do not
linger in free blocks of simple filesystems; on copy-on-write filesystems or SSDs only
full-disk encryption guarantees that). Because identical bytes share one key, the caller deletes a
key only when no record refers to it any more (the purge job checks references).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from vigil.errors import InputError, NotFoundError, ValidationError

log = logging.getLogger(__name__)
_KEY = re.compile(r"^[0-9a-f]{64}$")


def media_key(data: bytes) -> str:
    """The content address of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check_key(key: str) -> str:
    """Validate a key (also stops path traversal through keys taken from requests)."""
    if not _KEY.fullmatch(key):
        raise ValidationError(f"media key must be 64 lowercase hex characters, got {key[:80]!r}")
    return key


class MediaStore(Protocol):
    """Content-addressed blob storage."""

    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> bool: ...


class LocalMediaStore:
    """Blobs as files under ``root`` (mode 0600, folders 0700).

    Attributes:
        max_bytes: largest blob accepted; bigger uploads are refused, not truncated.
        scrub: overwrite a file with zeros before unlinking it (slower deletes, fewer remnants).
    """

    def __init__(self, root: Path, *, max_bytes: int = 64 * 2**20, scrub: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.max_bytes = max_bytes
        self.scrub = scrub

    def path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        """Store ``data`` (no-op if already present); returns its key."""
        if len(data) > self.max_bytes:
            raise InputError(f"blob is {len(data)} bytes, the limit is {self.max_bytes}")
        key = media_key(data)
        final = self.path(key)
        if final.exists():
            return key
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(final.parent)
        return key

    def get(self, key: str) -> bytes:
        """The bytes of ``key``, verified against the key."""
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no media {key}") from None
        if media_key(data) != key:
            raise InputError(f"media {key} is corrupt (content hash differs)")
        return data

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> bool:
        """Remove the blob's bytes; returns whether it existed."""
        path = self.path(key)
        try:
            if self.scrub:
                size = path.stat().st_size
                with open(path, "r+b") as fh:
                    fh.write(bytes(size))
                    fh.flush()
                    os.fsync(fh.fileno())
            path.unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(path.parent)
        return True

    def keys(self) -> Iterator[str]:
        """Every stored key (for audits such as "no non-match crop remains")."""
        for path in self.root.glob("??/??/*"):
            if _KEY.fullmatch(path.name):
                yield path.name

    def sweep(self) -> int:
        """Remove temporary files left by a crash mid-write; returns how many."""
        stale = list(self.root.glob("??/??/.tmp-*"))
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
