"""Fusion of per-frame plate reads over a vehicle's track: one read per vehicle pass.

A vehicle crossing a camera is read in many frames, and the reads disagree: motion blur turns
``8`` into ``B``, a partial crop drops the last character, a glare frame reads nothing. Storing
every frame's read would flood the system of record and the hotlist checker with near-duplicates
of one car; keeping only the most confident frame would let one confident misread win.

:class:`PlateFuser` keeps, per open track, a bounded list of the track's reads and, when the
track closes, votes:

1. **Length.** Each read votes for its length with weight ``w = OCR confidence x format score``
   (:meth:`~vigil.perception.plates.profiles.RegionProfile.format_score`: a read that fits the
   region's format counts more than one that only has a valid length). The heaviest length wins.
2. **Characters.** Reads of that length vote per character position with the same weights; the
   heaviest character wins each position.
3. **Check.** The fused string must be a valid plate of the region; otherwise the single heaviest
   read is the answer (voting may assemble a string no frame read, which is the point, but not
   one the region cannot issue).

Confidence of the fused read = (weight share of the winning length) x (mean over positions of
the winning character's weight share) x (weighted mean OCR confidence of the voting reads). It
is 1.0 only when every frame agreed confidently, and it falls when frames disagree, which is what
a verifier should see.

Trade-offs: reads of another length do not vote on characters (aligning them by edit distance
would recover more, at the cost of mis-aligning a read that has an extra character in the
middle); ``max_reads`` keeps the most confident reads of a long-lived track, so a car parked for
an hour costs no more memory than one passing by; ``max_tracks`` bounds the open tracks per
camera (the oldest track is fused early and handed back when it is exceeded).
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import datetime

from vigil.perception.plates.profiles import RegionProfile

XYXY = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class FrameRead:
    """One frame's plate read attributed to a track."""

    text: str
    confidence: float
    at: datetime
    xyxy: XYXY


@dataclass(frozen=True, slots=True)
class FusedPlate:
    """The fused read of one vehicle pass.

    Attributes:
        text: the voted plate string.
        confidence: see the module docstring (in ``[0, 1]``).
        reads: frames that contributed a read.
        agreeing: of those, how many read exactly ``text``.
        first_at, last_at: capture time of the first and the last read.
        xyxy: the plate box of the most confident read agreeing with ``text`` (or the most
            confident read).
    """

    track_id: int
    text: str
    confidence: float
    reads: int
    agreeing: int
    first_at: datetime
    last_at: datetime
    xyxy: XYXY


@dataclass
class _TrackReads:
    reads: list[FrameRead]
    seen: int = 0  # reads observed, including those dropped by max_reads


class PlateFuser:
    """Per-track plate voting with bounded state (see the module docstring).

    Args:
        profile: the region whose validity rules weight and check the reads.
        max_reads: reads kept per track (the most confident ones).
        max_tracks: open tracks kept; beyond it the least recently updated is fused early.
        min_reads: a track with fewer reads yields no fused read (1 = a single frame is enough;
            higher trades recall on fast cars for fewer one-frame misreads of signs).
        min_confidence: fused reads below this confidence are a clean "no read".
    """

    def __init__(
        self,
        profile: RegionProfile,
        *,
        max_reads: int = 32,
        max_tracks: int = 256,
        min_reads: int = 1,
        min_confidence: float = 0.2,
    ) -> None:
        if max_reads < 1 or max_tracks < 1 or min_reads < 1:
            raise ValueError("max_reads, max_tracks and min_reads must be >= 1")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.profile = profile
        self.max_reads = max_reads
        self.max_tracks = max_tracks
        self.min_reads = min_reads
        self.min_confidence = min_confidence
        self._tracks: OrderedDict[int, _TrackReads] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        """Open tracks held."""
        return len(self._tracks)

    def observe(self, track_id: int, read: FrameRead) -> FusedPlate | None:
        """Add one frame's read to a track; returns the fused read of a track evicted to make
        room (``max_tracks``), else ``None``."""
        state = self._tracks.get(track_id)
        evicted: FusedPlate | None = None
        if state is None:
            if len(self._tracks) >= self.max_tracks:
                old_id, _ = next(iter(self._tracks.items()))
                evicted = self.close(old_id)
                self.evicted += 1
            state = self._tracks[track_id] = _TrackReads([])
        self._tracks.move_to_end(track_id)
        state.seen += 1
        state.reads.append(read)
        if len(state.reads) > self.max_reads:
            worst = min(range(len(state.reads)), key=lambda i: state.reads[i].confidence)
            state.reads.pop(worst)
        return evicted

    def close(self, track_id: int) -> FusedPlate | None:
        """Forget a track and return its fused read (``None``: no read, or too weak)."""
        state = self._tracks.pop(track_id, None)
        if state is None or state.seen < self.min_reads or not state.reads:
            return None
        fused = fuse(track_id, state.reads, self.profile)
        if fused is None or fused.confidence < self.min_confidence:
            return None
        return fused

    def close_all(self) -> list[FusedPlate]:
        """Fuse and forget every open track (end of stream, shutdown)."""
        out = [self.close(tid) for tid in list(self._tracks)]
        return [f for f in out if f is not None]


def fuse(track_id: int, reads: list[FrameRead], profile: RegionProfile) -> FusedPlate | None:
    """Vote one plate string out of a track's reads (see the module docstring)."""
    weighted = [(r, r.confidence * profile.format_score(r.text)) for r in reads]
    weighted = [(r, w) for r, w in weighted if w > 0]
    if not weighted:
        return None
    by_len: dict[int, float] = defaultdict(float)
    for r, w in weighted:
        by_len[len(r.text)] += w
    total = sum(by_len.values())
    length = max(by_len, key=lambda n: (by_len[n], n))
    voters = [(r, w) for r, w in weighted if len(r.text) == length]
    chars, shares = [], []
    for i in range(length):
        votes: dict[str, float] = defaultdict(float)
        for r, w in voters:
            votes[r.text[i]] += w
        best = max(votes, key=lambda c: (votes[c], c))
        chars.append(best)
        shares.append(votes[best] / by_len[length])
    text = "".join(chars)
    if profile.format_score(text) == 0.0:
        top, _ = max(weighted, key=lambda rw: rw[1])
        text, shares = top.text, [1.0] * len(top.text)
    mean_conf = sum(r.confidence * w for r, w in voters) / by_len[length]
    confidence = (by_len[length] / total) * (sum(shares) / len(shares)) * mean_conf
    agreeing = [r for r in reads if r.text == text]
    box = max(agreeing or reads, key=lambda r: r.confidence).xyxy
    return FusedPlate(
        track_id=track_id,
        text=text,
        confidence=float(min(1.0, max(0.0, confidence))),
        reads=len(reads),
        agreeing=len(agreeing),
        first_at=min(r.at for r in reads),
        last_at=max(r.at for r in reads),
        xyxy=box,
    )
