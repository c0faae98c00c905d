"""Domain types and records of the administrative and governance side: roles, deployment
states, decisions, and the records for cameras, accounts, sessions, watchlists, subjects,
templates, deployments, verifications, cases and hotlists.

They live in ``core`` (the bottom layer) so every layer can name a ``Role`` or a
``DeploymentState`` without depending on storage; :mod:`vigil.core.records` holds the pipeline's
records (sightings, plate reads, crowd samples, alerts, audit entries). They check only what every
layer relies on (aware timestamps, known enum values); the policy rules (who may approve what)
belong to the governance layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

Float32 = npt.NDArray[np.float32]


def _aware(ts: datetime | None, name: str) -> None:
    if ts is not None and ts.tzinfo is None:
        raise ValidationError(f"{name} must be timezone-aware, got naive {ts.isoformat()}")


@dataclass(frozen=True, slots=True)
class CameraRow:
    """A camera as stored. ``source_url`` as given may hold credentials (kept out of ``repr``);
    the repository stores and returns it redacted, with user-info and secret query values
    replaced by ``***`` (the live URL is read from the config file only)."""

    id: str
    name: str
    source_url: str = field(repr=False)
    updated_at: datetime
    lat: float | None = None
    lon: float | None = None
    zone: str | None = None
    analytics: tuple[str, ...] = ("persons",)
    fps: float = 2.0
    enabled: bool = True
    status: str = "unknown"
    plan_x: float | None = None  # site-plan metres, where no lat/lon is surveyed
    plan_y: float | None = None

    def __post_init__(self) -> None:
        _aware(self.updated_at, "updated_at")


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    INVESTIGATOR = "investigator"
    AUTHORISING_OFFICER = "authorising_officer"
    AUDITOR = "auditor"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class UserRow:
    """An account. ``password_hash`` is an argon2/bcrypt hash made by the accounts layer."""

    id: str
    username: str
    password_hash: str = field(repr=False)
    created_at: datetime
    roles: tuple[Role, ...] = ()
    display_name: str = ""
    disabled: bool = False
    failed_logins: int = 0
    locked_until: datetime | None = None
    #: Cameras this person may see (alerts, sightings, live events); ``None``: every camera.
    cameras: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _aware(self.created_at, "created_at")
        _aware(self.locked_until, "locked_until")


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A login session or API key, stored by the sha256 of its secret (never the secret)."""

    token_hash: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    kind: str = "session"  # session | api_key
    scopes: tuple[str, ...] = ()
    revoked_at: datetime | None = None
    #: Who issued an API key (may differ from its owner ``user_id``); ``None`` for a login.
    issued_by: str | None = None

    def __post_init__(self) -> None:
        for name in ("created_at", "expires_at", "revoked_at"):
            _aware(getattr(self, name), name)

    def active_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True, slots=True)
class WatchlistRow:
    id: str
    name: str
    category: str
    owner_id: str
    created_at: datetime
    reason: str = ""
    expires_at: datetime | None = None
    version: int = 1
    version_hash: str = ""
    max_size: int | None = None

    def __post_init__(self) -> None:
        _aware(self.created_at, "created_at")
        _aware(self.expires_at, "expires_at")


@dataclass(frozen=True, slots=True)
class SubjectRow:
    id: str
    watchlist_id: str
    label: str
    added_by: str
    created_at: datetime
    reason: str = ""
    expires_at: datetime | None = None
    approved_by: str | None = None

    def __post_init__(self) -> None:
        _aware(self.created_at, "created_at")
        _aware(self.expires_at, "expires_at")


@dataclass(frozen=True)
class TemplateRow:
    """One enrolled face template (biometric): a float32 vector and its provenance."""

    id: str
    subject_id: str
    model: str
    vector: Float32 = field(repr=False)
    provenance: str
    quality: float
    added_by: str
    created_at: datetime
    image_key: str | None = None
    captured_at: datetime | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        _aware(self.created_at, "created_at")
        _aware(self.captured_at, "captured_at")
        vec = np.asarray(self.vector, dtype=np.float32).reshape(-1)
        if vec.size == 0:
            raise ValidationError("template vector must not be empty")
        object.__setattr__(self, "vector", vec)


class DeploymentState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    URGENT_PENDING = "urgent_pending"
    REFUSED = "refused"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class DeploymentRow:
    """An authorisation for live (or post-event) identification, bounded in time and place."""

    id: str
    purpose: str
    legal_reference: str
    starts_at: datetime
    ends_at: datetime
    state: DeploymentState
    requested_by: str
    created_at: datetime
    kind: str = "live"  # live | post_event
    camera_ids: tuple[str, ...] = ()
    zone: str | None = None
    watchlists: tuple[tuple[str, str], ...] = ()  # (watchlist_id, version_hash)
    authorised_by: str | None = None
    urgent_deadline: datetime | None = None
    reason: str = ""
    decided_at: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("starts_at", "ends_at", "created_at", "urgent_deadline", "decided_at"):
            _aware(getattr(self, name), name)
        if self.ends_at < self.starts_at:
            raise ValidationError("deployment ends_at must not be before starts_at")


class Decision(StrEnum):
    CONFIRM = "confirm"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class VerificationRow:
    alert_id: str
    user_id: str
    decision: Decision
    reason: str
    decided_at: datetime

    def __post_init__(self) -> None:
        _aware(self.decided_at, "decided_at")
        if not self.reason.strip():
            raise ValidationError("a verification decision needs a reason")


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: str
    title: str
    opened_by: str
    opened_at: datetime
    status: str = "open"
    outcome: str | None = None
    closed_at: datetime | None = None
    legal_hold: bool = True
    closed_by: str | None = None

    def __post_init__(self) -> None:
        _aware(self.opened_at, "opened_at")
        _aware(self.closed_at, "closed_at")


@dataclass(frozen=True, slots=True)
class CaseLink:
    case_id: str
    kind: str  # alert | sighting | plate_read | search | export
    target_id: str
    added_by: str
    added_at: datetime


@dataclass(frozen=True)
class StoredEmbedding:
    """A sighting embedding as stored; ``vector_id`` is its id in the archive index."""

    vector_id: int
    sighting_id: str
    model: str
    vector: Float32 = field(repr=False)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class HotlistRow:
    id: str
    name: str
    priority: int
    reason: str
    owner_id: str
    retention_days: float
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HotlistEntryRow:
    id: str
    hotlist_id: str
    pattern: str
    reason: str
    added_by: str
    added_at: datetime
    expires_at: datetime | None = None
