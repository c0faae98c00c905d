"""Clothing and vehicle colours, size and direction of a tracked object (hand-built, no learning).

**Colour.** A person box is cut into an upper band (15-50 % of its height) and a lower band
(55-90 %), each trimmed to the middle 60 % of the width so less background is counted; a vehicle
uses its middle 60 % in both axes. Each pixel of a band (downscaled to at most 32x32) is named by
fixed HSV rules (OpenCV scale: H 0-179, S and V 0-255): dark pixels are black, unsaturated ones
grey or white by brightness, the rest by hue, with dark oranges and reds named brown. The band's
colour is the most frequent name and its *share* the fraction of pixels with it - a confidence
that ranks search results. Rules instead of k-means: the same pixel always gets the same name,
there is nothing to fit, and the thresholds are in one table to read and argue with.

**Over a track.** :class:`AttributeCollector` samples a track's box every ``every`` frames while
it is confirmed and at least ``min_height`` px tall, adds each band's colour votes (weighted by
share) to that track's tally and, when the track closes, returns the winning colours, the median
box height as a share of the frame and the direction from the first to the last box centre. The
tallies are bounded (``max_tracks``; the oldest is dropped and counted) and forgotten at close.

What this cannot do is in :mod:`vigil.core.attributes` and docs/attribute-search.md.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

from vigil.core import Detections, FrameRef, ObjectClass, TrackState
from vigil.core.attributes import VEHICLE_CLASSES, Colour, Direction
from vigil.tracking.bytetrack import TrackEvent

log = logging.getLogger(__name__)
Image = npt.NDArray[np.uint8]
UPPER_BAND = (0.15, 0.50)
LOWER_BAND = (0.55, 0.90)
PALETTE = tuple(Colour)

# Hue ranges (OpenCV H, 0-179) of the saturated colours, checked in order; red wraps around 180.
HUES: tuple[tuple[int, int, Colour], ...] = (
    (0, 8, Colour.RED),
    (8, 20, Colour.ORANGE),
    (20, 34, Colour.YELLOW),
    (34, 85, Colour.GREEN),
    (85, 128, Colour.BLUE),
    (128, 150, Colour.PURPLE),
    (150, 170, Colour.PINK),
    (170, 180, Colour.RED),
)
BLACK_V = 60  # below this brightness every pixel is black
GREY_S = 50  # below this saturation a pixel is grey or white
WHITE_V = 190  # unsaturated and at least this bright: white
BROWN_V = 150  # orange or red hue but darker than this: brown


def name_pixels(hsv: Image) -> npt.NDArray[np.int64]:
    """Palette index (into :data:`PALETTE`) of every pixel of an ``(..., 3)`` HSV array."""
    h = hsv[..., 0].astype(np.int64)
    s = hsv[..., 1].astype(np.int64)
    v = hsv[..., 2].astype(np.int64)
    out = np.full(h.shape, PALETTE.index(Colour.GREY), np.int64)
    for lo, hi, c in HUES:
        out[(h >= lo) & (h < hi)] = PALETTE.index(c)
    warm = (h < 20) | (h >= 170)
    out[warm & (v < BROWN_V) & (s >= GREY_S)] = PALETTE.index(Colour.BROWN)
    out[(s < GREY_S) & (v >= WHITE_V)] = PALETTE.index(Colour.WHITE)
    out[(s < GREY_S) & (v < WHITE_V)] = PALETTE.index(Colour.GREY)
    out[v < BLACK_V] = PALETTE.index(Colour.BLACK)
    return out


def band_votes(image: Image) -> npt.NDArray[np.float64]:
    """Share of each palette colour in a BGR region (sums to 1; zeros for an empty region)."""
    if image.size == 0:
        return np.zeros(len(PALETTE))
    h, w = image.shape[:2]
    if max(h, w) > 32:
        scale = 32 / max(h, w)
        image = np.asarray(
            cv2.resize(image, (max(1, int(w * scale)), max(1, int(h * scale)))), np.uint8
        )
    hsv = np.asarray(cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_BGR2HSV), np.uint8)
    counts = np.bincount(name_pixels(hsv).reshape(-1), minlength=len(PALETTE)).astype(np.float64)
    shares: npt.NDArray[np.float64] = counts / max(1.0, float(counts.sum()))
    return shares


def _band(crop: Image, band: tuple[float, float], width: float = 0.6) -> Image:
    h, w = crop.shape[:2]
    margin = (1.0 - width) / 2
    return crop[int(h * band[0]) : int(h * band[1]), int(w * margin) : int(w * (1 - margin))]


def person_votes(crop: Image) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Colour shares of the upper and the lower band of a person crop."""
    return band_votes(_band(crop, UPPER_BAND)), band_votes(_band(crop, LOWER_BAND))


def vehicle_votes(crop: Image) -> npt.NDArray[np.float64]:
    """Colour shares of the middle of a vehicle crop."""
    return band_votes(_band(crop, (0.2, 0.8)))


def winner(votes: npt.NDArray[np.float64]) -> tuple[Colour | None, float]:
    """The most frequent colour and its share of the votes (``None`` when there are none)."""
    total = float(votes.sum())
    if total <= 0:
        return None, 0.0
    i = int(np.argmax(votes))
    return PALETTE[i], float(votes[i] / total)


