"""Typed, serialisable decisions on their way from the stages to the system of record.

Every stage sink of the running system hands one of these to the :class:`~vigil.system.outbox.
Outbox` instead of writing to the database itself:

* :class:`FaceRecord`: a closed face track that matched (crop, sighting, alerts, audit entries)
  or was archived inside a post-event authorisation (crop, sighting, template);
* :class:`ScanRecord`: the per-deployment scan counts of one camera (audit entries only);
* :class:`CrowdRecord`: one crowd sample and the crowd alerts it raised;
* :class:`CrossingRecord`: the line crossings of one analysed frame, as bucket counts;
* :class:`PlateRecord`: one fused plate read (and, through the hotlist checker, its hit);
* :class:`SightingRecord`: one closed person or vehicle track with its appearance descriptors.

Each carries its idempotency key (:mod:`vigil.core.keys`). They are plain frozen dataclasses
over the existing records, with a ``kind`` tag that makes them one discriminated union, so the
outbox can spill them to disk as JSON lines (images and templates as base64) and read them back
typed and validated (every nested record re-checks its shapes at construction). A face record
holds a template only for an *archived* track: the identifier drops non-match templates when the
track closes, so they never get here.

:class:`DecisionWriter` is the recording side: it writes one decision through the existing
recorders (:class:`~vigil.governance.recorder.IdentificationRecorder`, the hotlist checker, the
repository) inside **one** unit of work that first claims the key, so a decision seen before is
skipped (counted as a duplicate), and everything else commits with its audit entries or not at
all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

import numpy as np
from pydantic import ConfigDict, Field, TypeAdapter

from vigil.core.records import Alert, CrossingCount, CrowdSample, PlateRead, Sighting
from vigil.governance.audit import utc_now
from vigil.governance.recorder import IdentificationRecorder
from vigil.identification.live import FaceHit, TrackDecision
from vigil.storage import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FaceRecord:
    """A closed face track's decision (see :class:`~vigil.identification.live.TrackDecision`);
    the template, when archived, as float32 bytes."""

    key: str
    camera_id: str
    first_seen: datetime
    last_seen: datetime
    best_quality: float
    probe_jpeg: bytes = field(repr=False)
    hits: tuple[FaceHit, ...] = ()
    embedding: bytes | None = field(default=None, repr=False)
    model: str = "face"
    kind: Literal["face"] = "face"

    @classmethod
    def of(cls, key: str, d: TrackDecision) -> FaceRecord:
        vector = None if d.embedding is None else np.asarray(d.embedding, "<f4").tobytes()
        return cls(
            key,
            d.camera_id,
            d.first_seen,
            d.last_seen,
            d.best_quality,
            d.probe_jpeg,
            d.hits,
            vector,
            d.model,
        )

    def decision(self) -> TrackDecision:
        vector = None if self.embedding is None else np.frombuffer(self.embedding, "<f4").copy()
        return TrackDecision(
            self.camera_id,
            self.first_seen,
            self.last_seen,
            self.best_quality,
            self.probe_jpeg,
            self.hits,
            vector,
            self.model,
        )


@dataclass(frozen=True)
class ScanRecord:
    """One camera's faces-compared counts per deployment since the last summary."""

    key: str
    camera_id: str
    scanned: dict[str, int]
    alerted: dict[str, int]
    kind: Literal["scans"] = "scans"


@dataclass(frozen=True)
class CrowdRecord:
    """One crowd sample and the crowd alerts it raised (stored together)."""

    key: str
    sample: CrowdSample
    alerts: tuple[Alert, ...] = ()
    kind: Literal["crowd"] = "crowd"

    @property
    def camera_id(self) -> str:
        return self.sample.camera_id


