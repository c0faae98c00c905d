"""Idempotency keys of recorded decisions, and the stream epochs they are built from.

Delivery from a stage to the system of record is at-least-once (a decision may be written again
after a lost acknowledgement, replayed from the outbox's disk spool after a crash, or produced
again when a camera actor restarts and reads the same file from the start). Each recorded
decision therefore carries a deterministic key, stored in the same transaction as the decision:
a second write of the same key is skipped, so the *effect* is exactly once.

A key is built from what identifies the decision in the stream, never from the wall clock:

* the camera id;
* the **stream epoch**: which instance of the stream the frame came from. For a file it is a
  digest of the file's identity (resolved path, size, modification time) plus the loop index, so
  reading the same file again yields the same epochs; for a live source (RTSP, HTTP) it is the
  time the connection was opened, so a reconnect starts a new epoch (the camera's media clock
  restarts, and what it shows is new);
* a **position** in that stream: a track id, or a frame index and an ordinal;
* the **kind** of record (``face``, ``scans``, ``crowd``, ``plate``, ``tamper``,
  ``sighting``, ``crossings``).

The trade-off: a live stream's positions are not reproducible across reconnects, so a decision
made twice on two connections is two records. That is the truth (two observations), and it is
the only case where a replay cannot be recognised.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

KEY_KINDS = frozenset({"face", "scans", "crowd", "plate", "tamper", "sighting", "crossings"})


def record_key(camera_id: str, epoch: str, position: str, kind: str) -> str:
    """The idempotency key of one decision (64 hex characters).

    >>> key = record_key("gate", "f:ab12:0", "t17", "plate")
    >>> key == record_key("gate", "f:ab12:0", "t17", "plate"), len(key)
    (True, 64)
    """
    if kind not in KEY_KINDS:
        raise ValueError(f"record kind must be one of {sorted(KEY_KINDS)}, got {kind!r}")
    if not camera_id or not position:
        raise ValueError("a record key needs a camera id and a stream position")
    raw = "\x1f".join((camera_id, epoch, position, kind))
    return hashlib.sha256(raw.encode()).hexdigest()


def file_epoch(path: str | Path, loop: int) -> str:
    """The epoch of one pass over a video file: its identity digest and the loop index."""
    p = Path(path).resolve()
    st = os.stat(p)
    ident = f"{p}\x1f{st.st_size}\x1f{st.st_mtime_ns}"
    return f"f:{hashlib.sha256(ident.encode()).hexdigest()[:16]}:{loop}"


def live_epoch(opened_at: datetime) -> str:
    """The epoch of one connection to a live source: when it was opened (UTC, microseconds)."""
    return f"l:{opened_at.isoformat(timespec='microseconds')}"
