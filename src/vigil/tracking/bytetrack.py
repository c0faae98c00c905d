"""ByteTrack-class multi-object tracking for one camera.

Per frame: predict every track with a constant-velocity Kalman filter
(:mod:`vigil.tracking.kalman`), then associate by IoU in two passes (Zhang et al., *ByteTrack*,
ECCV 2022): first the confident detections against all tracks (including recently lost ones, so
a person walking out from behind a pillar keeps their id), then the *low-score* detections against
the tracks still unmatched — an occluded person's detection score drops, and this second pass
keeps their track alive instead of throwing the box away. New tracks start only from confident
unmatched detections and are confirmed after ``min_hits`` frames, which suppresses one-frame
false positives.

Knobs and their trade-offs:

* ``high_score`` / ``low_score``: the split between the two passes; lowering ``low_score`` keeps
  more occluded tracks and admits more clutter into existing tracks.
* ``match_iou``: minimum IoU for the first pass. At low frame rates (5 fps) people move further
  between frames; 0.2 works at 5 fps on vtest, raise it for 25 fps.
* ``track_buffer``: frames a lost track is kept for re-association; longer bridges longer
  occlusions and risks id swaps.
* ``max_tracks``: hard bound on state (tracked + lost). When full, the oldest lost tracks are
  closed first; if all are active, new tracks are refused and counted in ``refused``.

State is bounded: a track is closed (event ``closed``) ``track_buffer`` frames after its last
match and forgotten; ids are per tracker (per camera), never process-global.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from vigil.core import Detections, ObjectClass, Track, TrackState, box_iou
from vigil.errors import ValidationError
from vigil.tracking import kalman

log = logging.getLogger(__name__)

_CLASSES = list(ObjectClass)


@dataclass
class _Live:
    """Mutable state of one track (internal; the outside world sees :class:`Track`)."""

    track_id: int
    class_id: int
    mean: kalman.F64
    cov: kalman.F64
    score: float
    first_seen: datetime
    last_seen: datetime
    state: TrackState = TrackState.TENTATIVE
    hits: int = 1
    missed: int = 0

    def box(self) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = kalman.xyah_to_xyxy(self.mean[:4])[0]
        return (float(x1), float(y1), float(x2), float(y2))

    def record(self, camera_id: str, state: TrackState | None = None) -> Track:
        return Track(
            camera_id=camera_id,
            track_id=self.track_id,
            object_class=_CLASSES[self.class_id],
            state=state or self.state,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            last_box=self.box(),
            hits=self.hits,
        )


@dataclass(frozen=True, slots=True)
class TrackEvent:
    """A lifecycle change: ``started`` (tentative), ``confirmed``, ``lost`` or ``closed``."""

    kind: TrackState | str
    track: Track


@dataclass(frozen=True)
class TrackerOutput:
    """One frame's result: detections with ``tracker_id`` (-1 unassigned), active tracks, events."""

    detections: Detections
    tracks: list[Track]
    events: list[TrackEvent] = field(default_factory=list)


