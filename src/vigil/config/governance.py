"""Configuration of the safeguards that are policy, not physics: retention times, the urgent
deployment deadline, the target false-alert rate that sizes watchlists, and how often the
housekeeper applies them.

Kept apart from :mod:`vigil.config.settings` (which imports it); the same rules hold: unknown keys
are errors, every field has a title, a description and bounds. The bounds are the legal or safety
limits, not taste: an urgent deployment may run unapproved for at most 24 hours (EU AI Act
Art. 5(3)), so the deadline cannot be configured longer.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from vigil.config.base import Strict


class RetentionConfig(Strict):
    """How long each kind of record is kept (records linked to a case on legal hold are kept
    whatever their age; the audit chain is never deleted by retention)."""

    alerts_days: float = Field(
        31.0,
        gt=0,
        le=3650,
        title="Alert retention (days)",
        description="Alerts (with their verifications) older than this are deleted.",
    )
    sightings_days: float = Field(
        31.0,
        gt=0,
        le=3650,
        title="Sighting retention (days)",
        description="Sightings (metadata of tracked people and vehicles) older than this are "
        "deleted.",
    )
    media_days: float = Field(
        31.0,
        gt=0,
        le=3650,
        title="Media retention (days)",
        description="Probe crops of alerts and crops of sightings older than this are deleted "
        "even while the alert or sighting record is still kept: shorter keeps the oversight "
        "figures (the records) while face images go sooner.",
    )
    logs_days: int = Field(
        31,
        ge=1,
        le=3650,
        title="Log retention (days)",
        description="Daily log files under `system.log_dir` older than this are deleted at "
        "the midnight (UTC) rotation. Logs never hold biometric data or credentials, but they "
        "do say which camera saw what and when.",
    )


class EvidenceConfig(Strict):
    """Evidence export: where the signing key lives and how bystanders are redacted."""

    signing_key_file: Path = Field(
        Path("~/.config/vigil/evidence-signing.key"),
        title="Signing key file",
        description="Ed25519 private key (PEM) that signs evidence bundles; created with mode "
        "0600 on first use. Must be outside `system.data_dir` (refused inside: a key that "
        "travels with the data could forge the evidence it signs). `vigil evidence key` prints "
        "its public key.",
    )
    face_score_threshold: float = Field(
        0.3,
        ge=0.05,
        le=0.99,
        title="Redaction face score threshold",
        description="Detector score above which a face is blurred in exports; lower than the "
        "live detector's so that faces it would find are blurred (some false ones too).",
    )
    face_margin: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        title="Redaction margin",
        description="Each blurred face box grows by this fraction of its size on every side.",
    )
    carry_frames: int = Field(
        3,
        ge=0,
        le=30,
        title="Redaction carry (frames)",
        description="A bystander's box stays blurred this many frames after the detector last "
        "saw it (covers brief misses); higher blurs more of the picture around moving people.",
    )
    redact_plates: bool = Field(
        True,
        title="Redact plates",
        description="Also blur plates whose text is not one of the case's plate reads (full-"
        "frame OCR on every exported frame: much slower exports).",
    )


class GovernanceConfig(Strict):
    """Safeguard policy: retention, urgent deadline, false-alert target, housekeeping."""

    retention: RetentionConfig = Field(
        default_factory=RetentionConfig,
        title="Retention",
        description="Retention times of alerts, sightings and media.",
    )
    evidence: EvidenceConfig = Field(
        default_factory=EvidenceConfig,
        title="Evidence export",
        description="Signing key and bystander redaction of evidence bundles.",
    )
    urgent_deadline_hours: float = Field(
        24.0,
        gt=0,
        le=24,
        title="Urgent deployment deadline (hours)",
        description="An urgent deployment that is not approved within this many hours stops and "
        "everything it produced is deleted. At most 24 (the legal limit).",
    )
    target_false_alert_rate: float = Field(
        0.001,
        gt=0,
        le=0.5,
        title="Target false-alert rate",
        description="Accepted false-positive identification rate per face compared; a "
        "watchlist may hold at most as many templates as keep the calibrated rate at the "
        "threshold below this. Lower means smaller lists.",
    )
    local_calibration_report: str | None = Field(
        None,
        max_length=500,
        title="Local calibration check report",
        description="Where the force's own check of the calibration lives: the path or intranet "
        "address of the report `vigil eval far --calibration FILE --lfw-dir YOUR_DATA` wrote on "
        "lawfully held, labelled local faces. The deployment approval screen links to it, and "
        "says plainly when there is none (LFW under-represents East Asian faces).",
    )
    purge_every_s: float = Field(
        60.0,
        ge=1,
        le=3600,
        title="Purge interval (s)",
        description="How often lapsed biometrics are purged and deployment deadlines and expiry "
        "applied; shorter deletes sooner at the cost of one small query per interval.",
    )
    retention_every_s: float = Field(
        3600.0,
        ge=60,
        le=86400,
        title="Retention interval (s)",
        description="How often retention runs; each run writes one audit entry.",
    )

    @model_validator(mode="after")
    def _intervals(self) -> GovernanceConfig:
        if self.retention_every_s < self.purge_every_s:
            raise ValueError("retention_every_s must not be shorter than purge_every_s")
        return self
