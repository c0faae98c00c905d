"""Vehicle passes without a vehicle tracker: for dedicated plate cameras that read the whole frame.

A dedicated licence-plate camera looks at a lane or a gate close up; the vehicle often fills or
leaves the frame, so the object detector's vehicle boxes (and the tracks made from them) are
missing in the very frames where the plate is sharpest (on the OpenALPR close-ups NanoDet found
no vehicle in 7 of 222 images, docs/plates.md). Such a camera reads the whole frame, and its
reads are grouped into passes by **what they say and when**, not by where the car is:

- a read joins the open pass whose latest reads it resembles most: its confusable-folded string
  (:meth:`RegionProfile.canonical`) within ``max_distance`` edits (at most a third of its
  length) of one of the pass's recent reads, the pass seen within ``gap_s`` seconds; otherwise
  it opens a new pass;
- a pass that has seen no read for ``gap_s`` closes and is fused by :class:`PlateFuser` into one
  read, exactly like a vehicle track's reads.

Trade-offs: grouping by text needs no geometry, so it holds at 2 fps when a plate jumps across
the frame between analysed frames (an IoU tracker would lose it); two cars whose plates differ
by ``max_distance`` edits or fewer, seen within ``gap_s`` of each other, merge into one pass
(the fused read is then the majority's plate, and its confidence drops). ``max_distance`` 2
tolerates the one- and two-character misreads the reader makes on a blurred frame (the
per-frame misreads seen on the OpenALPR images are mostly one edit). State is bounded by the
fuser (``max_tracks`` open passes, ``max_reads`` reads each) and by ``recent`` strings per pass.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vigil.perception.plates.benchmark import edit_distance
from vigil.perception.plates.fusion import FrameRead, FusedPlate, PlateFuser


@dataclass
class _Pass:
    last_at: datetime
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=8))


class PlatePasses:
    """Group a camera's whole-frame plate reads into passes and fuse each (module docstring).

    ``observe`` returns the passes that a read's time closed (and any the fuser had to evict);
    ``close_all`` fuses what is still open (end of stream, shutdown).
    """

    def __init__(self, fuser: PlateFuser, *, gap_s: float = 3.0, max_distance: int = 2) -> None:
        if gap_s <= 0 or max_distance < 0:
            raise ValueError("gap_s must be > 0 and max_distance >= 0")
        self.fuser = fuser
        self.gap = timedelta(seconds=gap_s)
        self.max_distance = max_distance
        self._open: dict[int, _Pass] = {}
        self._next_id = 1

    def __len__(self) -> int:
        """Open passes."""
        return len(self._open)

    def observe(self, read: FrameRead) -> list[FusedPlate]:
        """Add one read (reads arrive in capture order); returns passes closed meanwhile."""
        closed = self.expire(read.at)
        key = self.fuser.profile.canonical(read.text)
        pass_id = self._nearest(key)
        if pass_id is None:
            pass_id = self._next_id
            self._next_id += 1
            self._open[pass_id] = _Pass(read.at)
        state = self._open[pass_id]
        state.last_at = max(state.last_at, read.at)
        state.recent.append(key)
        evicted = self.fuser.observe(pass_id, read)
        if evicted is not None:  # the fuser's bound closed the oldest pass early
            self._open.pop(evicted.track_id, None)
            closed.append(evicted)
        return closed

    def expire(self, now: datetime) -> list[FusedPlate]:
        """Close the passes that have seen no read for ``gap_s`` before ``now``."""
        done = [pid for pid, p in self._open.items() if now - p.last_at > self.gap]
        out = []
        for pid in done:
            del self._open[pid]
            fused = self.fuser.close(pid)
            if fused is not None:
                out.append(fused)
        return out

    def close_all(self) -> list[FusedPlate]:
        """Fuse and forget every open pass."""
        self._open.clear()
        return self.fuser.close_all()

    def _nearest(self, key: str) -> int | None:
        best: tuple[int, int] | None = None  # (distance, pass id)
        limit = min(self.max_distance, len(key) // 3)  # a 5-character plate: one edit
        for pid, p in self._open.items():
            d = min(edit_distance(key, other) for other in p.recent)
            if d <= limit and (best is None or d < best[0]):
                best = (d, pid)
        return None if best is None else best[1]