def _match(
    tracks: list[_Live],
    boxes: npt.NDArray[np.float32],
    classes: npt.NDArray[np.int64],
    min_iou: float,
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal IoU assignment (same class only); returns pairs and the unmatched on each side."""
    if not tracks or len(boxes) == 0:
        return [], list(range(len(tracks))), list(range(len(boxes)))
    pred = np.array([t.box() for t in tracks], np.float32)
    iou = box_iou(pred, boxes)
    same = np.array([t.class_id for t in tracks])[:, None] == classes[None, :]
    iou = np.where(same, iou, 0.0)
    rows, cols = linear_sum_assignment(-iou)
    pairs = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= min_iou]
    mt = {p[0] for p in pairs}
    md = {p[1] for p in pairs}
    return (
        pairs,
        [i for i in range(len(tracks)) if i not in mt],
        [j for j in range(len(boxes)) if j not in md],
    )


class ByteTracker:
    """Tracks people and vehicles on one camera; see the module docstring for the method."""

    def __init__(
        self,
        camera_id: str,
        *,
        high_score: float = 0.5,
        low_score: float = 0.1,
        new_track_score: float = 0.55,
        match_iou: float = 0.2,
        low_match_iou: float = 0.4,
        min_hits: int = 2,
        track_buffer: int = 30,
        max_tracks: int = 1024,
    ) -> None:
        if not 0 <= low_score <= high_score <= 1:
            raise ValidationError(
                f"need 0 <= low_score <= high_score <= 1, got {low_score}, {high_score}"
            )
        if max_tracks < 1 or track_buffer < 0 or min_hits < 1:
            raise ValidationError("max_tracks and min_hits must be >= 1, track_buffer >= 0")
        self.camera_id = camera_id
        self.high_score, self.low_score = high_score, low_score
        self.new_track_score = new_track_score
        self.match_iou, self.low_match_iou = match_iou, low_match_iou
        self.min_hits, self.track_buffer, self.max_tracks = min_hits, track_buffer, max_tracks
        self._tracks: list[_Live] = []
        self._next_id = 1
        self.frames = 0
        self.refused = 0

    def __len__(self) -> int:
        """Tracks held in memory (tentative, confirmed and lost)."""
        return len(self._tracks)

    def _predict(self) -> None:
        if self._tracks:
            mean = np.stack([t.mean for t in self._tracks])
            cov = np.stack([t.cov for t in self._tracks])
            mean[:, 7] = np.where(mean[:, 3] + mean[:, 7] <= 1, 0, mean[:, 7])
            mean, cov = kalman.predict(mean, cov)
            for t, m, c in zip(self._tracks, mean, cov, strict=True):
                t.mean, t.cov = m, c

    def _apply(
        self,
        track: _Live,
        box: npt.NDArray[np.float32],
        score: float,
        at: datetime,
        events: list[TrackEvent],
    ) -> None:
        m, c = kalman.update(track.mean[None], track.cov[None], kalman.xyxy_to_xyah(box))
        track.mean, track.cov = m[0], c[0]
        track.score, track.last_seen, track.missed = score, at, 0
        track.hits += 1
        if track.state is not TrackState.CONFIRMED and track.hits >= self.min_hits:
            track.state = TrackState.CONFIRMED
            events.append(TrackEvent(TrackState.CONFIRMED, track.record(self.camera_id)))

    def update(self, detections: Detections, at: datetime) -> TrackerOutput:
        """Advance one frame with this frame's detections (any classes; matched per class)."""
        self.frames += 1
        events: list[TrackEvent] = []
        self._predict()
        conf, boxes, classes = detections.confidence, detections.xyxy, detections.class_id
        tid = np.full(len(detections), -1, np.int64)
        high = np.nonzero(conf >= self.high_score)[0]
        low = np.nonzero((conf >= self.low_score) & (conf < self.high_score))[0]
        active = [t for t in self._tracks if t.state is not TrackState.TENTATIVE]
        tentative = [t for t in self._tracks if t.state is TrackState.TENTATIVE]
        # pass 1: confident detections against confirmed and lost tracks
        pairs, un_t, un_d = _match(active, boxes[high], classes[high], self.match_iou)
        for ti, di in pairs:
            self._hit(active[ti], high[di], detections, at=at, events=events, tid=tid)
        # pass 2: low-score detections against tracks that were tracked last frame
        remaining = [active[i] for i in un_t if active[i].state is TrackState.CONFIRMED]
        pairs2, un_t2, _ = _match(remaining, boxes[low], classes[low], self.low_match_iou)
        for ti, di in pairs2:
            self._hit(remaining[ti], low[di], detections, at=at, events=events, tid=tid)
        # tentative tracks take leftover confident detections
        left = high[un_d]
        pairs3, un_tent, un_d3 = _match(
            tentative, boxes[left], classes[left], max(self.match_iou, 0.3)
        )
        for ti, di in pairs3:
            self._hit(tentative[ti], left[di], detections, at=at, events=events, tid=tid)
        unmatched = {id(remaining[i]) for i in un_t2} | {
            id(active[i]) for i in un_t if active[i].state is TrackState.LOST
        }
        self._age(unmatched, {id(tentative[i]) for i in un_tent}, events)
        self._start(left[un_d3], detections, at=at, events=events, tid=tid)
        tracks = [t.record(self.camera_id) for t in self._tracks if t.state is TrackState.CONFIRMED]
        out = Detections(
            detections.xyxy, detections.confidence, detections.class_id, detections.landmarks, tid
        )
        return TrackerOutput(out, tracks, events)

    def _hit(
        self,
        track: _Live,
        det: int,
        d: Detections,
        *,
        at: datetime,
        events: list[TrackEvent],
        tid: npt.NDArray[np.int64],
    ) -> None:
        was_lost = track.state is TrackState.LOST
        if was_lost:
            track.state = TrackState.CONFIRMED
        self._apply(track, d.xyxy[det], float(d.confidence[det]), at, events)
        tid[det] = track.track_id

    def _age(self, unmatched: set[int], dead_tentative: set[int], events: list[TrackEvent]) -> None:
        keep: list[_Live] = []
        for t in self._tracks:
            if id(t) in dead_tentative:
                continue  # never confirmed: dropped silently, no one was told it existed
            if id(t) in unmatched:
                t.missed += 1
                if t.state is TrackState.CONFIRMED:
                    t.state = TrackState.LOST
                    events.append(TrackEvent(TrackState.LOST, t.record(self.camera_id)))
                if t.missed > self.track_buffer:
                    events.append(
                        TrackEvent(TrackState.CLOSED, t.record(self.camera_id, TrackState.CLOSED))
                    )
                    continue
            keep.append(t)
        self._tracks = keep

    def _start(
        self,
        dets: npt.NDArray[np.intp],
        d: Detections,
        *,
        at: datetime,
        events: list[TrackEvent],
        tid: npt.NDArray[np.int64],
    ) -> None:
        for j in dets:
            if d.confidence[j] < self.new_track_score:
                continue
            if len(self._tracks) >= self.max_tracks and not self._evict_one(events):
                self.refused += 1
                continue
            mean, cov = kalman.initiate(kalman.xyxy_to_xyah(d.xyxy[j]))
            first = self.frames == 1 or self.min_hits <= 1
            t = _Live(
                self._next_id,
                int(d.class_id[j]),
                mean[0],
                cov[0],
                float(d.confidence[j]),
                at,
                at,
                TrackState.CONFIRMED if first else TrackState.TENTATIVE,
            )
            self._next_id += 1
            self._tracks.append(t)
            tid[j] = t.track_id
            events.append(TrackEvent("started", t.record(self.camera_id)))
            if first:
                events.append(TrackEvent(TrackState.CONFIRMED, t.record(self.camera_id)))

    def _evict_one(self, events: list[TrackEvent]) -> bool:
        """Close the longest-lost track to make room; False when every track is active."""
        lost = [t for t in self._tracks if t.state is not TrackState.CONFIRMED]
        if not lost:
            return False
        victim = max(lost, key=lambda t: (t.missed, -t.track_id))
        self._tracks.remove(victim)
        if victim.state is TrackState.LOST:
            events.append(
                TrackEvent(TrackState.CLOSED, victim.record(self.camera_id, TrackState.CLOSED))
            )
        return True

    def close_all(self) -> list[TrackEvent]:
        """End of stream: close every track (their best shots can then be finalised)."""
        events = [
            TrackEvent(TrackState.CLOSED, t.record(self.camera_id, TrackState.CLOSED))
            for t in self._tracks
            if t.state is not TrackState.TENTATIVE
        ]
        self._tracks = []
        return events
