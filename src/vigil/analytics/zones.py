"""Zones (polygons) and counting lines per camera: occupancy, crossings with direction, dwell.

Every tracked object is reduced to one *anchor* point, the bottom centre of its box (where the
feet or wheels touch the ground), because zones are drawn on the ground plane of the image: the
box centre of a tall person near the camera would be counted in a zone drawn behind them.

* **Occupancy**: objects whose anchor is inside a zone polygon (even-odd rule, vectorised).
* **Line crossings**: a track crosses a line when the segment between its previous and current
  anchors intersects the line segment ``a → b``. Direction is ``"in"`` when the track moves to
  the *left* side of ``a → b`` as drawn in image coordinates (``y`` down) — e.g. for a line drawn
  left-to-right across the image, ``"in"`` is moving **up** the image (away from the camera in a
  usual street view) — and ``"out"`` the other way. Draw the line the other way to swap them.
* **Dwell / loitering**: time since the track's anchor entered the zone; one ``LoiterEvent`` per
  visit once it reaches ``loiter_s``. Leaving for less than ``grace_s`` does not restart the
  clock, so one detector miss does not reset a loiterer.

State is one small record per live track, bounded by ``max_tracks`` (least recently seen
evicted) and forgotten ``forget_s`` after a track was last seen.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from vigil.core import Detections
from vigil.errors import ValidationError

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Zone:
    """A named polygon in image pixels (at least three vertices)."""

    name: str
    polygon: F64

    def __post_init__(self) -> None:
        poly = np.asarray(self.polygon, np.float64)
        if poly.ndim != 2 or poly.shape[1] != 2 or len(poly) < 3:
            raise ValidationError(
                f"zone {self.name!r}: polygon must be (N>=3, 2), got {poly.shape}"
            )
        if not np.isfinite(poly).all():
            raise ValidationError(f"zone {self.name!r}: polygon must be finite")
        object.__setattr__(self, "polygon", poly)

    def contains(self, points: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Even-odd point-in-polygon test for ``(N, 2)`` points."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        x, y = p[:, 0:1], p[:, 1:2]
        a = self.polygon
        b = np.roll(a, -1, axis=0)
        crosses = (a[None, :, 1] > y) != (b[None, :, 1] > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = a[None, :, 0] + (y - a[None, :, 1]) * (b[None, :, 0] - a[None, :, 0]) / (
                b[None, :, 1] - a[None, :, 1]
            )
        inside: npt.NDArray[np.bool_] = (np.count_nonzero(crosses & (x < x_at), axis=1) % 2) == 1
        return inside


@dataclass(frozen=True)
class CountLine:
    """A named counting line segment from ``a`` to ``b`` in image pixels."""

    name: str
    a: tuple[float, float]
    b: tuple[float, float]

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValidationError(f"line {self.name!r}: a and b must differ")


@dataclass(frozen=True, slots=True)
class LineCrossing:
    line: str
    track_id: int
    direction: Literal["in", "out"]
    at: datetime


@dataclass(frozen=True, slots=True)
class LoiterEvent:
    zone: str
    track_id: int
    dwell_s: float
    at: datetime


@dataclass(frozen=True)
class ZoneUpdate:
    """One frame: occupancy per zone, crossings and loitering events raised at this frame."""

    counts: dict[str, int]
    crossings: list[LineCrossing] = field(default_factory=list)
    loitering: list[LoiterEvent] = field(default_factory=list)
    dwell_s: dict[tuple[str, int], float] = field(default_factory=dict)


@dataclass
class _TrackState:
    anchor: tuple[float, float]
    last_seen: datetime
    entered: dict[str, datetime] = field(default_factory=dict)
    left: dict[str, datetime] = field(default_factory=dict)
    loitered: set[str] = field(default_factory=set)


def anchors(xyxy: npt.ArrayLike) -> F64:
    """Bottom-centre points of ``(N, 4)`` boxes."""
    b = np.asarray(xyxy, np.float64).reshape(-1, 4)
    return np.stack([(b[:, 0] + b[:, 2]) / 2, b[:, 3]], 1)


def _side(line: CountLine, p: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = line.a, line.b
    return (bx - ax) * (p[1] - ay) - (by - ay) * (p[0] - ax)


def _crossed(line: CountLine, p: tuple[float, float], q: tuple[float, float]) -> int:
    """+1 / -1 when segment p→q crosses the line segment (sign of the side it ends on), else 0."""
    s1, s2 = _side(line, p), _side(line, q)
    if s1 == 0 or s2 == 0 or (s1 > 0) == (s2 > 0):
        return 0
    a, b = line.a, line.b
    t1 = (q[0] - p[0]) * (a[1] - p[1]) - (q[1] - p[1]) * (a[0] - p[0])
    t2 = (q[0] - p[0]) * (b[1] - p[1]) - (q[1] - p[1]) * (b[0] - p[0])
    if (t1 > 0) == (t2 > 0) and t1 != 0 and t2 != 0:
        return 0
    return 1 if s2 > 0 else -1


class ZoneAnalytics:
    """Occupancy, line crossings and dwell for the tracks of one camera."""

    def __init__(
        self,
        zones: Sequence[Zone] = (),
        lines: Sequence[CountLine] = (),
        *,
        loiter_s: float = 120.0,
        zone_loiter_s: dict[str, float] | None = None,
        grace_s: float = 2.0,
        forget_s: float = 30.0,
        max_tracks: int = 4096,
    ) -> None:
        names = [z.name for z in zones] + [ln.name for ln in lines]
        if len(set(names)) != len(names):
            raise ValidationError(f"zone and line names must be unique, got {names}")
        self.zones, self.lines = list(zones), list(lines)
        self.loiter_s, self.grace_s, self.forget_s = loiter_s, grace_s, forget_s
        self.zone_loiter_s = dict(zone_loiter_s or {})  # per-zone override of loiter_s
        self.max_tracks = max_tracks
        self._tracks: OrderedDict[int, _TrackState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._tracks)

    def update(self, detections: Detections, at: datetime) -> ZoneUpdate:
        """Process one frame's tracked detections (rows with ``tracker_id < 0`` count only)."""
        pts = anchors(detections.xyxy)
        inside = {z.name: z.contains(pts) for z in self.zones}
        counts = {name: int(mask.sum()) for name, mask in inside.items()}
        result = ZoneUpdate(counts)
        tids = detections.tracker_id if detections.tracker_id is not None else np.full(len(pts), -1)
        for i, tid in enumerate(tids.tolist()):
            if tid < 0:
                continue
            self._step(
                int(tid),
                (float(pts[i, 0]), float(pts[i, 1])),
                {n: bool(m[i]) for n, m in inside.items()},
                at,
                result,
            )
        self._forget(at)
        return result

    def _step(
        self,
        tid: int,
        p: tuple[float, float],
        inside: dict[str, bool],
        at: datetime,
        out: ZoneUpdate,
    ) -> None:
        st = self._tracks.get(tid)
        if st is None:
            st = _TrackState(p, at)
            self._tracks[tid] = st
        else:
            for line in self.lines:
                sign = _crossed(line, st.anchor, p)
                if sign:
                    out.crossings.append(
                        LineCrossing(line.name, tid, "in" if sign < 0 else "out", at)
                    )
            st.anchor, st.last_seen = p, at
            self._tracks.move_to_end(tid)
        for name, now_in in inside.items():
            if now_in:
                st.left.pop(name, None)
                entered = st.entered.setdefault(name, at)
                dwell = (at - entered).total_seconds()
                out.dwell_s[(name, tid)] = dwell
                limit = self.zone_loiter_s.get(name, self.loiter_s)
                if dwell >= limit and name not in st.loitered:
                    st.loitered.add(name)
                    out.loitering.append(LoiterEvent(name, tid, dwell, at))
            elif name in st.entered:
                gone = st.left.setdefault(name, at)
                if (at - gone).total_seconds() > self.grace_s:
                    st.entered.pop(name)
                    st.left.pop(name)
                    st.loitered.discard(name)
        while len(self._tracks) > self.max_tracks:
            self._tracks.popitem(last=False)

    def _forget(self, at: datetime) -> None:
        while self._tracks:
            tid, st = next(iter(self._tracks.items()))
            if (at - st.last_seen).total_seconds() <= self.forget_s:
                break
            del self._tracks[tid]
