"""The configuration schema: one YAML file validated into these pydantic models.

Every model forbids unknown keys (a typo is an error, not a silently ignored setting), and every
field has a title, a description and bounds, which ``vigil config check`` and the docs use.
Validation here is pure: no file, network or model access. Secrets (camera credentials, API keys)
are :class:`pydantic.SecretStr`, so they never appear in ``repr`` or logs, and they are usually
supplied through the environment (see :mod:`vigil.config.loader`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from vigil.config.analytics import LineConfig, PeopleConfig, ZoneConfig
from vigil.config.base import Strict
from vigil.config.cluster import ClusterConfig
from vigil.config.console import ConsoleConfig
from vigil.config.governance import GovernanceConfig
from vigil.config.investigation import InvestigationConfig
from vigil.config.location import CameraLocation
from vigil.config.notify import NotifyConfig
from vigil.config.performance import FaceCascadeConfig, RuntimeConfig
from vigil.config.plates import PlatesConfig
from vigil.config.recording import (
    PrivacyMask,
    RecordingConfig,
    RecordMode,
    key_outside_data_dir,
)
from vigil.config.tamper import TamperConfig


class SystemConfig(Strict):
    data_dir: Path = Field(
        Path("var"),
        title="Data directory",
        description="Where the embedded database, media store and indexes live (relative paths "
        "are resolved against the config file's folder).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", title="Log level", description="Minimum level of log lines written."
    )
    log_json: bool = Field(
        False, title="JSON logs", description="Write one JSON object per log line (for shipping)."
    )
    log_dir: Path | None = Field(
        None,
        title="Log folder",
        description="Also write `vigil run` logs to `vigil.log` here, rotated at midnight UTC "
        "and kept `governance.retention.logs_days` days (relative paths are under `data_dir`). "
        "Unset: standard error only, whose keeping is up to the service manager.",
    )


class ModelsConfig(Strict):
    dir: Path | None = Field(
        None,
        title="Model cache",
        description="Folder of installed models; default `$VIGIL_MODEL_DIR` or "
        "`~/.cache/vigil/models`. Models are never downloaded at run time.",
    )


class YuNetDetectorConfig(Strict):
    backend: Literal["yunet"] = Field("yunet", title="Backend", description="YuNet 2023mar.")
    score_threshold: float = Field(
        0.6,
        ge=0.05,
        le=0.99,
        title="Score threshold",
        description="Minimum detection score; lower finds more faces and more false ones.",
    )
    nms_iou: float = Field(
        0.3, ge=0.05, le=0.95, title="NMS IoU", description="Overlap above which boxes merge."
    )
    min_face_px: int = Field(
        16,
        ge=4,
        le=512,
        title="Minimum face size",
        description="Faces whose shorter box side is below this many pixels are dropped.",
    )
    max_input_side: int = Field(
        1920,
        ge=160,
        le=8192,
        title="Maximum input side",
        description="Frames larger than this are processed in overlapping tiles of this size "
        "instead of being downscaled, so small faces in 4K frames are not lost.",
    )


class CenterFaceDetectorConfig(Strict):
    backend: Literal["centerface"] = Field("centerface", title="Backend", description="CenterFace.")
    score_threshold: float = Field(
        0.5,
        ge=0.05,
        le=0.99,
        title="Score threshold",
        description="Minimum heat-map score of a face centre.",
    )
    nms_iou: float = Field(
        0.3, ge=0.05, le=0.95, title="NMS IoU", description="Overlap above which boxes merge."
    )
    min_face_px: int = Field(
        16,
        ge=4,
        le=512,
        title="Minimum face size",
        description="Faces smaller than this (shorter side) are dropped.",
    )
    max_input_side: int = Field(
        1280,
        ge=160,
        le=8192,
        title="Maximum input side",
        description="Tile size for larger frames.",
    )


FaceDetectorConfig = Annotated[
    YuNetDetectorConfig | CenterFaceDetectorConfig, Field(discriminator="backend")
]


class FaceQualityConfig(Strict):
    min_quality: float = Field(
        0.35,
        ge=0.0,
        le=1.0,
        title="Minimum quality",
        description="Faces scoring below this are not embedded or matched (see docs for the rule).",
    )
    min_face_px: int = Field(
        32,
        ge=8,
        le=512,
        title="Minimum face size for matching",
        description="Inter-ocular-derived face size below which a face is never matched.",
    )


EmbedderName = Literal["fr_feature", "mobilefacenet", "sface"]


def _default_fusion_members() -> list[EmbedderName]:
    return ["sface", "fr_feature", "mobilefacenet"]


class FaceEmbedderConfig(Strict):
    backend: Literal["fr_feature", "mobilefacenet", "sface", "fusion"] = Field(
        "fusion",
        title="Embedder",
        description="Face embedding model, or `fusion` of several. The default (SFace weighted "
        "2, fr_feature 1, MobileFaceNet 1) was chosen by `vigil eval` on LFW (docs/faces.md).",
    )
    fusion_members: list[EmbedderName] = Field(
        default_factory=_default_fusion_members,
        title="Fusion members",
        description="Embedders whose scores are fused when backend is `fusion`.",
    )
    fusion_weights: list[float] = Field(
        default_factory=lambda: [2.0, 1.0, 1.0],
        title="Fusion weights",
        description="Positive weight per fusion member (empty: equal weights).",
    )
    flip: bool = Field(
        False,
        title="Flip augmentation",
        description="Also embed the mirrored face and average (twice the cost).",
    )
    batch_size: int = Field(
        32,
        ge=1,
        le=4096,
        title="Batch size",
        description="Faces per inference call; larger is faster per face.",
    )

    @model_validator(mode="after")
    def _fusion_needs_members(self) -> FaceEmbedderConfig:
        if self.backend == "fusion" and len(self.fusion_members) < 2:
            raise ValueError("backend 'fusion' needs at least two fusion_members")
        if self.fusion_weights and (
            len(self.fusion_weights) != len(self.fusion_members) or min(self.fusion_weights) <= 0
        ):
            raise ValueError("fusion_weights needs one positive weight per fusion member")
        return self


# The shipped operating point of the default face pipeline, measured by
# `vigil calibrate --lfw-dir ../shared/data/lfw/lfw-deepfunneled --target-fpir 0.001
# --watchlist-size 1000` (docs/faces.md). A deployment must recalibrate on its own population.
PACKAGED_CALIBRATION = (
    Path(__file__).resolve().parent.parent
    / "identification"
    / "data"
    / "faces-default-calibration.json"
)


class IdentificationConfig(Strict):
    threshold: float = Field(
        0.541261,
        ge=-1.0,
        le=1.0,
        title="Match threshold",
        description="Similarity at or above which a probe raises an alert. Set by "
        "`vigil calibrate` from a measured false-positive identification rate; the default is "
        "the default pipeline's threshold for a point-estimate FPIR of about 1e-3 at N = 1,000 "
        "on LFW; its 95% upper bound is higher, so the watchlist-size cap keeps lists small "
        "enough for the bound to stay at the target (docs/false-alert-rates.md).",
    )
    calibrated_fpir: float | None = Field(
        0.001,
        ge=0.0,
        le=1.0,
        title="Calibrated FPIR",
        description="False-positive identification rate targeted at `threshold` (written by "
        "`vigil calibrate`).",
    )
    calibrated_tpir: float | None = Field(
        0.898637,
        ge=0.0,
        le=1.0,
        title="Expected TPIR",
        description="True-positive identification rate expected at `threshold` (written by "
        "`vigil calibrate`).",
    )
    calibration_file: Path | None = Field(
        default_factory=lambda: PACKAGED_CALIBRATION,
        title="Calibration file",
        description="JSON written by `vigil calibrate`: the FMR-by-score curve from which each "
        "alert's false-alert rate is computed for the watchlist size in force. Default: the "
        "packaged calibration of the default pipeline (valid only for that pipeline).",
    )
    calibrated_watchlist_size: int | None = Field(
        1000,
        ge=1,
        title="Calibration watchlist size",
        description="Watchlist size the calibration was made for.",
    )


class FacesConfig(Strict):
    detector: FaceDetectorConfig = Field(
        default_factory=YuNetDetectorConfig,
        title="Face detector",
        description="Face detector backend and its knobs.",
    )
    quality: FaceQualityConfig = Field(
        default_factory=FaceQualityConfig, title="Face quality", description="Quality gate."
    )
    embedder: FaceEmbedderConfig = Field(
        default_factory=FaceEmbedderConfig, title="Embedder", description="Face embedding model."
    )
    identification: IdentificationConfig = Field(
        default_factory=IdentificationConfig,
        title="Identification",
        description="Open-set decision threshold and its calibration.",
    )
    cascade: FaceCascadeConfig = Field(
        default_factory=FaceCascadeConfig,
        title="Cascade",
        description="Cheap fusion member first, the full fusion only where it could matter.",
    )


Analytic = Literal["faces", "persons", "vehicles", "plates", "crowd"]


def _default_analytics() -> list[Analytic]:
    return ["persons"]


class CameraConfig(Strict):
    id: str = Field(
        ...,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$",
        title="Camera id",
        description="Stable id: lower-case letters, digits, '-' and '_'.",
    )
    name: str = Field("", max_length=200, title="Name", description="Human-readable name.")
    url: SecretStr = Field(
        ...,
        title="Source URL",
        description="file path, rtsp://, http(s):// MJPEG or snapshot URL. May hold credentials: "
        "write `${ENV_VAR}` to take them from the environment; never logged.",
    )
    enabled: bool = Field(True, title="Enabled", description="Whether the camera is ingested.")
    location: CameraLocation = Field(
        default_factory=CameraLocation, title="Location", description="Where the camera is."
    )
    analytics: list[Analytic] = Field(
        default_factory=_default_analytics,
        title="Analytics",
        description="Which analyses run on this camera.",
    )
    fps: float = Field(
        2.0,
        gt=0,
        le=30,
        title="Analysis rate",
        description="Frames per second analysed (2-5 is typical).",
    )
    loop: bool = Field(False, title="Loop", description="Loop a video file (demos).")
    plate_search: Literal["vehicles", "whole_frame"] = Field(
        "vehicles",
        title="Where plates are read",
        description="With the `plates` analytic: `vehicles` reads inside the tracked vehicles' "
        "boxes and fuses one read per vehicle track (general CCTV); `whole_frame` reads the "
        "whole frame and groups reads into passes by their text and time (a dedicated "
        "plate camera on a lane or gate, where the vehicle often fills the frame).",
    )
    kind: Literal["auto", "file", "rtsp", "mjpeg", "snapshot"] = Field(
        "auto",
        title="Source kind",
        description="How to read `url`. `auto` picks from the scheme: rtsp:// is RTSP, "
        "http(s):// is an MJPEG stream unless the path ends in .jpg/.jpeg (a snapshot), "
        "anything else is a file. Set `snapshot` for a JPEG URL polled at `fps`.",
    )
    transport: Literal["tcp", "udp"] = Field(
        "tcp",
        title="RTSP transport",
        description="TCP survives NAT and lossy links; UDP has less latency but loses packets "
        "(seen as corrupt frames) on a congested network.",
    )
    decode_mode: Literal["auto", "keyframes", "all"] = Field(
        "auto",
        title="Decode mode",
        description="`keyframes` decodes only intra frames (far less CPU, but at most one "
        "analysed frame per GOP); `all` decodes every frame; `auto` uses key frames whenever "
        "the measured key-frame interval is no longer than the analysis interval 1/fps.",
    )
    keyframe_skip_loop_filter: bool = Field(
        True,
        title="Skip deblocking in key-frame mode",
        description="With `decode_mode: keyframes`, skip the H.264/H.265 in-loop deblocking "
        "filter. No decoded frame references a key frame in that mode, so nothing drifts; the "
        "cost is slight blocking on low-bitrate streams (measured: no luma PSNR loss at x264 "
        "CRF 23, -0.2 dB at CRF 35) for 5-15% less key-frame decode CPU. Ignored in `auto` "
        "and `all`.",
    )
    tamper: TamperConfig = Field(
        default_factory=TamperConfig,
        title="Tamper detection",
        description="Frozen picture, black/covered lens, sudden scene change: thresholds.",
    )
    zones: list[ZoneConfig] = Field(
        default_factory=list,
        max_length=64,
        title="Zones",
        description="Polygons counted by the people stage: people in each zone (stored as the "
        "zone's crowd series), dwell and loitering.",
    )
    lines: list[LineConfig] = Field(
        default_factory=list,
        max_length=64,
        title="Counting lines",
        description="Lines whose crossings by tracked people are counted per direction.",
    )
    realtime: bool = Field(
        True,
        title="Real-time files",
        description="Read video files at their native frame rate, like a live camera. Off reads "
        "as fast as decoding allows (offline analysis of recordings).",
    )
    connect_timeout_s: float = Field(
        10.0,
        ge=0.5,
        le=120,
        title="Connect timeout",
        description="Seconds to wait for a stream to open before counting the attempt failed.",
    )
    stall_timeout_s: float = Field(
        5.0,
        ge=0.5,
        le=120,
        title="Stall timeout",
        description="Seconds without data after which a stream counts as stalled and is "
        "reconnected. Shorter detects failures sooner but may drop a camera on a slow link.",
    )
    reconnect_min_s: float = Field(
        0.5,
        ge=0.05,
        le=60,
        title="Reconnect base delay",
        description="First reconnect delay; later ones double up to the maximum, with jitter.",
    )
    reconnect_max_s: float = Field(
        30.0,
        ge=0.1,
        le=3600,
        title="Reconnect maximum delay",
        description="Ceiling of the reconnect delay for a camera that stays unreachable.",
    )
    queue_size: int = Field(
        4,
        ge=1,
        le=256,
        title="Frame queue size",
        description="Frames waiting for analysis; when full the oldest is dropped (and counted). "
        "Larger absorbs bursts of slow analysis at the cost of memory and latency.",
    )
    record: RecordMode = Field(
        "off",
        title="Recording",
        description="`continuous` keeps every segment; `events` keeps only segments within "
        "`recording.pre_s`/`post_s` of an alert, sighting or plate read; `off` records nothing.",
    )
    record_retention_days: float = Field(
        31.0,
        gt=0,
        le=3650,
        title="Recording retention (days)",
        description="Segments older than this are deleted unless a case holds them (legal hold).",
    )
    privacy_masks: list[PrivacyMask] = Field(
        default_factory=list,
        max_length=32,
        title="Privacy masks",
        description="Polygons blacked out for roles without the unmask permission.",
    )

    @model_validator(mode="after")
    def _reconnect_bounds(self) -> CameraConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        names = [z.name for z in self.zones] + [ln.name for ln in self.lines]
        if len(set(names)) != len(names):
            raise ValueError(f"zone and line names must be unique on a camera, got {names}")
        return self

    @field_validator("url")
    @classmethod
    def _url_not_empty(cls, v: SecretStr) -> SecretStr:
        value = v.get_secret_value()
        if not value.strip():
            raise ValueError("url must not be empty")
        # A blank or control character inside a URL would also end it for the log redactor,
        # leaving the rest of a password visible; URLs carry them percent-encoded (%20).
        # File paths (no "://") may hold blanks.
        if "://" in value and any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError(
                "url holds a blank or control character; percent-encode it (a blank is %20)"
            )
        return v


class ApiConfig(Strict):
    host: str = Field(
        "127.0.0.1",
        title="Bind address",
        description="Address the API listens on; loopback by default.",
    )
    port: int = Field(8080, ge=1, le=65535, title="Port", description="TCP port of the API.")
    secret_key: SecretStr | None = Field(
        None,
        title="Secret key",
        description="Key of the sessions' CSRF tokens; set VIGIL__API__SECRET_KEY. Unset: a key "
        "generated into `<data_dir>/secret.key` (mode 0600) on first start and kept, so a "
        "restart keeps sessions working; API processes with different data directories need "
        "this set to one value.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        title="CORS origins",
        description="Browser origins allowed to call the API cross-site (exact, e.g. "
        "https://console.example.org). Empty (the default) sends no CORS headers at all.",
    )
    session_ttl_s: int = Field(
        43_200,
        ge=60,
        le=30 * 86_400,
        title="Session lifetime",
        description="Seconds a login (cookie or bearer token) stays valid; shorter limits the "
        "damage of a stolen token, longer means fewer logins.",
    )
    live_recheck_s: float = Field(
        2.0,
        ge=0.2,
        le=30.0,
        title="Live connection re-check",
        description="Seconds between re-reads of every open live connection's credential "
        "(WebSocket events): a logout, expiry, revocation, disabled user, or a change of roles "
        "or cameras closes or narrows the connection within about this time (plus one "
        "database read). One read per interval for all of a process's connections; shorter "
        "cuts access sooner, longer reads the database less often.",
    )
    live_max_connections: int = Field(
        1000,
        ge=1,
        le=100_000,
        title="Live connections per process",
        description="Most open live connections (WebSocket events) one API process holds; "
        "further ones are refused with close code 1013 (retry later). Each holds a bounded "
        "queue of events.",
    )
    api_key_ttl_days: int = Field(
        365,
        ge=1,
        le=3650,
        title="API key lifetime",
        description="Default and maximum days an integration API key stays valid.",
    )
    cookie_secure: bool = Field(
        True,
        title="Secure cookies",
        description="Mark the session cookie Secure (sent over HTTPS only). Turn off only for "
        "plain-HTTP use on loopback.",
    )
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        le=64 * 2**20,
        title="Request size limit",
        description="Largest request body accepted on ordinary routes (413 above).",
    )
    max_upload_bytes: int = Field(
        10 * 2**20,
        ge=1024,
        le=64 * 2**20,
        title="Upload size limit",
        description="Largest enrolment photo upload (all photos of one request together).",
    )
    enrol_max_photos: int = Field(
        5,
        ge=1,
        le=20,
        title="Photos per enrolment",
        description="Most photos in one enrolment request (413 above). More photos of a "
        "person make a steadier template; each costs a full face analysis.",
    )
    enrol_max_pixels: int = Field(
        60_000_000,
        ge=1_000_000,
        le=400_000_000,
        title="Pixels per enrolment",
        description="Most pixels of all photos of one enrolment request together, read from "
        "the image headers before any photo is decoded (413 above). Decoding costs about 3 "
        "bytes of memory per pixel: the default (five 12 MP phone photos) bounds one request "
        "to a few hundred MB; each photo is also at most 40 MP.",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        le=100,
        title="Failed logins before back-off",
        description="Wrong passwords for one account from one client after which that client "
        "is refused for `login_lock_s` (doubling on each further failure, up to "
        "`login_lock_max_s`). Other clients are not affected: nobody can lock an account "
        "for its owner by guessing.",
    )
    login_lock_s: int = Field(
        60,
        ge=1,
        le=86_400,
        title="Login back-off",
        description="First back-off after too many failed logins from one client.",
    )
    login_lock_max_s: int = Field(
        900,
        ge=1,
        le=86_400,
        title="Longest login back-off",
        description="Cap of the doubling back-off: a client keeps one guess per this many "
        "seconds at most; longer slows a patient attacker more, shorter lets a person who "
        "mistyped back in sooner.",
    )
    login_account_ceiling: int = Field(
        50,
        ge=1,
        le=100_000,
        title="Failed logins before an account is under attack",
        description="Wrong passwords for one account from all clients together (since its "
        "last successful login) after which every client gets a single try before back-off, "
        "for `login_lock_max_s` after the latest failure. Slows guessing spread over many "
        "addresses without locking the owner out.",
    )
    login_rate_per_min: int = Field(
        20,
        ge=1,
        le=10_000,
        title="Login attempts per client",
        description="Login attempts per minute accepted from one client address (429 above).",
    )
    plate_search_rate_per_min: int = Field(
        30,
        ge=1,
        le=10_000,
        title="Plate searches per user",
        description="Plate searches per minute one user may run, counted in the database so "
        "every API process shares the count (429 with Retry-After above).",
    )
    face_search_rate_per_min: int = Field(
        10,
        ge=1,
        le=10_000,
        title="Face searches per user",
        description="Archive face searches per minute one user may run (each embeds a photo "
        "and searches the archive), shared by every API process (429 with Retry-After above).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        max_length=1000,
        title="Trusted proxies",
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "header names the client. Empty (the default): the header is ignored and the client is "
        "the connecting peer, since any caller can write the header.",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies entry {item!r} is not an IP address or CIDR network"
                ) from None
        return v

    @model_validator(mode="after")
    def _lock_bounds(self) -> ApiConfig:
        if self.login_lock_max_s < self.login_lock_s:
            raise ValueError("login_lock_max_s must be >= login_lock_s")
        return self


class OutboxConfig(Strict):
    """The outbox between the stages and the recorder (see ``vigil.system.outbox``)."""

    memory_items: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        title="Decisions held in memory",
        description="Decisions kept in memory while the database is unreachable, before they "
        "are spilled to the disk spool; lost if the process is killed (the spool is not).",
    )
    spool_max_mb: float = Field(
        256.0,
        gt=0,
        le=1_000_000,
        title="Disk spool bound (MB)",
        description="The most the disk spool under `system.data_dir`/outbox may hold; beyond it "
        "decisions are refused, logged and counted (`refused` in the status).",
    )
    direct_retry_s: float = Field(
        1.0,
        ge=0,
        le=60,
        title="Direct write retry",
        description="How long a decision is retried in the camera's thread before it joins the "
        "backlog; longer stalls analysis, shorter buffers sooner.",
    )


class StorageConfig(Strict):
    url: SecretStr = Field(
        SecretStr("sqlite:///{data_dir}/vigil.db"),
        title="Database URL",
        description="SQLAlchemy URL; `{data_dir}` expands to system.data_dir. Use "
        "postgresql+psycopg://... for cluster mode.",
    )
    readers: int = Field(
        4,
        ge=1,
        le=64,
        title="Read connections",
        description="Pooled read-only connections; more serve more concurrent API reads.",
    )
    busy_timeout_ms: int = Field(
        5000,
        ge=0,
        le=600_000,
        title="SQLite busy timeout",
        description="How long SQLite waits for a lock held by another process before failing.",
    )
    query_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        title="Query time limit",
        description="Reads running longer are cancelled (SQLite progress handler, PostgreSQL "
        "statement_timeout).",
    )
    write_retry_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        title="Write retry window",
        description="How long a write keeps retrying a lost connection before it fails loudly; "
        "writes are idempotent, so retries never duplicate rows.",
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        "FULL",
        title="SQLite durability",
        description="FULL: a committed write survives power loss; NORMAL: faster, survives only "
        "process crashes.",
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig,
        title="Outbox",
        description="Buffering of decisions while the database is unreachable.",
    )
    media_dir: Path = Field(
        Path("media"),
        title="Media folder",
        description="Content-addressed crops, key frames and exports (relative to data_dir).",
    )
    archive_dir: Path = Field(
        Path("archive"),
        title="Archive index folder",
        description="The sighting archive index (relative to data_dir).",
    )
    archive_nprobe: int = Field(
        128,
        ge=1,
        le=4096,
        title="Archive lists probed",
        description="Inverted lists scanned per archive search: more is slower and finds more. "
        "128 of 4,096 gave recall@10 0.951 at 2M vectors (docs/storage.md).",
    )
    archive_rerank: int = Field(
        100,
        ge=10,
        le=10_000,
        title="Archive re-rank depth",
        description="Candidates re-scored exactly per archive search: more is slower and more "
        "accurate.",
    )


class VigilConfig(Strict):
    """The whole configuration file."""

    system: SystemConfig = Field(
        default_factory=SystemConfig, title="System", description="Paths and logging."
    )
    models: ModelsConfig = Field(
        default_factory=ModelsConfig, title="Models", description="Model cache."
    )
    faces: FacesConfig = Field(
        default_factory=FacesConfig, title="Faces", description="Face pipeline."
    )
    cameras: list[CameraConfig] = Field(
        default_factory=list, title="Cameras", description="Cameras defined in the file."
    )
    people: PeopleConfig = Field(
        default_factory=PeopleConfig,
        title="People",
        description="Person/vehicle detection, tracking and crowd monitoring.",
    )
    api: ApiConfig = Field(default_factory=ApiConfig, title="API", description="HTTP API.")
    storage: StorageConfig = Field(
        default_factory=StorageConfig, title="Storage", description="System of record."
    )
    notify: NotifyConfig = Field(
        default_factory=NotifyConfig,
        title="Notifications",
        description="WebSocket, webhook and MQTT delivery of live events.",
    )
    governance: GovernanceConfig = Field(
        default_factory=GovernanceConfig,
        title="Governance",
        description="Safeguard policy: retention, urgent deadline, target false-alert rate.",
    )
    plates: PlatesConfig = Field(
        default_factory=PlatesConfig,
        title="Plates",
        description="Licence-plate region, track fusion, hotlist hit confirmations, read "
        "retention.",
    )
    cluster: ClusterConfig = Field(
        default_factory=ClusterConfig,
        title="Cluster",
        description="Embedded (one process, the default) or cluster mode on Ray.",
    )
    console: ConsoleConfig = Field(
        default_factory=ConsoleConfig,
        title="Console",
        description="Live video tiles of the web console: rate, size, quality, viewers.",
    )
    recording: RecordingConfig = Field(
        default_factory=RecordingConfig,
        title="Recording",
        description="Segments, events pre/post roll, directory, encryption at rest.",
    )

    @model_validator(mode="after")
    def _recording_key_outside(self) -> VigilConfig:
        key_outside_data_dir(self.recording.encryption_key_file, self.system.data_dir)
        return self

    investigation: InvestigationConfig = Field(
        default_factory=InvestigationConfig,
        title="Investigation",
        description="Cross-camera trajectories: travel-speed limits and bounds.",
    )
    runtime: RuntimeConfig = Field(
        default_factory=RuntimeConfig,
        title="Runtime",
        description="Device (CPU or CUDA) and cross-camera batching of model calls.",
    )

    @model_validator(mode="after")
    def _cluster_needs_postgresql(self) -> VigilConfig:
        url = self.storage.url.get_secret_value()
        if self.cluster.engine == "ray" and not url.startswith("postgresql"):
            raise ValueError(
                "cluster mode (cluster.engine: ray) needs PostgreSQL: every node writes to the "
                "same system of record; set storage.url to postgresql+psycopg://USER@HOST/DB "
                f"(got a {url.split(':', 1)[0]} URL)"
            )
        return self

    @model_validator(mode="after")
    def _unique_camera_ids(self) -> VigilConfig:
        seen: set[str] = set()
        for cam in self.cameras:
            if cam.id in seen:
                raise ValueError(f"duplicate camera id {cam.id!r}")
            seen.add(cam.id)
        return self
