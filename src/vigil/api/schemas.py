"""Request and response bodies of the HTTP API (pydantic; they generate the OpenAPI spec).

Ids in paths and bodies are opaque strings of ``[A-Za-z0-9_-]`` (uuid4 hex for records made
here, slugs for cameras); anything else is refused with 422 before it reaches a query. No model
here has a field for a camera URL, a password hash, a token hash (except an API key's public id)
or an embedding, so none can leak by accident.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from vigil.core.domain import Decision, Role
from vigil.governance.deployments import DeploymentKind, Purpose
from vigil.governance.watchlists import Category

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
IdPath = Annotated[str, Path(pattern=ID_PATTERN, max_length=64)]
IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=64)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]
T = TypeVar("T")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _sane_time(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        raise ValueError("must include a time zone (e.g. 2025-01-01T00:00:00Z)")
    try:
        utc = ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None
    if not _EARLIEST <= utc < _LATEST:
        raise ValueError("must be between 2000 and 2200")
    return utc


Timestamp = Annotated[datetime, AfterValidator(_sane_time)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_offset`` is the offset of the next page, or null at the end."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


# -- auth and users ---------------------------------------------------------------------------


class LoginRequest(Body):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)
    mode: Literal["token", "cookie"] = Field(
        "token",
        description="`token`: a bearer token in the body; `cookie`: an HttpOnly session cookie "
        "plus a CSRF token to send as X-CSRF-Token on unsafe requests.",
    )


CameraId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    roles: list[Role]
    disabled: bool
    created_at: datetime
    cameras: list[str] | None = Field(
        None, description="Cameras this person may see; null: every camera."
    )


class LoginResponse(BaseModel):
    user: UserOut
    expires_at: datetime
    token: str | None = Field(None, description="Bearer token (token mode only; shown once).")
    csrf_token: str | None = Field(None, description="CSRF token (cookie mode only).")


class NewUser(Body):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    password: str = Field(min_length=12, max_length=1000)
    roles: list[Role] = Field(min_length=1, max_length=6)
    display_name: str = Field("", max_length=200)
    cameras: list[CameraId] | None = Field(
        None, max_length=10_000, description="Cameras this person may see; omit for every camera."
    )


class CameraAssignment(Body):
    cameras: list[CameraId] | None = Field(
        ..., max_length=10_000, description="Cameras this person may see; null: every camera."
    )
    reason: Reason


class RoleAssignment(Body):
    roles: list[Role] = Field(
        min_length=1, max_length=6, description="The person's roles from now on (replaces all)."
    )
    reason: Reason


class NewApiKey(Body):
    user_id: str = Field(pattern=ID_PATTERN, max_length=64)
    scopes: list[Annotated[str, Field(pattern=r"^[a-z]+:[A-Za-z0-9_-]{1,64}$")]] = Field(
        min_length=1, max_length=50
    )
    days: int | None = Field(None, ge=1, le=3650)


class ApiKeyOut(BaseModel):
    id: str = Field(description="Public id of the key (SHA-256 of the secret), for revocation.")
    user_id: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    issued_by: str | None = Field(
        None, description="Who issued the key (null for keys issued before this was recorded)."
    )
    key: str | None = Field(None, description="The secret, returned once at creation.")


class Done(BaseModel):
    ok: bool = True


# -- cameras ----------------------------------------------------------------------------------


class CameraOut(BaseModel):
    id: str
    name: str
    zone: str | None
    lat: float | None
    lon: float | None
    x: float | None = Field(None, description="Site-plan metres (where no lat/lon is surveyed).")
    y: float | None = Field(None, description="Site-plan metres.")
    analytics: list[str]
    fps: float
    enabled: bool
    status: str


class CameraSwitch(Body):
    """Switch a camera on or off (``PATCH /cameras/{id}``)."""

    enabled: StrictBool = Field(
        ..., description="true: the camera should run; false: stop it on every node."
    )
    reason: Reason


class CameraSwitchOut(CameraOut):
    changed: bool = Field(
        description="false when the camera already had this state (nothing written, no entry)."
    )


class CameraStatusOut(BaseModel):
    camera_id: str
    state: str
    since: str
    last_error: str | None
    frames_analysed: int
    faces_seen: int
    faces_embedded: int
    analysis_failures: int
    face_ms: float | None
    latency_ms_p50: float | None = Field(
        None,
        description="Median time from decoding a frame to its analysis done, queueing included, "
        "over the camera's last 120 frames (null before the first).",
    )
    latency_ms_p95: float | None = Field(None, description="The same, 95th percentile.")
    dropped_frames: int
    tamper: list[str] = Field(
        default_factory=list, description="Active tamper signals: frozen, black, scene_change."
    )
    tamper_since: dict[str, str] = Field(
        default_factory=dict, description="When each active tamper signal was raised (ISO 8601)."
    )
    tamper_raised: int = Field(0, description="Tamper signals raised since the camera started.")
    people_now: int | None = Field(
        None, description="People counted in the last analysed frame (null: no people stage)."
    )
    vehicles_now: int | None = Field(None, description="Vehicles in the last analysed frame.")
    person_tracks_active: int | None = Field(None, description="Person tracks being followed.")
    person_tracks_total: int | None = Field(
        None, description="Distinct person tracks since the camera started (each counted once)."
    )
    crowd_count: float | None = Field(None, description="Last stored crowd sample (mean count).")
    crowd_alerts: int | None = Field(None, description="Crowd alerts raised since start.")
    people_ms: float | None = Field(None, description="People stage time per frame, ms (EWMA).")
    zone_counts: dict[str, int] | None = Field(
        None, description="People in each configured zone in the last analysed frame."
    )
    line_crossings: dict[str, int] | None = Field(
        None, description="Crossings of each counting line since start, as `<line>:in|out`."
    )
    loitering: int | None = Field(
        None, description="Times a tracked person stayed in a zone past its loitering time."
    )
    recorder_lag_s: float | None = Field(
        None,
        description="Age in seconds of the oldest decision not yet in the database (the "
        "process's outbox; 0 when nothing waits, null without an outbox).",
    )
    recorder_pending: int | None = Field(
        None, description="Decisions waiting for the database (memory queue and disk spool)."
    )
    recording: str = Field(
        "off",
        description="Footage recording: off, idle (waiting for a key frame), recording, or "
        "error (see recording_last_error; capture and analysis go on).",
    )
    recording_segments: int | None = Field(None, description="Segments finished since start.")
    recording_bytes: int | None = Field(None, description="Bytes of those segments.")
    recording_dropped_packets: int | None = Field(
        None, description="Packets not recorded because the writer fell behind (a gap)."
    )
    recording_errors: int | None = Field(None, description="Write, disk-full or index errors.")
    recording_last_error: str | None = Field(None, description="The last recording error.")
    recording_index_pending: int | None = Field(
        None, description="Finished segments waiting to be indexed (database unavailable)."
    )


class CrowdOut(BaseModel):
    camera_id: str
    sampled_at: datetime
    count: float
    method: str
    zone: str | None


# -- deployments ------------------------------------------------------------------------------


class DeploymentIn(Body):
    purpose: Purpose
    legal_reference: str = Field(min_length=1, max_length=500)
    starts_at: Timestamp
    ends_at: Timestamp
    watchlist_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field([], max_length=50)
    camera_ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field([], max_length=1000)
    zone: str | None = Field(None, max_length=100)
    reason: Reason
    kind: DeploymentKind = DeploymentKind.LIVE
    urgent: bool = Field(False, description="Start now; must be authorised within 24 hours.")


class DecisionIn(Body):
    reason: Reason


class DriftOut(BaseModel):
    """The deployment's drift watch: rejected alerts against the calibrated rate."""

    predicted_rate_upper95: float = Field(description="Calibrated FPIR bound per search.")
    searches: int
    false_alerts: int = Field(description="Alerts the verifiers rejected.")
    flagged: bool = Field(description="Rejections significantly above the calibrated rate.")
    flagged_at: datetime | None
    flagged_after_searches: int | None