@dataclass(frozen=True)
class CrossingRecord:
    """The line crossings one frame completed, per line, direction and time bucket; the writer
    adds them to the stored buckets, so the key is what keeps a replay from counting twice."""

    key: str
    counts: tuple[CrossingCount, ...]
    kind: Literal["crossings"] = "crossings"

    def __post_init__(self) -> None:
        cameras = {c.camera_id for c in self.counts}
        if len(cameras) != 1:
            raise ValueError(f"a crossing record holds one camera's counts, got {sorted(cameras)}")

    @property
    def camera_id(self) -> str:
        return self.counts[0].camera_id


@dataclass(frozen=True)
class PlateRecord:
    """One fused plate read of a vehicle pass."""

    key: str
    read: PlateRead
    kind: Literal["plate"] = "plate"

    @property
    def camera_id(self) -> str:
        return self.read.camera_id


@dataclass(frozen=True)
class SightingRecord:
    """One closed person or vehicle track: a sighting with its non-biometric descriptors."""

    key: str
    sighting: Sighting
    kind: Literal["sighting"] = "sighting"

    @property
    def camera_id(self) -> str:
        return self.sighting.camera_id


Decision = Annotated[
    FaceRecord | ScanRecord | CrowdRecord | CrossingRecord | PlateRecord | SightingRecord,
    Field(discriminator="kind"),
]
"""Anything the outbox carries (a discriminated union on ``kind``)."""

DecisionSink = Callable[[Decision], "WriteResult | None"]
"""Takes a keyed decision: the outbox (``None`` back: buffered, written later)."""

_CODEC: TypeAdapter[Decision] = TypeAdapter(
    Decision, config=ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
)


def encode(decision: Decision) -> bytes:
    """One decision as a single line of JSON (no newline inside: bytes are base64)."""
    return _CODEC.dump_json(decision)


def decode(data: bytes) -> Decision:
    """The decision :func:`encode` wrote (validated; raises ``pydantic.ValidationError``)."""
    return _CODEC.validate_json(data)


@dataclass
class WriteResult:
    """What writing one decision did: ``duplicate`` when its key was already recorded."""

    duplicate: bool = False
    alerts: list[object] = field(default_factory=list)


class DecisionWriter:
    """Write one decision with its key in one unit of work (see the module docstring).

    Args:
        recorder: face decisions and scan summaries (``None``: no camera identifies faces).
        plates: the hotlist checker (stores the read, raises the hit); ``None``: reads are stored
            without hotlist checks.
    """

    def __init__(
        self,
        repo: Repository,
        *,
        recorder: IdentificationRecorder | None = None,
        plates: Callable[[PlateRead], object] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.recorder = recorder
        self.plates = plates
        self.clock = clock

    def __call__(self, decision: Decision, *, retry_s: float | None = None) -> WriteResult:
        def unit() -> WriteResult:
            if not self.repo.claim_record_key(
                decision.key, decision.kind, decision.camera_id, self.clock()
            ):
                return WriteResult(duplicate=True)
            return WriteResult(alerts=self._write(decision))

        return self.repo.db.unit(unit, retry_s=retry_s)

    def _write(self, decision: Decision) -> list[object]:
        if isinstance(decision, CrowdRecord):
            self.repo.add_crowd_samples([decision.sample])
            for alert in decision.alerts:
                self.repo.add_alert(alert)
            return list(decision.alerts)
        if isinstance(decision, CrossingRecord):
            self.repo.add_crossing_counts(decision.counts)
            return []
        if isinstance(decision, SightingRecord):
            self.repo.add_sightings([decision.sighting])
            return []
        if isinstance(decision, PlateRecord):
            if self.plates is None:
                self.repo.add_plate_reads([decision.read])
                return []
            hit = self.plates(decision.read)
            return [] if hit is None else [hit]
        if self.recorder is None:
            raise RuntimeError(f"no identification recorder for a {decision.kind} record")
        if isinstance(decision, ScanRecord):
            self.recorder.record_scans(decision.camera_id, decision.scanned, decision.alerted)
            return []
        return list(self.recorder.record(decision.decision()))