def direction(first: tuple[float, ...], last: tuple[float, ...], frame_h: int) -> Direction:
    """Image direction from the first to the last box centre; still when it moved less than 5 %
    of the frame height."""
    dx = (last[0] + last[2] - first[0] - first[2]) / 2
    dy = (last[1] + last[3] - first[1] - first[3]) / 2
    if max(abs(dx), abs(dy)) < 0.05 * frame_h:
        return Direction.STILL
    if abs(dx) >= abs(dy):
        return Direction.RIGHT if dx > 0 else Direction.LEFT
    return Direction.DOWN if dy > 0 else Direction.UP


@dataclass(frozen=True, slots=True)
class TrackAttributes:
    """What a closed track looked like (the descriptors stored with its sighting)."""

    track_id: int
    object_class: ObjectClass
    first_seen: datetime
    last_seen: datetime
    upper: Colour | None
    lower: Colour | None
    body: Colour | None
    score: float
    height_frac: float
    direction: Direction


@dataclass
class _Tally:
    object_class: ObjectClass
    first_seen: datetime
    first_box: tuple[float, ...]
    last_box: tuple[float, ...] = ()
    upper: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(len(PALETTE)))
    lower: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(len(PALETTE)))
    heights: list[float] = field(default_factory=list)
    seen: int = 0


class AttributeCollector:
    """Per-camera tallies of colour votes per track, turned into descriptors at track close.

    Args:
        every: sample a track every ``every``-th frame it is seen (1 = every frame; more is
            cheaper and the median over a few samples is as good for a slow walker).
        min_height: boxes shorter than this (px) are not sampled: a 40 px person has a
            handful of pixels per band and mostly background.
        max_tracks: open tallies kept at most; the oldest is dropped (and counted in
            ``dropped``) so a camera that never closes tracks cannot grow memory.
        max_heights: box heights kept per track for the median (oldest replaced).
    """

    def __init__(
        self, *, every: int = 5, min_height: int = 48, max_tracks: int = 512, max_heights: int = 64
    ) -> None:
        self.every = every
        self.min_height = min_height
        self.max_tracks = max_tracks
        self.max_heights = max_heights
        self.dropped = 0
        self._tallies: OrderedDict[int, _Tally] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tallies)

    def observe(self, image: Image, frame: FrameRef, tracked: Detections) -> None:
        """Add one frame's tracked person and vehicle boxes to their tallies."""
        if tracked.tracker_id is None:
            return
        for box, cls_id, tid in zip(
            tracked.xyxy, tracked.class_id, tracked.tracker_id, strict=True
        ):
            cls = list(ObjectClass)[int(cls_id)]
            if tid < 0 or (cls is not ObjectClass.PERSON and cls.value not in VEHICLE_CLASSES):
                continue
            b = tuple(float(v) for v in box)
            tally = self._tallies.get(int(tid))
            if tally is None:
                tally = self._open(int(tid), cls, frame.captured_at, b)
            tally.last_box = b
            tally.seen += 1
            if (tally.seen - 1) % self.every or b[3] - b[1] < self.min_height:
                continue
            self._sample(tally, image, b, frame.height)

    def _open(self, tid: int, cls: ObjectClass, at: datetime, box: tuple[float, ...]) -> _Tally:
        while len(self._tallies) >= self.max_tracks:
            self._tallies.popitem(last=False)
            self.dropped += 1
        tally = _Tally(cls, at, box)
        self._tallies[tid] = tally
        return tally

    def _sample(self, t: _Tally, image: Image, b: tuple[float, ...], frame_h: int) -> None:
        h, w = image.shape[:2]
        x1, y1 = max(0, int(b[0])), max(0, int(b[1]))
        x2, y2 = min(w, int(b[2])), min(h, int(b[3]))
        if x2 - x1 < 4 or y2 - y1 < 8:
            return
        crop = image[y1:y2, x1:x2]
        if t.object_class is ObjectClass.PERSON:
            up, low = person_votes(crop)
            t.upper += up
            t.lower += low
        else:
            t.upper += vehicle_votes(crop)
        if len(t.heights) >= self.max_heights:
            t.heights.pop(0)
        t.heights.append((y2 - y1) / max(1, frame_h))

    def close(self, events: list[TrackEvent], frame_h: int) -> list[TrackAttributes]:
        """Descriptors of the tracks that closed in ``events`` (tallies are forgotten; a track
        never sampled - always too small - gives none)."""
        out: list[TrackAttributes] = []
        for event in events:
            if event.kind != TrackState.CLOSED:
                continue
            t = self._tallies.pop(event.track.track_id, None)
            if t is None or not t.heights:
                continue
            person = t.object_class is ObjectClass.PERSON
            upper, s_up = winner(t.upper)
            lower, s_low = winner(t.lower) if person else (None, s_up)
            out.append(
                TrackAttributes(
                    track_id=event.track.track_id,
                    object_class=t.object_class,
                    first_seen=t.first_seen,
                    last_seen=event.track.last_seen,
                    upper=upper if person else None,
                    lower=lower,
                    body=None if person else upper,
                    score=round((s_up + s_low) / 2, 4),
                    height_frac=round(float(np.median(t.heights)), 4),
                    direction=direction(t.first_box, t.last_box or t.first_box, frame_h),
                )
            )
        return out
