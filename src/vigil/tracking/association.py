"""Faces to person tracks, and the best shot of each track.

Association: a face belongs to a person track when the face box's centre lies inside the upper
``head_fraction`` of the person box (horizontally within it) and the face is narrower than the
person. Among several candidate people (a crowd), the one whose head region centre is closest
wins, and each person takes at most one face (greedy by distance). This is a geometric rule, not
a learned one: it fails for people bending over or lying down, and in dense crowds where a
neighbour's head sits in another's box top; such faces stay unassociated (``-1``) rather than
being attached to the wrong track.

Best shot: the face pipeline embeds one face per track — the one with the highest quality score
(:mod:`vigil.perception.faces.quality`) — instead of every frame, which is both cheaper and a
safeguard (fewer poor faces searched). :class:`BestShots` keeps, per live track, the best
candidate seen so far and hands it over when the track closes. The map is bounded
(``max_tracks``, least-recently-updated evicted first) so a camera running for months cannot
grow it.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from vigil.core import Detections
from vigil.errors import ValidationError

log = logging.getLogger(__name__)

T = TypeVar("T")


def associate_faces(
    persons: Detections, faces: Detections, *, head_fraction: float = 0.35
) -> npt.NDArray[np.int64]:
    """Track id (from ``persons.tracker_id``) for each face, ``-1`` when none fits."""
    out = np.full(len(faces), -1, np.int64)
    if len(faces) == 0 or len(persons) == 0 or persons.tracker_id is None:
        return out
    p, f = persons.xyxy, faces.xyxy
    fcx = (f[:, 0] + f[:, 2]) / 2
    fcy = (f[:, 1] + f[:, 3]) / 2
    fw = f[:, 2] - f[:, 0]
    ph = p[:, 3] - p[:, 1]
    pw = p[:, 2] - p[:, 0]
    head_bottom = p[:, 1] + head_fraction * ph
    inside = (
        (fcx[:, None] >= p[None, :, 0])
        & (fcx[:, None] <= p[None, :, 2])
        & (fcy[:, None] >= p[None, :, 1] - 0.05 * ph[None, :])
        & (fcy[:, None] <= head_bottom[None, :])
        & (fw[:, None] <= pw[None, :])
        & (persons.tracker_id[None, :] >= 0)
    )
    hx = (p[:, 0] + p[:, 2]) / 2
    hy = p[:, 1] + head_fraction * ph / 2
    dist = np.hypot(fcx[:, None] - hx[None, :], fcy[:, None] - hy[None, :]) / np.maximum(ph, 1)
    dist = np.where(inside, dist, np.inf)
    taken: set[int] = set()
    for flat in np.argsort(dist, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(persons))
        if not np.isfinite(dist[i, j]):
            break
        if out[i] >= 0 or j in taken:
            continue
        out[i] = persons.tracker_id[j]
        taken.add(j)
    return out


@dataclass(frozen=True, slots=True)
class Shot(Generic[T]):
    """A candidate best shot: its quality, when it was seen, and what to keep (crop, box...)."""

    quality: float
    frame_index: int
    payload: T


class BestShots(Generic[T]):
    """The best-quality shot per track, bounded to ``max_tracks`` live tracks."""

    def __init__(self, max_tracks: int = 1024, min_quality: float = 0.0) -> None:
        if max_tracks < 1:
            raise ValidationError(f"max_tracks must be >= 1, got {max_tracks}")
        self.max_tracks = max_tracks
        self.min_quality = min_quality
        self._best: OrderedDict[int, Shot[T]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._best)

    def offer(self, track_id: int, quality: float, frame_index: int, payload: T) -> bool:
        """Keep this shot if it beats the track's current best; True when it was kept."""
        if quality < self.min_quality:
            return False
        current = self._best.get(track_id)
        if current is not None:
            self._best.move_to_end(track_id)
            if quality <= current.quality:
                return False
        self._best[track_id] = Shot(quality, frame_index, payload)
        self._best.move_to_end(track_id)
        while len(self._best) > self.max_tracks:
            victim, _ = self._best.popitem(last=False)
            self.evicted += 1
            log.debug("best-shot map full: evicted track %d", victim)
        return True

    def best(self, track_id: int) -> Shot[T] | None:
        return self._best.get(track_id)

    def pop(self, track_id: int) -> Shot[T] | None:
        """The track's best shot, forgotten here (call when the track closes)."""
        return self._best.pop(track_id, None)
