"""Key-frame-first scanning of one recorded segment for a post-event search.

A search over hours of footage cannot afford to decode every frame. :func:`scan_segment` makes
two passes over a segment's MP4 bytes:

1. **key frames only** (``codec_context.skip_frame = "NONKEY"``): the decoder skips everything
   between key frames, so with a 1 s GOP the pass analyses one frame a second at a fraction of
   the cost of a full decode;
2. **dense** around candidates: every frame within ``near_s`` of a key frame whose best score
   reached ``candidate`` (a score below the reporting threshold, so a face seen poorly on the key
   frame still triggers the closer look).

The scorer is a callable ``frame -> best score`` so the scan knows nothing of faces or plates; it
is the scorer's job to keep nothing of the faces it looks at (the face scorer of
:mod:`vigil.governance.postevent` keeps only a float per frame).

Trade-off: a person visible for less than a GOP between two key frames and never on one is
missed; lowering ``candidate`` widens the dense pass (slower, fewer misses).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import av
import av.error
import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

Scorer = Callable[[npt.NDArray[np.uint8], datetime], float]


@dataclass(frozen=True, slots=True)
class FrameHit:
    """One decoded frame whose best score reached the threshold."""

    at: datetime
    score: float


@dataclass(slots=True)
class ScanStats:
    """What a scan decoded and analysed (for progress and the benchmark)."""

    key_frames: int = 0
    dense_frames: int = 0
    video_s: float = 0.0
    windows: list[tuple[float, float]] = field(default_factory=list)


def _frames(
    blob: bytes, *, key_only: bool, spans: list[tuple[float, float]] | None = None
) -> list[tuple[float, npt.NDArray[np.uint8]]]:
    """Decoded ``(seconds from segment start, BGR image)`` pairs (key frames or in ``spans``)."""
    out: list[tuple[float, npt.NDArray[np.uint8]]] = []
    try:
        with av.open(io.BytesIO(blob), mode="r") as box:
            stream = box.streams.video[0]
            if key_only:
                stream.codec_context.skip_frame = "NONKEY"
            for frame in box.decode(stream):
                if frame.pts is None or frame.time_base is None:
                    continue
                t = float(frame.pts * frame.time_base)
                if spans is not None and not any(a <= t <= b for a, b in spans):
                    continue
                out.append((t, np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)))
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        raise ValidationError(f"the segment cannot be decoded ({exc})") from exc
    return out


def merge_spans(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching ``(start, end)`` spans joined; sorted, disjoint (so no frame of
    the dense pass is decoded twice)."""
    merged: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def scan_segment(
    blob: bytes,
    started_at: datetime,
    score: Scorer,
    *,
    threshold: float,
    candidate: float,
    near_s: float = 2.0,
    dense: bool = True,
) -> tuple[list[FrameHit], ScanStats]:
    """Frames of one segment scoring at or above ``threshold`` (key frames, then dense windows).

    ``dense=False`` skips the second pass (the benchmark's and a quick triage's choice).
    """
    if not candidate <= threshold:
        raise ValidationError(f"candidate ({candidate}) must not exceed threshold ({threshold})")
    stats = ScanStats()
    hits: dict[float, FrameHit] = {}
    spans: list[tuple[float, float]] = []
    keys = _frames(blob, key_only=True)
    stats.key_frames = len(keys)
    for t, img in keys:
        at = started_at + timedelta(seconds=t)
        s = score(img, at)
        stats.video_s = max(stats.video_s, t)
        if s >= threshold:
            hits[t] = FrameHit(at, s)
        if s >= candidate:
            spans.append((t - near_s, t + near_s))
    if dense and spans:
        stats.windows = merge_spans(spans)
        done = set(hits) | {t for t, _ in keys}
        for t, img in _frames(blob, key_only=False, spans=stats.windows):
            stats.video_s = max(stats.video_s, t)
            if t in done:
                continue
            stats.dense_frames += 1
            at = started_at + timedelta(seconds=t)
            s = score(img, at)
            if s >= threshold:
                hits[t] = FrameHit(at, s)
    return [hits[t] for t in sorted(hits)], stats


def scan_every_frame(blob: bytes, started_at: datetime, score: Scorer) -> ScanStats:
    """Score every decoded frame (the benchmark's baseline)."""
    stats = ScanStats()
    for t, img in _frames(blob, key_only=False):
        score(img, started_at + timedelta(seconds=t))
        stats.dense_frames += 1
        stats.video_s = max(stats.video_s, t)
    return stats
