"""A camera's recorder: packets teed from the source, remuxed into fragmented-MP4 segments.

**Path independent of analysis.** The PyAV source hands every demuxed packet to
:meth:`SegmentRecorder.packet` in the capture thread, before any decode decision (see
:class:`~vigil.sources.base.PacketTee`), so frames dropped by a saturated analysis queue are still
recorded. The capture thread only decides where segments begin and end (cheap arithmetic) and
appends to this recorder's own bounded queue; a writer thread of its own muxes, closes, hashes,
encrypts and indexes. A disk that stalls fills that queue: further packets are dropped and
counted, the open segment is cut there (a gap the index shows), and the camera's capture and
analysis go on untouched. Write errors and a full disk end the segment and are reported in
:meth:`status`, never raised into the camera.

**Segments.** A segment starts at a key frame and is cut at the first key frame at least
``segment_s`` after its start; its end is that key frame's time, which is the next segment's
start, so consecutive segments of one connection abut exactly (0 gaps in the index). Packets are
copied, not re-encoded; their timestamps are rebased to start at 0 in each segment. Fragmented MP4
(``frag_keyframe+empty_moov``) is playable up to the last complete fragment even if the process
dies mid-segment. The file is written as ``*.part`` and renamed when complete; a recorder that
starts removes its camera's leftover ``.part`` files (what a SIGKILL interrupted: at most the open
segment is lost) and indexes complete files whose row never reached the database.

**Time.** Segment times are wall-clock UTC: at each connection the first packet's media time is
anchored to the clock, later packets follow the stream's own timestamps (a live camera's clock
does not jump with network jitter; a file read faster than real time produces footage-time
stamps, which is what a replayed recording should have).

The capture thread passes PyAV objects to the writer thread: the input stream's codec parameters
are copied at :meth:`open` into a template stream of an in-memory container the recorder owns,
because the input container (and its streams) is closed when the connection ends, possibly before
the writer has opened the segment that needs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import av.error

from vigil.recording.crypto import seal
from vigil.storage.recordings import SegmentRow

log = logging.getLogger(__name__)

MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
PART = ".part"
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)


def utc_now() -> datetime:
    return datetime.now(UTC)


def segment_name(segment_id: str, start: datetime, end: datetime, encrypted: bool) -> str:
    """File name carrying the segment's id and times, so an unindexed file can be re-indexed."""
    stamp = f"{int(start.timestamp() * 1e6)}-{int(end.timestamp() * 1e6)}"
    return f"{stamp}_{segment_id}.mp4" + (".enc" if encrypted else "")


def parse_segment_name(name: str) -> tuple[str, datetime, datetime, bool] | None:
    """``(id, start, end, encrypted)`` from :func:`segment_name`'s output, ``None`` otherwise."""
    encrypted = name.endswith(".mp4.enc")
    if not (encrypted or name.endswith(".mp4")):
        return None
    stem = name.removesuffix(".enc").removesuffix(".mp4")
    stamp, _, seg_id = stem.partition("_")
    a, _, b = stamp.partition("-")
    if not (a.isdigit() and b.isdigit() and seg_id):
        return None
    start = datetime.fromtimestamp(int(a) / 1e6, UTC)
    return seg_id, start, datetime.fromtimestamp(int(b) / 1e6, UTC), encrypted


@dataclass
class RecorderStatus:
    """A recorder's counters (per camera): what ``vigil cameras status`` and the API show."""

    camera_id: str
    state: str = "idle"  # idle | recording | error
    segments: int = 0
    bytes: int = 0
    packets: int = 0
    dropped_packets: int = 0
    write_errors: int = 0
    index_pending: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_segment_end: datetime | None = None
    recovered_partial: int = 0
    remux_cpu_s: float = 0.0


@dataclass(frozen=True, slots=True)
class _Start:
    segment_id: str
    start: datetime
    template: Any


@dataclass(frozen=True, slots=True)
class _End:
    end: datetime


