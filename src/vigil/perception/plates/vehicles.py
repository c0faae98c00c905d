"""Plate reads of a single frame as the live path makes them: inside the largest vehicle boxes.

The live plate stage (:class:`vigil.system.plates.PlateStage`), ``vigil eval plates --vehicles``
and the post-event plate search of recorded footage all look for plates the same way: the object
detector's vehicle boxes (car, bus, truck, motorcycle), the ``limit`` largest, one best read per
box. Keeping that rule here, below all three, means the evaluation and the footage search measure
and run the reading the cameras run, not a copy that drifts.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core import Detections, ObjectClass
from vigil.core.records import CLASS_IDS
from vigil.perception.objects.detector import ObjectDetector
from vigil.perception.plates.reader import PlateCandidate, PlateReading
from vigil.perception.plates.text import BGRImage

VEHICLES = frozenset(
    CLASS_IDS[c]
    for c in (ObjectClass.CAR, ObjectClass.BUS, ObjectClass.TRUCK, ObjectClass.MOTORCYCLE)
)


def vehicle_rows(dets: Detections, limit: int, confirmed: set[int] | None = None) -> list[int]:
    """Rows of ``dets`` the plate reader looks in: vehicles (of confirmed tracks when
    ``confirmed`` is given), the ``limit`` largest."""
    rows = [
        i
        for i in range(len(dets))
        if int(dets.class_id[i]) in VEHICLES
        and (
            confirmed is None
            or (dets.tracker_id is not None and int(dets.tracker_id[i]) in confirmed)
        )
    ]
    rows.sort(key=lambda i: -float(dets.area[i]))
    return rows[:limit]


@dataclass(frozen=True, slots=True)
class FrameReads:
    """One frame's vehicle count and its plate reads (best first)."""

    vehicles: int
    reads: list[PlateCandidate]


class VehiclePlateReader:
    """Detector + reader: one best plate read per vehicle box of a frame (module doc).

    Args:
        limit: vehicles read per frame, largest first (``plates.max_vehicles_per_frame``); each
            costs one reader call, so a busy junction trades late small vehicles for time.
    """

    def __init__(self, detector: ObjectDetector, reader: PlateReading, *, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.detector = detector
        self.reader = reader
        self.limit = limit

    def __call__(self, image: BGRImage) -> FrameReads:
        dets = self.detector.detect(image)
        rows = vehicle_rows(dets, self.limit)
        reads = []
        for i in rows:
            x1, y1, x2, y2 = (float(v) for v in dets.xyxy[i])
            best = self.reader.best(image, [(x1, y1, x2, y2)])
            if best is not None:
                reads.append(best)
        return FrameReads(len(rows), sorted(reads, key=lambda c: -c.confidence))
