"""Face tracks on one camera by greedy IoU association across sampled frames, with a best shot.

This is the simple tracker the identification issue asks for (the people issue later ties faces
to person tracks): each new face joins the open track whose last box overlaps it most (IoU at
least ``iou_min``), otherwise it opens a track; a track not seen for ``max_missed`` sampled frames
closes. Each track keeps only its **best shot**, the usable (quality-gated, embedded) observation
with the highest quality, and its aligned crop, so a track is matched once with its best face,
not once per frame, and the biometric data held per track is one crop and one template.

Bounded state: at most ``max_open`` open tracks; when a crowded scene exceeds it the oldest
tracks are closed early (and matched or purged like any closed track), so memory cannot grow on a
24/7 camera.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.core.geometry import box_iou
from vigil.core.records import FaceObservation
from vigil.errors import ValidationError


@dataclass
class FaceTrack:
    """An open or closed face track: its span and its best shot (biometric, in memory only)."""

    camera_id: str
    track_id: int
    first_seen: datetime
    last_seen: datetime
    last_box: npt.NDArray[np.float32]
    hits: int = 1
    missed: int = 0
    best: FaceObservation | None = None
    best_crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    # The person track (same camera's ByteTracker id) this face was last seen on, when the camera
    # also tracks people: set by vigil.identification.person_links.link_face_tracks.
    person_track_id: int | None = None

    @property
    def best_quality(self) -> float:
        return 0.0 if self.best is None else self.best.quality

    def offer(self, obs: FaceObservation, crop: npt.NDArray[np.uint8] | None) -> None:
        """Keep ``obs`` as the best shot if it is embedded and better than the current one."""
        if obs.embedding is None:
            return
        if self.best is None or obs.quality > self.best.quality:
            self.best = obs
            self.best_crop = crop

    def forget_biometrics(self) -> None:
        """Drop the best shot's crop and template (called at close, after matching)."""
        self.best = None
        self.best_crop = None


class FaceTracker:
    """Greedy IoU association of face boxes on one camera.

    Args:
        camera_id: the camera this tracker serves (one tracker per camera).
        iou_min: least overlap to continue a track; lower follows faster motion between sampled
            frames but merges nearby faces more often.
        max_missed: sampled frames a track may go unseen before it closes; higher bridges
            occlusions but holds biometric data longer before the purge.
        max_open: bound on open tracks.
    """

    def __init__(
        self, camera_id: str, *, iou_min: float = 0.2, max_missed: int = 2, max_open: int = 256
    ) -> None:
        if not 0 < iou_min <= 1 or max_missed < 0 or max_open < 1:
            raise ValidationError("iou_min in (0, 1], max_missed >= 0 and max_open >= 1 required")
        self.camera_id = camera_id
        self.iou_min = iou_min
        self.max_missed = max_missed
        self.max_open = max_open
        self.open: dict[int, FaceTrack] = {}
        self._ids = itertools.count()

    def update(
        self,
        observations: list[FaceObservation],
        crops: npt.NDArray[np.uint8] | None = None,
    ) -> list[FaceTrack]:
        """Associate one sampled frame's faces; returns the tracks that closed."""
        tracks = list(self.open.values())
        taken: set[int] = set()
        assigned: dict[int, FaceTrack] = {}
        if tracks and observations:
            boxes = np.stack([o.xyxy for o in observations])
            last = np.stack([t.last_box for t in tracks])
            iou = box_iou(boxes, last)
            for flat in np.argsort(-iou, axis=None):
                i, j = np.unravel_index(flat, iou.shape)
                if iou[i, j] < self.iou_min:
                    break
                if int(i) in assigned or int(j) in taken:
                    continue
                assigned[int(i)] = tracks[int(j)]
                taken.add(int(j))
        for i, obs in enumerate(observations):
            crop = None if crops is None else crops[i]
            track = assigned.get(i)
            if track is None:
                tid = next(self._ids)
                seen = obs.frame.captured_at
                track = FaceTrack(self.camera_id, tid, seen, seen, obs.xyxy)
                self.open[tid] = track
            else:
                track.hits += 1
                track.missed = 0
                track.last_seen = obs.frame.captured_at
                track.last_box = obs.xyxy
            track.offer(obs, crop)
        closed = []
        for j, track in enumerate(tracks):
            if j not in taken:
                track.missed += 1
                if track.missed > self.max_missed:
                    closed.append(self.open.pop(track.track_id))
        while len(self.open) > self.max_open:
            oldest = min(self.open.values(), key=lambda t: t.last_seen)
            closed.append(self.open.pop(oldest.track_id))
        return closed

    def close_all(self) -> list[FaceTrack]:
        """Close every open track (end of stream, shutdown, deployment stop)."""
        closed = list(self.open.values())
        self.open.clear()
        return closed
