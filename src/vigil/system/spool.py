"""The outbox's disk spool: append-only, fsync'd segment files, bounded in bytes, read oldest
first.

Records are opaque lines (the outbox writes one JSON decision per line, with the time it was
queued in front). A segment file is only ever appended to by the process that created it, and is
closed for writing before it is read, so a reader never sees a line being written. A record is
**durable** once :meth:`Spool.append` returns (the line is written, flushed and fsync'd, and the
directory entry of a new segment is fsync'd too); it is **removed** when the whole segment it is
in has been popped, by deleting the file. A crash in between replays the rest of that segment
(and, at worst, records already committed from it): the idempotency keys make that harmless.

A line without its newline at the end of a segment is what a crash during an append leaves; it
was never acknowledged, and is skipped and counted (``torn``) when the segment is read.

Why segments and not one file: deleting a consumed segment is one ``unlink``, where one growing
file would need compaction; the trade-off is up to one segment (``segment_bytes``) of replayed
duplicates after a crash.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections import deque
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

_FIRST = 10**12  # segment numbers start here, so a stop can put memory items *before* them
_SUFFIX = ".spool"
UNDECODABLE = "undecodable.jsonl"
"""Where records that no longer decode are kept (see :meth:`Spool.set_aside`)."""


class SpoolFullError(Exception):
    """The spool holds ``max_bytes`` already: the record was not written."""


class SpoolLockedError(RuntimeError):
    """Another process (or outbox) holds this spool directory."""


class Spool:
    """Segment files under ``directory`` (see the module docstring).

    Args:
        max_bytes: the most the segment files may hold together; an append beyond it raises
            :class:`SpoolFullError` (the caller counts and reports it).
        segment_bytes: a segment is closed and a new one started past this size.
    """

    def __init__(self, directory: Path, *, max_bytes: int, segment_bytes: int = 1 << 20) -> None:
        if max_bytes <= 0 or segment_bytes <= 0:
            raise ValueError("spool sizes must be positive")
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        # One spool per directory: a second process reading (and deleting) the same segments
        # would replay them twice and lose track of what is pending. Refuse it, loudly.
        self._lock = (directory / ".lock").open("a")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise SpoolLockedError(
                f"outbox spool {directory} is in use by another process "
                "(each process needs its own system.data_dir or camera)"
            ) from None
        self._writer: BinaryIO | None = None
        self._writer_seq = 0
        self._writer_size = 0
        self._lines: deque[bytes] = deque()
        self._read_seq: int | None = None
        self.torn = 0
        segs = self._segments()
        self.bytes = sum(self._path(s).stat().st_size for s in segs)
        self.items = sum(self._path(s).read_bytes().count(b"\n") for s in segs)
        self._next_seq = (segs[-1] + 1) if segs else _FIRST
        if segs:
            log.warning(
                "outbox spool %s holds %d record(s) (%d bytes) from before: replaying them",
                directory,
                self.items,
                self.bytes,
            )

    # -- writing -------------------------------------------------------------------------------

    def append(self, record: bytes) -> None:
        """Write one record durably (see the module docstring); ``record`` has no newline."""
        if b"\n" in record:
            raise ValueError("a spool record must not contain a newline")
        line = record + b"\n"
        if self.bytes + len(line) > self.max_bytes:
            raise SpoolFullError(
                f"outbox spool full ({self.bytes} of {self.max_bytes} bytes): record refused"
            )
        if self._writer is None or self._writer_size + len(line) > self.segment_bytes:
            self._open_segment(self._next_seq)
            self._next_seq += 1
        assert self._writer is not None
        self._writer.write(line)
        self._writer.flush()
        os.fsync(self._writer.fileno())
        self._writer_size += len(line)
        self.bytes += len(line)
        self.items += 1

    def prepend(self, records: list[bytes]) -> None:
        """Write ``records`` as a segment read *before* every other (a stop spills the memory
        queue, whose items are older than anything already spooled). Not bounded by
        ``max_bytes``: refusing them at a stop would lose them."""
        if not records:
            return
        segs = self._segments()
        seq = min(segs[0], self._read_seq or segs[0]) - 1 if segs else self._next_seq
        self._close_writer()
        data = b"".join(r + b"\n" for r in records)
        path = self._path(seq)
        with path.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._sync_dir()
        self.bytes += len(data)
        self.items += len(records)
        self._next_seq = max(self._next_seq, seq + 1)
        if self._read_seq is not None and self._read_seq > seq:
            self._lines.clear()  # re-read from the prepended segment on (keys absorb repeats)
            self._read_seq = None

    # -- reading -------------------------------------------------------------------------------

    def peek(self) -> bytes | None:
        """The oldest record not yet popped, or ``None`` when the spool is empty."""
        while not self._lines:
            if not self._load_oldest():
                return None
        return self._lines[0]

    def pop(self) -> None:
        """Drop the record :meth:`peek` returned (it is committed); a drained segment's file
        is deleted."""
        if self.peek() is None:
            raise IndexError("pop from an empty spool")
        self._lines.popleft()
        self.items -= 1
        if not self._lines and self._read_seq is not None:
            self._delete(self._read_seq)
            self._read_seq = None

    def set_aside(self, record: bytes) -> Path:
        """Keep a record that can't be replayed (it no longer decodes, e.g. written by an older
        release) in ``undecodable.jsonl`` beside the segments, fsync'd, so that dropping it from
        the queue loses nothing: an operator can inspect or re-import it. Returns that file."""
        path = self.directory / UNDECODABLE
        with path.open("ab") as out:
            out.write(record.rstrip(b"\n") + b"\n")
            out.flush()
            os.fsync(out.fileno())
        self._sync_dir()
        return path

    def close(self) -> None:
        """Close the segment being written and release the directory (a stopped outbox).

        An empty spool leaves nothing behind: its lock file and directory are removed (while
        the lock is still held), so a node's data folder holds only what is pending, and an
        audit of a node's disk finds no trace of a camera that recorded everything.
        """
        self._close_writer()
        if self._lock.closed:
            return
        if not self._segments():
            (self.directory / ".lock").unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: something else was put there
                self.directory.rmdir()
        self._lock.close()

    # -- files ---------------------------------------------------------------------------------

    def _load_oldest(self) -> bool:
        segs = self._segments()
        if not segs:
            return False
        seq = segs[0]
        if self._writer is not None and seq == self._writer_seq:
            self._close_writer()  # read only closed segments
        data = self._path(seq).read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" after a complete last line
        if tail:
            self.torn += 1
            log.error("outbox spool segment %d ends in a torn record (a crash mid-write)", seq)
        self._read_seq = seq
        self._lines.extend(lines)
        if not lines:
            self._delete(seq)
            self._read_seq = None
        return True

    def _open_segment(self, seq: int) -> None:
        self._close_writer()
        self._writer = self._path(seq).open("ab")
        self._writer_seq = seq
        self._writer_size = 0
        self._sync_dir()

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _delete(self, seq: int) -> None:
        path = self._path(seq)
        size = path.stat().st_size if path.exists() else 0
        path.unlink(missing_ok=True)
        self.bytes = max(0, self.bytes - size)

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _path(self, seq: int) -> Path:
        return self.directory / f"{seq:020d}{_SUFFIX}"

    def _sync_dir(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
