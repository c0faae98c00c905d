"""Frame records, the sampler that picks frames to analyse, and per-camera capture timestamps.

A source yields :class:`RawFrame` (pixels plus the stream's own media time); the camera worker turns
it into a :class:`DecodedFrame` whose :class:`~vigil.core.records.FrameRef` carries a capture time
that is strictly increasing per camera, across reconnects, loops and clock steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from vigil.core.records import FrameRef
from vigil.errors import ValidationError

Image = npt.NDArray[np.uint8]


def utc_now() -> datetime:
    """Wall clock as an aware UTC datetime (injected as a default so tests can replace it)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RawFrame:
    """One sampled, decoded frame as a source yields it.

    Attributes:
        image: ``(H, W, 3)`` uint8 BGR pixels.
        media_time: seconds on the stream's own clock (PTS × time base), or ``None`` when the
            stream has no timestamps (MJPEG, snapshots) and the wall clock must be used.
        keyframe: whether the frame was an intra (key) frame.
        segment: connection counter of the source; a new value means the stream restarted, so
            its media clock may have jumped.
        epoch: which instance of the stream this is (see :mod:`vigil.core.keys`): a file's
            identity and loop index, or a live connection's opening time; part of every
            idempotency key of what is decided on the frame.
    """

    image: Image
    media_time: float | None
    keyframe: bool
    segment: int
    epoch: str = ""

    def __post_init__(self) -> None:
        shape = self.image.shape
        if self.image.ndim != 3 or shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValidationError(f"image must be (H, W, 3) uint8, got {shape} {self.image.dtype}")


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """A frame ready for analysis: its reference (camera, capture time, index, size) and pixels.

    ``decoded_at`` (``time.monotonic()`` when the frame was made, right after decoding) lets
    the analysis measure each frame's latency from decoding to its analysis done, queueing
    included; it is a local clock, meaningful only in the process that decoded the frame.
    """

    ref: FrameRef
    image: Image
    keyframe: bool = False
    decoded_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        h, w = self.image.shape[:2]
        if (w, h) != (self.ref.width, self.ref.height):
            raise ValidationError(
                f"image is {w}x{h} but the frame reference says {self.ref.width}x{self.ref.height}"
            )


class Sampler:
    """Pick frames at a target rate from a stream's media time.

    A frame is due when its media time reaches the next slot; slots advance by ``1 / fps`` and
    re-align to the frame when the stream jumps ahead (a gap, a loop), so a gap never causes a
    burst of catch-up frames. Media time going backwards (a new segment) resets the schedule.

    Example:
        >>> s = Sampler(2.0)
        >>> [t for t in (0.0, 0.1, 0.5, 0.6, 1.0) if s.due(t)]
        [0.0, 0.5, 1.0]
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValidationError(f"fps must be > 0, got {fps}")
        self.interval = 1.0 / fps
        self._next: float | None = None
        # Tolerate timestamp jitter of a tenth of an interval (RTP clocks are not exact).
        self._slack = self.interval * 0.1

    def reset(self) -> None:
        self._next = None

    def due(self, media_time: float) -> bool:
        """Whether the frame at ``media_time`` should be analysed (advances the schedule)."""
        if self._next is None or media_time < self._next - self.interval * 2:
            self._next = media_time + self.interval
            return True
        if media_time + self._slack < self._next:
            return False
        self._next += self.interval
        if self._next <= media_time:
            self._next = media_time + self.interval
        return True


class TimestampMapper:
    """Map media times to capture times that are monotonic per camera.

    Capture time is ``anchor_wall + (media_time - anchor_media)``: the stream's own clock keeps
    the spacing between frames exact, the wall clock gives the absolute time. The anchor is reset
    on a new segment (reconnect, loop) and when media time is missing. For live sources a capture
    time is never later than the arrival time (the anchor is pulled back instead: the first frames
    of a connection arrive late, buffered by stream probing), and a mapped time more than
    ``max_drift_s`` behind the wall clock (a camera clock running slow, a PTS jump) re-anchors.
    The result never repeats or goes back: a time at or before the last one is bumped by 1 µs.

    Knobs: a small ``max_drift_s`` follows the wall clock closely but lets network jitter leak into
    frame spacing; a large one keeps spacing exact but tolerates a wrong camera clock longer.
    """

    _TICK = timedelta(microseconds=1)

    def __init__(
        self, *, live: bool, max_drift_s: float = 2.0, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.live = live
        self.max_drift = timedelta(seconds=max_drift_s)
        self._clock = clock
        self._anchor: tuple[datetime, float, int] | None = None
        self.last: datetime | None = None
        self.reanchors = 0

    def map(self, media_time: float | None, segment: int) -> datetime:
        """Capture time of a frame with ``media_time`` (``None``: use the wall clock)."""
        now = self._clock()
        if media_time is None:
            captured = now
        else:
            anchor = self._anchor
            if anchor is None or anchor[2] != segment or media_time < anchor[1]:
                anchor = self._reanchor(now, media_time, segment)
            captured = anchor[0] + timedelta(seconds=media_time - anchor[1])
            if self.live and captured > now:
                # A frame cannot be captured in the future. This happens when the first frames
                # were buffered (stream probing) and so anchored late: pull the anchor back to
                # the earliest arrival seen, which converges on the real offset.
                self._anchor = (anchor[0] - (captured - now), anchor[1], segment)
                captured = now
            elif self.live and now - captured > self.max_drift:
                self._reanchor(now, media_time, segment)
                captured = now
        if self.last is not None and captured <= self.last:
            captured = self.last + self._TICK
        self.last = captured
        return captured

    def _reanchor(
        self, now: datetime, media_time: float, segment: int
    ) -> tuple[datetime, float, int]:
        if self._anchor is not None:
            self.reanchors += 1
        self._anchor = (now, media_time, segment)
        return self._anchor
