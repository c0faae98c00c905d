"""Clips: one MP4 for a camera and a time window, remuxed from its segments.

:func:`build_clip` copies packets, it never re-encodes: the clip starts at the last key frame at
or before ``start`` (a decoder needs one; so a clip may begin up to one GOP early) and ends with
the first packet after ``end``. Each segment's timestamps are shifted by its start time relative
to the clip's first packet, so a gap between segments (a camera that was offline) stays a gap in
the clip's timeline rather than being spliced shut. The output is a regular MP4 with its index at
the front (``faststart``) so a browser can seek in it with range requests.

:func:`burn_masks` is the one place footage is re-encoded: roles without the unmask permission
get the privacy masks burned into every frame (decode, black out, H.264 encode). That costs a full
decode and encode of the clip, which is why unmasked playback for authorised roles stays a remux.

Limits: a clip holds one video stream of one set of codec parameters; a camera that changed its
resolution or codec mid-window ends the clip at the change (the response says where it ends).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import av.error
import numpy as np
import numpy.typing as npt

from vigil.errors import NotFoundError, ValidationError
from vigil.recording.index import SegmentIndex
from vigil.recording.masks import HasPolygon, Polygon, apply_masks
from vigil.storage.errors import StorageUnavailableError

log = logging.getLogger(__name__)

CLIP_OPTIONS = {"movflags": "+faststart"}
_AV_ERRORS = (av.error.FFmpegError, OSError, ValueError)


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("clip start and end must include a time zone")
    if end <= start:
        raise ValidationError(f"clip end ({end.isoformat()}) must be after start")


class _ClipMuxer:
    """Copies packets of consecutive segments into one output stream, rebasing timestamps."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.stream: Any = None
        self.shape: tuple[str, int, int] | None = None
        self.origin: datetime | None = None
        self.last_dts: int | None = None
        self.packets = 0
        self.payload = 0

    def accepts(self, stream: Any) -> bool:
        cc = stream.codec_context
        shape = (cc.name, cc.width, cc.height)
        if self.shape is None:
            self.shape = shape
            self.stream = self.out.add_stream_from_template(stream)
        return shape == self.shape

    def copy(self, packets: list[Any], zero: datetime) -> None:
        """Mux ``packets`` of a segment whose pts 0 is at wall time ``zero``."""
        for pkt in packets:
            tb = float(pkt.time_base)
            if self.origin is None:
                self.origin = _abs_time(zero, pkt)
            shift = round((zero - self.origin).total_seconds() / tb)
            dts = int(pkt.dts) + shift
            if self.last_dts is not None and dts <= self.last_dts:  # overlapping clocks
                shift += self.last_dts + 1 - dts
                dts = self.last_dts + 1
            pkt.pts = int(pkt.pts) + shift
            pkt.dts = dts
            pkt.stream = self.stream
            self.out.mux(pkt)
            self.last_dts = dts
            self.packets += 1
            self.payload += pkt.size


def _abs_time(zero: datetime, pkt: Any) -> datetime:
    return zero + timedelta(seconds=float(pkt.pts * pkt.time_base))


def build_clip(
    index: SegmentIndex, camera_id: str, start: datetime, end: datetime, out: Path
) -> Path:
    """Write one MP4 covering ``[start, end]`` of ``camera_id`` to ``out`` (no re-encode).

    Raises :class:`NotFoundError` when nothing was recorded in the window, and
    :class:`ValidationError` for a bad window or a segment that fails its SHA-256 (a changed file
    is never served as footage).
    """
    _check_window(start, end)
    rows = index.window(camera_id, start, end)
    if not rows:
        raise NotFoundError(
            f"nothing was recorded on camera {camera_id} between {start.isoformat()} and "
            f"{end.isoformat()}"
        )
    part = out.with_name(out.name + ".part")
    try:
        with av.open(str(part), "w", format="mp4", options=CLIP_OPTIONS) as container:
            muxer = _ClipMuxer(container)
            for row in rows:
                if not _copy_segment(muxer, index.read(row), row.started_at, start, end):
                    log.info("camera %s: clip ends at a stream change", camera_id)
                    break
            if muxer.packets == 0:
                raise NotFoundError(f"no video of camera {camera_id} in the requested window")
        if part.stat().st_size < muxer.payload:  # FFmpeg does not report every failed write
            raise StorageUnavailableError(
                f"the clip of camera {camera_id} was cut short (disk full?)"
            )
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return out


def _copy_segment(
    muxer: _ClipMuxer, data: bytes, seg_start: datetime, start: datetime, end: datetime
) -> bool:
    """Copy the segment's packets in the window (from the key frame before ``start``); returns
    ``False`` when its codec parameters differ from the clip's."""
    with av.open(io.BytesIO(data), "r") as inp:
        stream = inp.streams.video[0]
        if not muxer.accepts(stream):
            return False
        gop: list[Any] = []
        started = muxer.packets > 0
        zero: datetime | None = None  # the wall time of pts 0: the first (key) packet is at start
        for pkt in inp.demux(stream):
            if pkt.size == 0 or pkt.pts is None or pkt.dts is None:
                continue
            if zero is None:
                zero = seg_start - timedelta(seconds=float(pkt.pts * pkt.time_base))
            at = _abs_time(zero, pkt)
            if at > end:
                break
            if not started:
                if pkt.is_keyframe:
                    gop = []
                gop.append(pkt)
                if at >= start and gop[0].is_keyframe:
                    muxer.copy(gop, zero)
                    started, gop = True, []
                continue
            muxer.copy([pkt], zero)
        if not started and gop and gop[0].is_keyframe and zero is not None:
            muxer.copy(gop, zero)  # the window ends inside this GOP
    return True


def burn_masks(src: Path, out: Path, polygons: Sequence[HasPolygon | Polygon]) -> Path:
    """Re-encode ``src`` to ``out`` (H.264) with every polygon blacked out in every frame.

    Frame timestamps are kept, so the masked clip has the same timeline as the original.
    """
    part = out.with_name(out.name + ".part")
    try:
        with av.open(str(src)) as inp, av.open(str(part), "w", format="mp4") as dst:
            ins = inp.streams.video[0]
            enc = dst.add_stream("libx264", rate=ins.average_rate or 25)
            enc.width, enc.height = ins.codec_context.width, ins.codec_context.height
            enc.pix_fmt = "yuv420p"
            enc.time_base = ins.time_base
            enc.options = {"crf": "23", "preset": "veryfast"}
            for frame in inp.decode(ins):
                bgr: npt.NDArray[np.uint8] = frame.to_ndarray(format="bgr24")  # type: ignore[assignment]
                img = apply_masks(bgr, polygons)
                new = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
                new.pts, new.time_base = frame.pts, frame.time_base
                dst.mux(enc.encode(new))
            dst.mux(enc.encode(None))
        os.replace(part, out)
    except _AV_ERRORS as exc:
        raise ValidationError(f"cannot burn privacy masks into the clip: {exc}") from None
    finally:
        part.unlink(missing_ok=True)
    return out


def clip_window_utc(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """The window in UTC after the same checks :func:`build_clip` makes."""
    _check_window(start, end)
    return start.astimezone(UTC), end.astimezone(UTC)