class DeploymentOut(BaseModel):
    id: str
    kind: str
    purpose: str
    legal_reference: str
    camera_ids: list[str]
    zone: str | None
    starts_at: datetime
    ends_at: datetime
    state: str
    requested_by: str
    authorised_by: str | None
    urgent_deadline: datetime | None
    reason: str
    created_at: datetime
    decided_at: datetime | None
    watchlists: list[dict[str, str]]
    drift: DriftOut | None = Field(
        None, description="The drift watch (null until a search or rejection fed it)."
    )
    calibration_check: str | None = Field(
        None,
        description="Where the local check of the calibration is (governance."
        "local_calibration_report); null when the force has not run one.",
    )


class Created(BaseModel):
    id: str


# -- watchlists -------------------------------------------------------------------------------


class WatchlistIn(Body):
    name: str = Field(min_length=1, max_length=200)
    category: Category
    reason: Reason
    expires_at: Timestamp


class WatchlistOut(BaseModel):
    id: str
    name: str
    category: str
    reason: str
    owner_id: str
    created_at: datetime
    expires_at: datetime | None
    version: int
    version_hash: str
    max_size: int | None


class SubjectOut(BaseModel):
    id: str
    watchlist_id: str
    label: str
    reason: str
    added_by: str
    created_at: datetime
    expires_at: datetime | None


