"""The typed records every pipeline stage passes on, validated once at construction.

Stages never exchange tuples or ``dict[str, Any]``: a detector returns :class:`Detections`, the face
pipeline :class:`FaceObservation`, the tracker :class:`Track`, and so on down to :class:`Alert` and
:class:`AuditEntry`. Constructors check shapes, dtypes and ranges and raise
:class:`vigil.errors.ValidationError` naming the expected and the actual value, so a bad value is
caught where it is made, not three stages later.

Per-object columns are parallel numpy arrays (one row per object), which keeps the hot paths
vectorised; records that describe one thing (an alert, an audit entry) are plain frozen dataclasses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from vigil.core.geometry import box_area
from vigil.errors import ValidationError

Float32 = npt.NDArray[np.float32]
Int64 = npt.NDArray[np.int64]


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise ValidationError(message)


def _aware(ts: datetime, name: str) -> None:
    _require(ts.tzinfo is not None, f"{name} must be timezone-aware, got naive {ts.isoformat()}")


def _unit(value: float, name: str) -> None:
    _require(
        not math.isnan(value) and 0.0 <= value <= 1.0, f"{name} must be in [0, 1], got {value}"
    )


class ObjectClass(StrEnum):
    """Object classes Vigil detects. Deliberately no attribute classes about people."""

    FACE = "face"
    PERSON = "person"
    BICYCLE = "bicycle"
    CAR = "car"
    MOTORCYCLE = "motorcycle"
    BUS = "bus"
    TRUCK = "truck"
    PLATE = "plate"


CLASS_IDS: dict[ObjectClass, int] = {c: i for i, c in enumerate(ObjectClass)}
CLASS_IDS_FACE = CLASS_IDS[ObjectClass.FACE]


@dataclass(frozen=True, slots=True)
class FrameRef:
    """A reference to one decoded frame: which camera, when, its index and its size.

    ``epoch`` names the stream instance the frame came from (see :mod:`vigil.core.keys`); with
    ``index`` it is the frame's position for idempotency keys (empty: not from a source).
    """

    camera_id: str
    captured_at: datetime
    index: int
    width: int
    height: int
    epoch: str = ""

    def __post_init__(self) -> None:
        _require(bool(self.camera_id), "camera_id must be a non-empty string")
        _aware(self.captured_at, "captured_at")
        _require(self.index >= 0, f"frame index must be >= 0, got {self.index}")
        _require(
            self.width > 0 and self.height > 0,
            f"frame size must be positive, got {self.width}x{self.height}",
        )


@dataclass(frozen=True)
class Detections:
    """Detected objects of one frame as parallel arrays (one row per object).

    Attributes:
        xyxy: ``(N, 4)`` float32 boxes in pixels, ``x2 >= x1`` and ``y2 >= y1``.
        confidence: ``(N,)`` float32 scores in ``[0, 1]``.
        class_id: ``(N,)`` int64 indices into :class:`ObjectClass` order.
        landmarks: optional ``(N, K, 2)`` float32 keypoints (five for faces: eyes, nose, mouth
            corners, in the image's left-to-right order as the detector reports them).
        tracker_id: optional ``(N,)`` int64 track ids, ``-1`` for unassigned.

    Example:
        >>> d = Detections(np.array([[0, 0, 10, 10]]), np.array([0.9]), np.array([0]))
        >>> len(d)
        1
    """

    xyxy: Float32
    confidence: Float32
    class_id: Int64
    landmarks: Float32 | None = None
    tracker_id: Int64 | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        if xyxy.ndim == 1 and xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        _require(xyxy.ndim == 2 and xyxy.shape[1] == 4, f"xyxy must be (N, 4), got {xyxy.shape}")
        n = len(xyxy)
        conf = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        cls = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        _require(conf.shape == (n,), f"confidence must be ({n},), got {conf.shape}")
        _require(cls.shape == (n,), f"class_id must be ({n},), got {cls.shape}")
        _require(bool(np.isfinite(xyxy).all()), "xyxy must be finite")
        _require(
            bool((xyxy[:, 2] >= xyxy[:, 0]).all() and (xyxy[:, 3] >= xyxy[:, 1]).all()),
            "xyxy must satisfy x2 >= x1 and y2 >= y1",
        )
        _require(
            bool(((conf >= 0) & (conf <= 1)).all()),
            f"confidence must be in [0, 1], got min {conf.min(initial=0):.3g} "
            f"max {conf.max(initial=0):.3g}",
        )
        _require(
            bool(((cls >= 0) & (cls < len(ObjectClass))).all()),
            f"class_id must be in [0, {len(ObjectClass) - 1}]",
        )
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "class_id", cls)
        if self.landmarks is not None:
            lm = np.asarray(self.landmarks, dtype=np.float32)
            _require(
                lm.ndim == 3 and lm.shape[0] == n and lm.shape[2] == 2,
                f"landmarks must be ({n}, K, 2), got {lm.shape}",
            )
            object.__setattr__(self, "landmarks", lm)
        if self.tracker_id is not None:
            tid = np.asarray(self.tracker_id, dtype=np.int64).reshape(-1)
            _require(tid.shape == (n,), f"tracker_id must be ({n},), got {tid.shape}")
            object.__setattr__(self, "tracker_id", tid)

    @classmethod
    def empty(cls, with_landmarks: int | None = None) -> Detections:
        """No detections (optionally with an empty ``(0, K, 2)`` landmark array)."""
        lm = None if with_landmarks is None else np.zeros((0, with_landmarks, 2), np.float32)
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), lm)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: npt.ArrayLike | slice) -> Detections:
        """Select rows with a boolean mask, an index array or a slice (always returns a copy)."""
        idx = index if isinstance(index, slice) else np.asarray(index)
        if not isinstance(idx, slice) and idx.ndim == 0:
            idx = idx.reshape(1)
        return Detections(
            self.xyxy[idx].copy(),
            self.confidence[idx].copy(),
            self.class_id[idx].copy(),
            None if self.landmarks is None else self.landmarks[idx].copy(),
            None if self.tracker_id is None else self.tracker_id[idx].copy(),
        )

    @property
    def area(self) -> Float32:
        return box_area(self.xyxy)

    def of_class(self, cls: ObjectClass) -> Detections:
        return self[self.class_id == CLASS_IDS[cls]]


@dataclass(frozen=True)
class FaceObservation:
    """One face seen in one frame: where, how good, and (once embedded) its template.

    ``embedding`` is L2-normalised float32 and is biometric data: it lives only in memory and in
    stores covered by the purge rules, never in logs or audit entries.
    """

    frame: FrameRef
    xyxy: Float32
    score: float
    landmarks: Float32
    quality: float
    embedding: Float32 | None = None
    track_id: int | None = None

    def __post_init__(self) -> None:
        box = np.asarray(self.xyxy, dtype=np.float32).reshape(-1)
        _require(box.shape == (4,), f"xyxy must have 4 values, got {box.shape}")
        _require(bool(box[2] >= box[0] and box[3] >= box[1]), "xyxy must satisfy x2>=x1, y2>=y1")
        lm = np.asarray(self.landmarks, dtype=np.float32)
        _require(lm.shape == (5, 2), f"landmarks must be (5, 2), got {lm.shape}")
        _unit(self.score, "score")
        _unit(self.quality, "quality")
        object.__setattr__(self, "xyxy", box)
        object.__setattr__(self, "landmarks", lm)
        if self.embedding is not None:
            emb = np.asarray(self.embedding, dtype=np.float32).reshape(-1)
            norm = float(np.linalg.norm(emb))
            _require(abs(norm - 1.0) < 1e-3, f"embedding must be L2-normalised, norm is {norm:.4f}")
            object.__setattr__(self, "embedding", emb)


class TrackState(StrEnum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Track:
    """A tracked object on one camera: identity within the camera and its time span."""

    camera_id: str
    track_id: int
    object_class: ObjectClass
    state: TrackState
    first_seen: datetime
    last_seen: datetime
    last_box: tuple[float, float, float, float]
    hits: int = 1

    def __post_init__(self) -> None:
        _require(self.track_id >= 0, f"track_id must be >= 0, got {self.track_id}")
        _aware(self.first_seen, "first_seen")
        _aware(self.last_seen, "last_seen")
        _require(
            self.last_seen >= self.first_seen,
            f"last_seen ({self.last_seen.isoformat()}) is before first_seen "
            f"({self.first_seen.isoformat()})",
        )
        _require(self.hits >= 1, f"hits must be >= 1, got {self.hits}")


@dataclass(frozen=True, slots=True)
class Sighting:
    """One tracked person or vehicle on one camera, summarised when its track closes."""

    id: str
    camera_id: str
    object_class: ObjectClass
    started_at: datetime
    ended_at: datetime
    best_quality: float
    crop_key: str | None = None
    plate_text: str | None = None
    # Non-biometric appearance (vigil.analytics.attributes): palette colour names, the
    # dominant colours' mean share, the median box height / frame height, image direction.
    upper_colour: str | None = None
    lower_colour: str | None = None
    body_colour: str | None = None
    colour_score: float | None = None
    height_frac: float | None = None
    direction: str | None = None

    def __post_init__(self) -> None:
        _require(bool(self.id), "sighting id must be non-empty")
        for name in ("colour_score", "height_frac"):
            value = getattr(self, name)
            if value is not None:
                _unit(value, name)
        _aware(self.started_at, "started_at")
        _aware(self.ended_at, "ended_at")
        _require(self.ended_at >= self.started_at, "ended_at must not be before started_at")
        _unit(self.best_quality, "best_quality")


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One fused licence-plate read of one vehicle pass."""

    camera_id: str
    read_at: datetime
    text: str
    confidence: float
    region: str
    xyxy: tuple[float, float, float, float]
    track_id: int | None = None

    def __post_init__(self) -> None:
        _aware(self.read_at, "read_at")
        _require(
            self.text.isalnum() and self.text.isupper() and 1 <= len(self.text) <= 12,
            f"plate text must be 1-12 upper-case letters/digits, got {self.text!r}",
        )
        _unit(self.confidence, "confidence")


@dataclass(frozen=True, slots=True)
class CrowdSample:
    """People count on one camera (optionally one zone) at one time."""

    camera_id: str
    sampled_at: datetime
    count: float
    method: str
    zone: str | None = None

    def __post_init__(self) -> None:
        _aware(self.sampled_at, "sampled_at")
        _require(
            math.isfinite(self.count) and self.count >= 0, f"count must be >= 0, got {self.count}"
        )
        _require(
            self.method in {"boxes", "density"},
            f"method must be boxes|density, got {self.method!r}",
        )


@dataclass(frozen=True)
class CrossingCount:
    """How many tracked people crossed one counting line in one direction during one time
    bucket of one camera (``bucket_start`` is the bucket's start, UTC, a whole multiple of
    the bucket length)."""

    camera_id: str
    line: str
    direction: str
    bucket_start: datetime
    count: int

    def __post_init__(self) -> None:
        _aware(self.bucket_start, "bucket_start")
        _require(bool(self.camera_id) and bool(self.line), "a crossing count needs camera and line")
        _require(
            self.direction in {"in", "out"}, f"direction must be in|out, got {self.direction!r}"
        )
        _require(self.count >= 1, f"count must be >= 1, got {self.count}")


class AlertKind(StrEnum):
    FACE_MATCH = "face_match"
    PLATE_HIT = "plate_hit"
    CROWD = "crowd"
    TAMPER = "tamper"


class AlertStatus(StrEnum):
    PENDING = "pending"
    ONE_CONFIRMED = "one_confirmed"
    ACTIONABLE = "actionable"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Alert:
    """A lead for people to check — never an identification by itself.

    ``false_alert_rate`` is the calibrated false-positive identification rate at ``score`` for the
    watchlist in force as its one-sided 95% upper bound (the number shown and acted on);
    ``false_alert_point`` is the point estimate beside it and ``calibration_count`` of
    ``calibration_comparisons`` the impostor comparisons at or above the score it rests on. Older
    alerts carry the bound's predecessor (a point estimate) and ``None`` for the three.
    Both are shown next to every face alert. ``template_id`` is the matched
    enrolled template, whose photo verifiers compare with the probe crop (``None`` for other
    kinds, and once the subject has been removed from the watchlist).
    """

    id: str
    kind: AlertKind
    camera_id: str
    raised_at: datetime
    score: float
    status: AlertStatus = AlertStatus.PENDING
    deployment_id: str | None = None
    subject_id: str | None = None
    false_alert_rate: float | None = None
    rank2_margin: float | None = None
    detail: str = ""
    template_id: str | None = None
    false_alert_point: float | None = None
    calibration_count: int | None = None
    calibration_comparisons: int | None = None

    def __post_init__(self) -> None:
        _require(bool(self.id), "alert id must be non-empty")
        _aware(self.raised_at, "raised_at")
        _require(math.isfinite(self.score), f"score must be finite, got {self.score}")
        if self.false_alert_rate is not None:
            _unit(self.false_alert_rate, "false_alert_rate")
        if self.false_alert_point is not None:
            _unit(self.false_alert_point, "false_alert_point")
            _require(
                self.false_alert_rate is not None
                and self.false_alert_point <= self.false_alert_rate,
                "false_alert_point must not exceed its upper bound false_alert_rate",
            )
        if self.calibration_count is not None or self.calibration_comparisons is not None:
            k, n = self.calibration_count, self.calibration_comparisons
            _require(
                k is not None and n is not None and 0 <= k <= n and n >= 1,
                f"calibration counts need 0 <= count <= comparisons, got {k}, {n}",
            )
        if self.kind is AlertKind.FACE_MATCH:
            _require(
                self.deployment_id is not None,
                "a face_match alert must belong to a deployment (no identification outside one)",
            )
            _require(
                self.false_alert_rate is not None,
                "a face_match alert must carry its calibrated false_alert_rate",
            )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One link of the tamper-evident audit chain. Holds no biometric data."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    prev_hash: str
    entry_hash: str
    details: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _require(self.seq >= 0, f"seq must be >= 0, got {self.seq}")
        _aware(self.at, "at")
        _require(bool(self.actor), "actor must be non-empty")
        _require(bool(self.action), "action must be non-empty")
        for name in ("prev_hash", "entry_hash"):
            value = getattr(self, name)
            _require(
                len(value) == 64 and all(c in "0123456789abcdef" for c in value),
                f"{name} must be 64 lowercase hex characters, got {value!r}",
            )
