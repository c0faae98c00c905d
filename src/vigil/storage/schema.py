"""The relational schema of the system of record, one SQLAlchemy Core table per record kind.

The same tables serve SQLite (embedded) and PostgreSQL (cluster); only portable types are used
(text ids, UTC timestamps via :class:`~vigil.storage.types.UtcDateTime`, float32 vectors as bytes).
Changes to these tables are made by adding an Alembic revision under ``migrations/versions`` (the
initial revision was generated from this module and is checked against it by a test), never by
``create_all``.

Idempotency lives here: every table whose rows are written by pipelines has a client-generated
primary key (ids made before the write) or a unique natural key, so a batch replayed after a lost
connection inserts nothing twice (the repository uses ``ON CONFLICT DO NOTHING``).

Biometric columns: ``templates.vector`` and ``sighting_embeddings.vector``. The purge rules delete
those rows; nothing else stores an embedding.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from vigil.storage.types import UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ID = 64  # length of text ids (uuid4 hex, slugs, sha256 hex)


def _id(name: str = "id", *args: ForeignKey, **kw: Any) -> Column[str]:
    return Column(name, String(ID), *args, **kw)


cameras = Table(
    "cameras",
    metadata,
    _id(primary_key=True),
    Column("name", String(200), nullable=False, default=""),
    # May carry credentials: never logged, never returned by the API (issue 7).
    Column("source_url", Text, nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    # Site-plan position in metres (migration 0015): for sites without a GPS survey.
    Column("plan_x", Float),
    Column("plan_y", Float),
    Column("zone", String(100), index=True),
    Column("analytics", String(200), nullable=False, default=""),
    Column("fps", Float, nullable=False, default=2.0),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("status", String(32), nullable=False, default="unknown"),
    Column("updated_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    _id(primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),
    Column("roles", String(200), nullable=False, default=""),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    # Cameras the account may see, comma-separated; NULL = every camera (revision 0003).
    Column("cameras", Text),
)

sessions = Table(
    "sessions",
    metadata,
    # sha256 of the bearer token or API key: the secret itself is never stored.
    Column("token_hash", String(ID), primary_key=True),
    _id("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False, default="session"),
    Column("scopes", String(400), nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    # Who issued an API key (an admin may issue one in another user's name); NULL for login
    # sessions and for keys issued before revision 0005.
    _id("issued_by"),
)

# Failed-login back-off per (account, client) (revision 0005). ``failures`` counts attempts
# since the pair's last success, charged *before* the password is checked so parallel guesses
# cannot outrun the count; ``blocked_until`` refuses the pair without checking until then.
login_throttle = Table(
    "login_throttle",
    metadata,
    _id("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("client", String(ID), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_attempt_at", UtcDateTime, nullable=False, index=True),
    Column("blocked_until", UtcDateTime),
)

# Login attempts per client address per minute (revision 0008): the per-client rate against
# password spraying, shared by every API process on the database.
login_rate = Table(
    "login_rate",
    metadata,
    Column("client", String(ID), primary_key=True),
    Column("minute", UtcDateTime, primary_key=True, index=True),
    Column("attempts", Integer, nullable=False, default=0),
)

search_rate = Table(
    "search_rate",
    metadata,
    # "<kind>:<user id>" (plate or face searches), counted per minute like login_rate.
    Column("key", String(80), primary_key=True),
    Column("minute", UtcDateTime, primary_key=True, index=True),
    Column("attempts", Integer, nullable=False, default=0),
)

watchlists = Table(
    "watchlists",
    metadata,
    _id(primary_key=True),
    Column("name", String(200), nullable=False),
    Column("category", String(32), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    _id("owner_id", nullable=False),
    Column("expires_at", UtcDateTime),
    Column("version", Integer, nullable=False, default=1),
    Column("version_hash", String(ID), nullable=False, default=""),
    Column("max_size", Integer),
    Column("created_at", UtcDateTime, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    _id(primary_key=True),
    _id(
        "watchlist_id", ForeignKey("watchlists.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("label", String(200), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("expires_at", UtcDateTime),
    _id("added_by", nullable=False),
    _id("approved_by"),
    Column("created_at", UtcDateTime, nullable=False),
)

templates = Table(
    "templates",
    metadata,
    _id(primary_key=True),
    _id("subject_id", ForeignKey("subjects.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("model", String(64), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # biometric: float32 bytes
    Column("image_key", String(ID)),  # media store key of the enrolled photo
    Column("provenance", Text, nullable=False),
    Column("captured_at", UtcDateTime),
    Column("quality", Float, nullable=False),
    _id("added_by", nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    _id(primary_key=True),
    Column("kind", String(16), nullable=False, default="live"),  # live | post_event
    Column("purpose", String(32), nullable=False),
    Column("legal_reference", Text, nullable=False),
    Column("camera_ids", Text, nullable=False, default=""),  # comma-separated
    Column("zone", String(100)),
    Column("starts_at", UtcDateTime, nullable=False),
    Column("ends_at", UtcDateTime, nullable=False),
    Column("state", String(32), nullable=False, index=True),
    _id("requested_by", nullable=False),
    _id("authorised_by"),
    Column("urgent_deadline", UtcDateTime),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
)

deployment_watchlists = Table(
    "deployment_watchlists",
    metadata,
    _id("deployment_id", ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True),
    _id("watchlist_id", ForeignKey("watchlists.id", ondelete="CASCADE"), primary_key=True),
    Column("version_hash", String(ID), nullable=False),
)

sightings = Table(
    "sightings",
    metadata,
    _id(primary_key=True),
    _id("camera_id", nullable=False),
    Column("object_class", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("best_quality", Float, nullable=False),
    Column("crop_key", String(ID)),
    Column("plate_text", String(16)),
    Column("legal_hold", Boolean, nullable=False, default=False),
    # Appearance descriptors (non-biometric; expire with the row): migration 0016.
    Column("upper_colour", String(16)),
    Column("lower_colour", String(16)),
    Column("body_colour", String(16)),
    Column("colour_score", Float),
    Column("height_frac", Float),
    Column("direction", String(8)),
    Index("ix_sightings_camera_started", "camera_id", "started_at"),
    Index("ix_sightings_started", "started_at"),
    Index(
        "ix_sightings_class_upper_lower_started",
        "object_class",
        "upper_colour",
        "lower_colour",
        "started_at",
    ),
    Index("ix_sightings_class_body_started", "object_class", "body_colour", "started_at"),
)

sighting_embeddings = Table(
    "sighting_embeddings",
    metadata,
    # Integer key shared with the archive index (FAISS ids are int64).
    Column("vector_id", Integer, primary_key=True, autoincrement=True),
    _id("sighting_id", ForeignKey("sightings.id", ondelete="CASCADE"), nullable=False),
    Column("model", String(64), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),  # biometric: float32 bytes
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("sighting_id", "model", name="uq_sighting_embeddings_sighting_model"),
)

plate_reads = Table(
    "plate_reads",
    metadata,
    # Deterministic key (sha256 of camera, time, text, track): replays collapse onto one row.
    Column("key", String(ID), primary_key=True),
    _id("camera_id", nullable=False),
    Column("read_at", UtcDateTime, nullable=False),
    Column("text", String(16), nullable=False, index=True),
    # The text with confusable characters folded (vigil.core.plates, revision 0011): what plate
    # search matches on, indexed by (canon, read_at) for exact plates and by a trigram index for
    # wildcards (see ENGINE_SPECIFIC).
    Column("canon", String(16), nullable=False, server_default=""),
    Column("confidence", Float, nullable=False),
    Column("region", String(16), nullable=False),
    Column("x1", Float, nullable=False),
    Column("y1", Float, nullable=False),
    Column("x2", Float, nullable=False),
    Column("y2", Float, nullable=False),
    Column("track_id", Integer),
    # The hotlist the read hit (revision 0004): hits are kept for that list's retention, reads
    # of vehicles on no hotlist only for ``plates.read_retention_days``.
    _id("hotlist_id", ForeignKey("hotlists.id", ondelete="SET NULL")),
    # The plate_hit alert the hit raised (revision 0011): a hit whose alert people rejected is
    # kept only for the retention of reads on no list.
    _id("hit_alert_id"),
    Index("ix_plate_reads_camera_read", "camera_id", "read_at"),
    Index("ix_plate_reads_read", "read_at"),
    Index("ix_plate_reads_canon_read", "canon", "read_at"),
)

#: Search indexes only one engine has, made by revision 0011 and outside this metadata: on
#: PostgreSQL a pg_trgm GIN index on ``plate_reads.canon``; on SQLite an FTS5 trigram table over
#: it (external content, kept by triggers). The migration test leaves these names out.
ENGINE_SPECIFIC = ("ix_plate_reads_canon_trgm", "plate_reads_fts")

hotlists = Table(
    "hotlists",
    metadata,
    _id(primary_key=True),
    Column("name", String(200), nullable=False),
    Column("priority", Integer, nullable=False),  # 0-100, the most urgent list wins a hit
    Column("reason", Text, nullable=False),
    _id("owner_id", nullable=False),
    Column("expires_at", UtcDateTime),
    Column("retention_days", Float, nullable=False),  # how long hits on this list are kept
    Column("created_at", UtcDateTime, nullable=False),
)

hotlist_entries = Table(
    "hotlist_entries",
    metadata,
    _id(primary_key=True),
    _id("hotlist_id", ForeignKey("hotlists.id", ondelete="CASCADE"), nullable=False, index=True),
    # Upper-case letters/digits, '?' (one character) and '*' (any run).
    Column("pattern", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    _id("added_by", nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    UniqueConstraint("hotlist_id", "pattern", name="uq_hotlist_entries_list_pattern"),
)

crowd_samples = Table(
    "crowd_samples",
    metadata,
    _id("camera_id", primary_key=True),
    Column("sampled_at", UtcDateTime, primary_key=True),
    Column("zone", String(100), primary_key=True, default=""),  # '' = whole view
    Column("count", Float, nullable=False),
    Column("method", String(16), nullable=False),
)

line_crossings = Table(
    "line_crossings",
    metadata,
    _id("camera_id", primary_key=True),
    Column("line", String(100), primary_key=True),
    Column("direction", String(8), primary_key=True),
    Column("bucket_start", UtcDateTime, primary_key=True),
    Column("count", Integer, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    _id(primary_key=True),
    Column("kind", String(16), nullable=False),
    _id("camera_id", nullable=False),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("score", Float, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    _id("deployment_id", ForeignKey("deployments.id", ondelete="SET NULL"), index=True),
    _id("subject_id", ForeignKey("subjects.id", ondelete="SET NULL")),
    _id("sighting_id", ForeignKey("sightings.id", ondelete="SET NULL")),
    Column("false_alert_rate", Float),
    Column("rank2_margin", Float),
    Column("detail", Text, nullable=False, default=""),
    Column("probe_key", String(ID)),  # media key of the probe crop
    Column("legal_hold", Boolean, nullable=False, default=False),
    # The matched template, whose photo is the enrolled image verifiers compare (revision 0002;
    # before it the id lived in ``detail`` as ``template=<id>``, and the migration moved it).
    _id("template_id", ForeignKey("templates.id", ondelete="SET NULL")),
    # Revision 0012: ``false_alert_rate`` is the 95% upper bound; the point estimate and the
    # calibration counts it rests on sit beside it (null on older alerts).
    Column("false_alert_point", Float),
    Column("calibration_count", BigInteger),
    Column("calibration_comparisons", BigInteger),
    Index("ix_alerts_camera_raised", "camera_id", "raised_at"),
)

verifications = Table(
    "verifications",
    metadata,
    _id("alert_id", ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True),
    # One decision per user per alert: the same person cannot confirm twice.
    _id("user_id", primary_key=True),
    Column("decision", String(16), nullable=False),  # confirm | reject
    Column("reason", Text, nullable=False),
    Column("decided_at", UtcDateTime, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    _id(primary_key=True),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False, default="open"),
    Column("outcome", String(32)),
    _id("opened_by", nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime),
    Column("legal_hold", Boolean, nullable=False, default=True),
    _id("closed_by"),  # revision 0014
)

# What came of a case (revision 0014): one row per outcome recorded, with its
# reason and, when it follows from one alert, that alert (the oversight report counts them).
case_outcomes = Table(
    "case_outcomes",
    metadata,
    _id(primary_key=True),
    _id("case_id", ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("outcome", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    _id("alert_id"),
    _id("recorded_by", nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
)

# Footage a case keeps (revision 0014): a camera and a time window.
case_clips = Table(
    "case_clips",
    metadata,
    _id(primary_key=True),
    _id("case_id", ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    _id("camera_id", nullable=False),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    _id("added_by", nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Index("ix_case_clips_camera_window", "camera_id", "start_at"),
)

case_links = Table(
    "case_links",
    metadata,
    _id("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),  # alert|sighting|plate_read|search|export
    _id("target_id", primary_key=True),
    _id("added_by", nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
)

# Who may read and add to a case besides its owner (revision 0006): the owner shares it by name.
case_shares = Table(
    "case_shares",
    metadata,
    _id("case_id", ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True),
    _id("user_id", primary_key=True),
    _id("shared_by", nullable=False),
    Column("shared_at", UtcDateTime, nullable=False),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(ID), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("prev_hash", String(ID), nullable=False),
    Column("entry_hash", String(ID), nullable=False, unique=True),
    Column("details", Text, nullable=False, default="[]"),  # JSON list of [key, value]
)

# The idempotency key of every recorded decision (revision 0008; see vigil.core.keys): inserted
# in the decision's own transaction, so a replayed decision finds its key and is skipped.
record_keys = Table(
    "record_keys",
    metadata,
    Column("key", String(ID), primary_key=True),
    Column("kind", String(16), nullable=False),
    _id("camera_id", nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False, index=True),
)

# Which alert each notification sink has delivered (revision 0010; see vigil.storage.deliveries):
# a restarted or newly elected sender skips what is here and sends what is not.
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("sink", String(ID), primary_key=True),
    _id("alert_id", primary_key=True),
    Column("delivered_at", UtcDateTime, nullable=False, index=True),
)

# The drift watch of each deployment (revision 0012; see vigil.governance.drift): the sequential
# test's statistic and counts, so a restart does not forget what the verifiers have rejected.
deployment_drift = Table(
    "deployment_drift",
    metadata,
    _id("deployment_id", ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True),
    Column("predicted_rate", Float, nullable=False),  # p0: the FPIR upper bound per search
    Column("statistic", Float, nullable=False),  # the CUSUM of log-likelihood ratios
    Column("searches", BigInteger, nullable=False),
    Column("false_alerts", BigInteger, nullable=False),
    Column("flagged_at", UtcDateTime, nullable=True, index=True),
    Column("flagged_searches", BigInteger, nullable=True),
    Column("flagged_false_alerts", BigInteger, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Recorded footage (revision 0013; see vigil.recording): one row per finished fragmented-MP4
# segment, remuxed from the camera's stream. ``path`` is relative to ``recording.dir``;
# ``sha256`` and ``bytes`` are of the file as stored (the ciphertext when ``encrypted``).
recording_segments = Table(
    "recording_segments",
    metadata,
    _id(primary_key=True),
    _id("camera_id", nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=False),
    Column("path", Text, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("sha256", String(ID), nullable=False),
    Column("encrypted", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_recording_segments_camera_started", "camera_id", "started_at"),
    Index("ix_recording_segments_ended", "ended_at"),
)

postevent_jobs = Table(
    "postevent_jobs",
    metadata,
    _id(primary_key=True),
    _id("case_id", ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True),
    _id("authorisation_id", nullable=False),
    Column("kind", String(16), nullable=False),
    Column("query", String(64), nullable=False),
    Column("camera_ids", Text, nullable=False),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("segments_total", Integer, nullable=False),
    Column("segments_done", Integer, nullable=False),
    _id("created_by", nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("max_distance", Integer, nullable=False, server_default="0"),
    Column("profile", String(32), nullable=True),
)

postevent_segments = Table(
    "postevent_segments",
    metadata,
    _id("job_id", ForeignKey("postevent_jobs.id", ondelete="CASCADE"), primary_key=True),
    _id("segment_id", primary_key=True),
    Column("done_at", UtcDateTime, nullable=False),
)

postevent_results = Table(
    "postevent_results",
    metadata,
    _id(primary_key=True),
    _id("job_id", ForeignKey("postevent_jobs.id", ondelete="CASCADE"), nullable=False),
    _id("case_id", nullable=False),
    _id("camera_id", nullable=False),
    _id("segment_id", nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("score", Float, nullable=False),
    Column("rate_point", Float, nullable=True),
    Column("rate_upper", Float, nullable=True),
    Column("text", String(16), nullable=True),
    Index("ix_postevent_results_job_at", "job_id", "at"),
)

ALL_TABLES = tuple(metadata.sorted_tables)