# -- alerts and sightings ---------------------------------------------------------------------


class FalseAlertOut(BaseModel):
    """The calibrated false-alert rate of a face alert as a bound with what it rests on."""

    upper_bound: float = Field(
        description="One-sided 95% upper bound: the larger of the exact binomial bound and the "
        "identity-cluster bound (docs/false-alert-rates.md)."
    )
    point: float = Field(description="Point estimate: what the calibration data showed.")
    calibration_count: int = Field(description="Impostor comparisons at or above the score.")
    calibration_comparisons: int = Field(description="All impostor comparisons measured.")
    text: str = Field(description="The rate as shown, two significant digits at most.")


class AlertOut(BaseModel):
    id: str
    kind: str
    camera_id: str
    raised_at: datetime
    score: float
    status: str
    deployment_id: str | None
    subject_id: str | None
    false_alert_rate: float | None = Field(
        description="The calibrated false-alert rate shown and acted on: its 95% upper bound "
        "(alerts raised before bounds existed: their point estimate, and `false_alert` null)."
    )
    false_alert: FalseAlertOut | None = Field(
        None, description="Bound, point estimate and calibration counts (face alerts)."
    )
    rank2_margin: float | None
    template_id: str | None = Field(
        None,
        description="The matched enrolled template; its photo is served (audited) by "
        "`GET /alerts/{alert_id}/enrolled`. Null for other kinds and after the subject's removal.",
    )
    detail: str = Field(
        "",
        description="What the alert is about, in words: the plate, hotlist and entry of a plate "
        "hit; the count and threshold of a crowd alert; the signal of a tamper alert; the "
        "watchlist and its size for a face match. Never biometric data.",
    )


class VerificationIn(Body):
    decision: Decision
    reason: Reason


class VerificationOut(BaseModel):
    alert_id: str
    user_id: str
    decision: str
    reason: str
    decided_at: datetime


class OutcomeIn(Body):
    outcome: Literal["arrest", "cleared", "false_alert", "no_action", "located"]
    reason: Reason


class SightingOut(BaseModel):
    id: str
    camera_id: str
    object_class: str
    started_at: datetime
    ended_at: datetime
    best_quality: float
    has_crop: bool
    plate_text: str | None


class AttributeHitOut(SightingOut):
    """One attribute-search hit: the sighting, its descriptors and where to watch it."""

    upper_colour: str | None
    lower_colour: str | None
    body_colour: str | None
    colour_score: float | None
    height_frac: float | None
    direction: str | None
    clip_url: str
    console_url: str


# -- audit ------------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    prev_hash: str
    entry_hash: str
    details: list[list[str]]


class ChainOut(BaseModel):
    ok: bool
    entries: int
    description: str
