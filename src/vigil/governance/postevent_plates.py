"""The plate side of a post-event footage search: the query, and a frame scorer over plate reads.

A plate job (kind ``plate``) looks for one plate in recorded footage. Each analysed frame goes
through the reading the live cameras run
(:class:`~vigil.perception.plates.vehicles.VehiclePlateReader`: the object detector's vehicle
boxes, one best read per box); a read is a **hit** when its
folded text matches the query within ``max_distance`` edits, folded and compared exactly as the
stored-read plate search does (:func:`~vigil.perception.plates.match.pattern_distance` on
:func:`~vigil.core.plates.fold_confusables` of the query against the region profile's canonical
read, so ``0``/``O`` and ``8``/``B`` are no edit).

The key-frame-first scan (:func:`vigil.recording.scan.scan_segment`) wants a number per frame:
:class:`PlateScorer` answers :data:`MATCH` for a hit, :data:`CANDIDATE` for a frame worth a
closer look, 0 otherwise. A candidate is a frame with a vehicle whose plate was not read, or
was read within ``max_distance + 2`` edits (a plate seen too small, blurred or half hidden on
the key frame, read better a few frames on). A vehicle whose plate was read clearly as another
plate is no candidate, so a busy road does not turn the dense pass into a full decode.
Trade-off: a plate the key frame reads confidently *wrong* (three or more characters off) is
not looked at again; it is found only if another key frame sees it.

Plate reads of other vehicles are compared and dropped; only hits are kept (text, confidence).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.core.plates import fold_confusables
from vigil.errors import ValidationError
from vigil.perception.plates.match import pattern_distance, require_specific
from vigil.perception.plates.profiles import RegionProfile
from vigil.perception.plates.reader import PlateCandidate
from vigil.perception.plates.vehicles import FrameReads

MATCH = 1.0
CANDIDATE = 0.5
MAX_DISTANCE = 2  # as the stored-read plate search
NEAR = 2  # extra edits that still make a read a candidate for the dense pass

#: One frame's vehicle count and plate reads (a VehiclePlateReader, or a fake in unit tests).
FrameReader = Callable[[npt.NDArray[np.uint8]], FrameReads]


def plate_query(text: str, max_distance: int, *, min_literals: int = 3) -> str:
    """The normalised plate query, refused unless it pins down a plate (the plate search's
    rule: ``min_literals`` fixed characters beyond the edits allowed).

    Raises:
        ValidationError: a bad pattern, too unspecific, or ``max_distance`` outside [0, 2].
    """
    if not 0 <= max_distance <= MAX_DISTANCE:
        raise ValidationError(f"max_distance must be in [0, {MAX_DISTANCE}], got {max_distance}")
    return require_specific(
        text, min_literals=min_literals, max_distance=max_distance, what="plate query"
    )


class PlateScorer:
    """Frame -> :data:`MATCH` / :data:`CANDIDATE` / 0 for one plate query (module doc).

    The best matching read of each hit frame is kept in :attr:`found` (keyed by the frame's
    time) until the job takes it with :meth:`take`; nothing else of a frame is kept.
    """

    def __init__(
        self,
        read_frame: FrameReader,
        query: str,
        profile: RegionProfile,
        *,
        max_distance: int,
        min_confidence: float,
    ) -> None:
        self.read_frame = read_frame
        self.canon = fold_confusables(query)
        self.profile = profile
        self.max_distance = max_distance
        self.min_confidence = min_confidence
        self.found: dict[datetime, PlateCandidate] = {}

    def distance(self, text: str) -> int:
        """Edits between the query and a read, after folding (0 = the same plate)."""
        return pattern_distance(self.canon, self.profile.canonical(text))

    def __call__(self, image: npt.NDArray[np.uint8], at: datetime) -> float:
        frame = self.read_frame(image)
        best: PlateCandidate | None = None
        near = False
        for read in frame.reads:
            d = self.distance(read.text)
            if d <= self.max_distance and read.confidence >= self.min_confidence:
                if best is None or read.confidence > best.confidence:
                    best = read
            elif d <= self.max_distance + NEAR:
                near = True
        if best is not None:
            self.found[at] = best
            return MATCH
        unread = frame.vehicles > len(frame.reads)
        return CANDIDATE if near or unread else 0.0

    def take(self, at: datetime) -> PlateCandidate:
        """The hit read of the frame at ``at`` (forgotten here once taken)."""
        try:
            return self.found.pop(at)
        except KeyError:
            raise ValidationError(f"no plate hit recorded at {at.isoformat()}") from None

    def forget(self) -> None:
        """Drop what a segment left (hits outside the job's window are never taken)."""
        self.found.clear()