class SegmentRecorder:
    """Records one camera (see the module docstring); a :class:`~vigil.sources.base.PacketTee`.

    Args:
        camera_id: the camera.
        root: the recording directory; this camera's files go under ``root/camera_id/day/``.
        on_segment: indexes a finished segment (the database write); a failure keeps the row
            pending (bounded) and retries it with the next segment.
        segment_s: target segment length (cut at the next key frame after it).
        queue_packets: packets buffered for the writer thread before dropping.
        key: a 32-byte AES key to encrypt finished segments, ``None`` for plain files.
        clock: wall clock anchoring each connection's media time.
        recover_window_s: at start, complete files modified this recently are (re-)indexed.
    """

    def __init__(
        self,
        camera_id: str,
        root: Path,
        on_segment: Callable[[SegmentRow], object],
        *,
        segment_s: float = 10.0,
        queue_packets: int = 600,
        key: bytes | None = None,
        clock: Callable[[], datetime] = utc_now,
        recover_window_s: float = 3600.0,
    ) -> None:
        if segment_s <= 0 or queue_packets < 1:
            raise ValueError("segment_s must be > 0 and queue_packets >= 1")
        self.camera_id = camera_id
        self.dir = root / camera_id
        self.on_segment = on_segment
        self.segment_s = segment_s
        self.queue_packets = queue_packets
        self.key = key
        self.clock = clock
        self.recover_window_s = recover_window_s
        self._status = RecorderStatus(camera_id)
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque[Any] = deque()
        self._queued_packets = 0
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pending: deque[SegmentRow] = deque(maxlen=1000)
        # Capture-thread state (only the capture thread touches these).
        self._template: Any = None
        self._holder: Any = None
        self._anchor: tuple[datetime, float] | None = None
        self._open_start: datetime | None = None
        self._last_time: datetime | None = None
        self._last_duration = 0.0
        self._cut = False

    # -- lifecycle (owner thread) -----------------------------------------------------------------

    def start(self) -> None:
        """Clean up after a crash, then start the writer thread."""
        self._recover()
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(
                target=self._run, name=f"recorder-{self.camera_id}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the open segment and stop the writer thread (after the camera has stopped)."""
        self.close()
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def status(self) -> RecorderStatus:
        with self._lock:
            s = self._status
            return RecorderStatus(**{k: getattr(s, k) for k in s.__dataclass_fields__})

    # -- the tee (capture thread) -------------------------------------------------------------

    def open(self, stream: Any) -> None:
        """Copy the new connection's codec parameters into a template the writer can keep."""
        self.close()
        self._anchor = None
        try:
            holder = av.open(io.BytesIO(), "w", format="mp4")
            self._template = holder.add_stream_from_template(stream)
            self._holder = holder
        except _AV_ERRORS as exc:  # e.g. a codec MP4 cannot carry: report, record nothing
            self._template = None
            self._error(f"cannot record codec {stream.codec_context.name!r} as MP4: {exc}")

    def packet(self, packet: Any, media_time: float | None, keyframe: bool) -> None:
        if self._template is None or packet.pts is None or packet.dts is None:
            return
        now = self._time_of(media_time)
        with self._cond:
            self._status.packets += 1
            if self._open_start is not None and (
                keyframe and (now - self._open_start).total_seconds() >= self.segment_s
            ):
                self._end_locked(now)
            if self._open_start is None:
                full = self._queued_packets >= self.queue_packets
                if full or not keyframe:
                    # A segment must start with a key frame; after a cut the packets up to the
                    # next one are lost too, and counted.
                    self._cut = self._cut or full
                    self._status.dropped_packets += int(self._cut)
                    return
                self._cut = False
                self._open_start = now
                self._queue.append(_Start(uuid.uuid4().hex, now, self._template))
            if self._queued_packets >= self.queue_packets:
                # The writer is behind (slow or stalled disk): cut the segment here.
                self._status.dropped_packets += 1
                self._end_locked(self._last_time_end())
                self._cut = True
                return
            self._queue.append(_copy(packet))
            self._queued_packets += 1
            self._last_time = now
            tb = packet.time_base
            self._last_duration = float(packet.duration * tb) if packet.duration and tb else 0.0
            self._cond.notify()

    def discontinuity(self) -> None:
        """The source loops a file: media time continues (the source adds the loop's offset),
        but packet timestamps restart, so the open segment ends here."""
        with self._cond:
            if self._open_start is not None:
                self._end_locked(self._last_time_end())

    def close(self) -> None:
        with self._cond:
            if self._open_start is not None:
                self._end_locked(self._last_time_end())
        self._template = None
        if self._holder is not None:
            self._holder = None

    def _time_of(self, media_time: float | None) -> datetime:
        if media_time is None:
            return self.clock()
        if self._anchor is None:
            self._anchor = (self.clock(), media_time)
        wall, media0 = self._anchor
        return wall + timedelta(seconds=media_time - media0)

    def _last_time_end(self) -> datetime:
        assert self._last_time is not None or self._open_start is not None
        last = self._last_time or self._open_start
        assert last is not None
        return last + timedelta(seconds=self._last_duration)

    def _end_locked(self, end: datetime) -> None:
        self._queue.append(_End(end))
        self._open_start = None
        self._cond.notify()

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        out: _OpenSegment | None = None
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait(0.5)
                if not self._queue and self._stop:
                    break
                item = self._queue.popleft()
                if not isinstance(item, _Start | _End):
                    self._queued_packets -= 1
            t0 = time.thread_time()
            try:
                out = self._handle(item, out)
            except Exception as exc:  # a bug or an unforeseen I/O fault: report, keep the thread
                log.exception("camera %s: recording writer fault", self.camera_id)
                self._error(f"writer fault: {type(exc).__name__}: {exc}")
                if out is not None:
                    out.abandon()
                out = None
            with self._lock:
                self._status.remux_cpu_s += time.thread_time() - t0
        if out is not None:
            out.abandon()

    def _handle(self, item: object, out: _OpenSegment | None) -> _OpenSegment | None:
        """Apply one queued item to the open segment; returns the segment open afterwards."""
        if isinstance(item, _Start):
            if out is not None:
                out.abandon()
            return self._begin(item)
        if isinstance(item, _End):
            if out is not None:
                self._finish(out, item.end)
            return None
        if out is not None and not out.mux(item):
            self._error(out.error or "mux failed")
            out.abandon()
            return None
        return out

    def _begin(self, start: _Start) -> _OpenSegment | None:
        day = self.dir / start.start.strftime("%Y-%m-%d")
        seg = _OpenSegment(start.segment_id, start.start, day / f"{start.segment_id}.mp4{PART}")
        if not seg.open(start.template):
            self._error(seg.error or "cannot open segment")
            return None
        with self._lock:
            self._status.state = "recording"
        return seg

    def _finish(self, seg: _OpenSegment, end: datetime) -> None:
        if not seg.close():
            self._error(seg.error or "cannot close segment")
            seg.abandon()
            return
        # FFmpeg's file output does not report every failed write (a full disk can leave a
        # silently truncated file): a file smaller than the packet data it holds is refused.
        size = seg.path.stat().st_size
        if size < seg.payload:
            self._error(
                f"segment truncated: {size} bytes on disk for {seg.payload} bytes of video "
                "(disk full or file too large?)"
            )
            seg.abandon()
            return
        try:
            row = self._store(seg, end)
        except OSError as exc:
            self._error(f"cannot finish segment: {exc}")
            seg.abandon()
            return
        with self._lock:
            self._status.segments += 1
            self._status.bytes += row.bytes
            self._status.last_segment_end = row.ended_at
        self._index(row)

    def _store(self, seg: _OpenSegment, end: datetime) -> SegmentRow:
        """Hash (and seal) the closed file and move it to its final name."""
        data = seg.path.read_bytes()
        encrypted = self.key is not None
        if self.key is not None:
            data = seal(self.key, data, seg.segment_id)
        final = seg.path.with_name(segment_name(seg.segment_id, seg.start, end, encrypted))
        if encrypted:
            tmp = final.with_name(final.name + PART)
            _write_synced(tmp, data)
            os.replace(tmp, final)
            seg.path.unlink(missing_ok=True)
        else:
            with open(seg.path, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(seg.path, final)
        return SegmentRow(
            id=seg.segment_id,
            camera_id=self.camera_id,
            started_at=seg.start,
            ended_at=max(end, seg.start),
            path=str(final.relative_to(self.dir.parent)),
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            encrypted=encrypted,
            created_at=self.clock(),
        )

    def _index(self, row: SegmentRow) -> None:
        self._pending.append(row)
        self._flush()

    def _flush(self) -> None:
        """Index the pending rows in order; keep the failures for the next try."""
        while self._pending:
            try:
                self.on_segment(self._pending[0])
            except Exception as exc:  # the database's problem must not stop recording
                self._error(f"indexing segment failed (will retry): {exc}")
                break
            self._pending.popleft()
        with self._lock:
            self._status.index_pending = len(self._pending)

    def _error(self, message: str) -> None:
        log.warning("camera %s: recording: %s", self.camera_id, message)
        with self._lock:
            self._status.write_errors += 1
            self._status.state = "error"
            self._status.last_error = message[:300]
            self._status.last_error_at = self.clock()

    # -- crash recovery ---------------------------------------------------------------------------

    def _recover(self) -> None:
        """Remove leftover ``.part`` files (what a crash interrupted) and index complete files
        written within ``recover_window_s`` whose row may never have reached the database
        (re-indexing is idempotent; older files were indexed by an earlier run)."""
        if not self.dir.is_dir():
            return
        removed = 0
        for path in sorted(self.dir.glob(f"*/*{PART}")):
            path.unlink(missing_ok=True)
            removed += 1
        horizon = time.time() - self.recover_window_s
        for path in sorted(self.dir.glob("*/*.mp4*")):
            parsed = parse_segment_name(path.name)
            if parsed is None or path.stat().st_mtime < horizon:
                continue
            seg_id, start, end, encrypted = parsed
            data = path.read_bytes()
            self._pending.append(
                SegmentRow(
                    id=seg_id,
                    camera_id=self.camera_id,
                    started_at=start,
                    ended_at=end,
                    path=str(path.relative_to(self.dir.parent)),
                    bytes=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    encrypted=encrypted,
                    created_at=self.clock(),
                )
            )
        self._flush()
        with self._lock:
            self._status.recovered_partial += removed
        if removed:
            log.warning("camera %s: removed %d unfinished segment(s)", self.camera_id, removed)


def _copy(packet: Any) -> Any:
    """A copy the writer thread may rebase: the source still decodes and samples on the
    original's timestamps after the tee returns (sharing it made the sampler see rebased,
    restarting times). A memcpy of one compressed packet, tens of kB."""
    copy = av.Packet(packet)
    copy.pts, copy.dts, copy.duration = packet.pts, packet.dts, packet.duration
    copy.time_base = packet.time_base
    copy.is_keyframe = packet.is_keyframe
    return copy


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class _OpenSegment:
    """One segment being muxed (writer thread only)."""

    def __init__(self, segment_id: str, start: datetime, path: Path) -> None:
        self.segment_id = segment_id
        self.start = start
        self.path = path
        self.error: str | None = None
        self._out: Any = None
        self._stream: Any = None
        self._base: int | None = None
        self.payload = 0  # bytes of packet data muxed: the file can never be smaller

    def open(self, template: Any) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = av.open(str(self.path), "w", format="mp4", options=MP4_OPTIONS)
            self._stream = self._out.add_stream_from_template(template)
        except _AV_ERRORS as exc:
            self.error = f"cannot open {self.path.name}: {exc}"
            self.abandon()
            return False
        return True

    def mux(self, packet: Any) -> bool:
        if self._base is None:
            self._base = int(packet.dts)
        try:
            packet.pts = int(packet.pts) - self._base
            packet.dts = int(packet.dts) - self._base
            packet.stream = self._stream
            self._out.mux(packet)
            self.payload += packet.size
        except _AV_ERRORS as exc:
            self.error = f"write failed: {exc}"
            return False
        return True

    def close(self) -> bool:
        try:
            self._out.close()
        except _AV_ERRORS as exc:
            self.error = f"close failed: {exc}"
            return False
        finally:
            self._out = None
        return True

    def abandon(self) -> None:
        if self._out is not None:
            with contextlib.suppress(*_AV_ERRORS):
                self._out.close()
            self._out = None
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)
