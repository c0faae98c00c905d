"""Evidence export: one signed, hash-listed, bystander-redacted bundle per case.

:class:`EvidenceExporter` gathers what a case holds - its alerts (with their probe stills, both
verifiers' decisions, the calibrated false-alert rate, the watchlist versions of the deployment,
the model names and the threshold), sightings, plate reads, searches, clip windows and outcomes -
and writes the zip described in :mod:`vigil.governance.evidence_verify`, whose
:func:`~vigil.governance.evidence_verify.verify_bundle` checks it with the public key alone.

Footage comes from a :class:`ClipProvider` (``clip(camera_id, start, end, out) -> Path``, one
MP4 of the window): the recording package's playback at assembly, :class:`FootageFiles` (a file
per camera) here and in tests. Without one, a case's clip windows are listed under
``not_exported`` in the manifest, never silently dropped.

Redaction is the default: every still and every clip passes through a
:class:`~vigil.perception.redaction.Redactor` made for the case by an :class:`EvidenceRedaction`
(its subject: the templates of the case's alerts' subjects enrolled with the redactor's
embedder; its plates: the texts of the case's plate reads). An unredacted export needs a stated
reason and says so in the manifest and in its audit entry.

Order of writes, and why: the bundle is written to a temporary file first; then the export's link
(``case_links`` kind ``export``, target the manifest's SHA-256) and its audit entry
(``export.create``) commit in one unit of work; only after that commit is the temporary file
moved to its name. A failed commit leaves no bundle; a bundle on disk always has its entry (a
crash between the commit and the move leaves the entry and a ``.part`` file, the safe side).
The export's own entry is not in the bundle it records (it is appended after the head the bundle
proves); the chain names the manifest's SHA-256, so the system can later prove which bundle left.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.core.domain import CaseLink, Role
from vigil.core.records import AuditEntry
from vigil.errors import ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, check_text, iter_entries, utc_now
from vigil.governance.evidence_verify import CHAIN, MANIFEST, SCHEMA, SIGNATURE
from vigil.governance.signing import fingerprint
from vigil.perception.redaction import Polygon, RedactionStats, Redactor
from vigil.storage import Repository
from vigil.storage.cases import CaseStore
from vigil.storage.errors import StorageError
from vigil.storage.governance import AlertRef, GovernanceStore
from vigil.storage.media import MediaStore

log = logging.getLogger(__name__)


class ClipProvider(Protocol):
    """One MP4 of a camera's footage in ``[start, end)``, written to ``out``."""

    def clip(self, camera_id: str, start: datetime, end: datetime, out: Path) -> Path: ...


@dataclass(frozen=True)
class FootageFiles:
    """A :class:`ClipProvider` over one video file per camera whose first frame was recorded at
    a known time: the window is cut by remuxing packets (no re-encoding), from the key frame at or
    before ``start``."""

    files: Mapping[str, tuple[Path, datetime]]

    def clip(self, camera_id: str, start: datetime, end: datetime, out: Path) -> Path:
        import av

        if camera_id not in self.files:
            raise ValidationError(f"no footage of camera {camera_id!r}")
        path, t0 = self.files[camera_id]
        lo, hi = (start - t0).total_seconds(), (end - t0).total_seconds()
        with av.open(str(path)) as src, av.open(str(out), "w", format="mp4") as dst:
            vin = src.streams.video[0]
            vout = dst.add_stream_from_template(vin)
            base = None
            for packet in src.demux(vin):
                if packet.pts is None or packet.time_base is None:
                    continue
                t = float(packet.pts * packet.time_base)
                if t >= hi:
                    break
                if base is None and (t < lo - 10 or not packet.is_keyframe):
                    continue
                base = packet.pts if base is None else base
                packet.pts -= base
                packet.dts = None if packet.dts is None else packet.dts - base
                packet.stream = vout
                dst.mux(packet)
        return out


@dataclass(frozen=True)
class EvidenceRedaction:
    """Makes the redactor of one case: ``make(subject_templates, plate_texts)``; ``model`` names
    the embedder whose templates ``make`` accepts (templates of other models are not used)."""

    model: str
    make: Callable[[npt.NDArray[np.float32], Collection[str]], Redactor]


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest_sha256: str
    files: int
    redacted: bool
    not_exported: list[dict[str, str]] = field(default_factory=list)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _entry_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(timespec="microseconds"),
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "reason": e.reason,
        "prev_hash": e.prev_hash,
        "entry_hash": e.entry_hash,
        "details": [list(p) for p in e.details],
    }


def concerned_items(entry: AuditEntry, items: Collection[str]) -> list[str]:
    """The bundle items (``kind:id``) an audit entry is about: its target, or a ``case`` /
    ``alert`` detail naming one."""
    found = [entry.target] if entry.target in items else []
    for key, value in entry.details:
        name = f"{key}:{value}"
        if key in ("case", "alert") and name in items and name not in found:
            found.append(name)
    return found


class EvidenceExporter:
    """Writes evidence bundles of cases (see the module doc).

    Args:
        key: the Ed25519 signing key (:func:`vigil.governance.signing.load_or_create_key`).
        redaction: makes each case's redactor; ``None`` allows only unredacted exports.
        clips: the footage; ``None`` lists clip windows as not exported.
        versions: model names and versions written into the manifest.
        threshold: the identification threshold in force (written into the manifest).
        masks: per-camera privacy-mask polygons, applied to every exported frame.
    """

    def __init__(
        self,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        key: Ed25519PrivateKey,
        *,
        redaction: EvidenceRedaction | None,
        clips: ClipProvider | None,
        versions: Mapping[str, str],
        threshold: float,
        masks: Mapping[str, Sequence[Polygon]] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.media = media
        self.audit = audit
        self.key = key
        self.redaction = redaction
        self.clips = clips
        self.versions = dict(versions)
        self.threshold = threshold
        self.masks = dict(masks or {})
        self.clock = clock
        self.cases = CaseStore(repo.db)
        self.store = GovernanceStore(repo.db)

    def export(
        self, actor: Actor, case_id: str, out: Path, *, redact: bool = True, reason: str = ""
    ) -> ExportResult:
        """Write the case's bundle to ``out`` and record the export (audited)."""
        actor.require(Role.INVESTIGATOR, Role.SUPERVISOR, action="exporting evidence")
        if not redact and not reason.strip():
            raise ValidationError("an unredacted export needs a stated reason")
        reason = reason.strip() or "evidence export (bystanders redacted)"
        check_text("reason", reason, limit=2000, multiline=True)
        if redact and self.redaction is None:
            raise ValidationError("redaction is unavailable here (no face models configured)")
        case = self.repo.get_case(case_id)
        links = self.repo.case_links(case_id)
        by_kind: dict[str, list[str]] = {}
        for link in links:
            by_kind.setdefault(link.kind, []).append(link.target_id)
        alerts = [a for aid in by_kind.get("alert", []) for a in self.store.alerts(alert_id=aid)]
        reads = self.cases.plate_reads(by_kind.get("plate_read", []))
        redactor = self._redactor(alerts, [r.text for r in reads]) if redact else None
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".evidence-", dir=out.parent))
        try:
            files: dict[str, Path] = {}
            stats: dict[str, dict[str, int]] = {}
            alert_docs = [self._alert(a, redactor, work, files, stats) for a in alerts]
            clip_docs, missing = self._clips(case_id, redactor, work, files, stats)
            items = {f"case:{case_id}"} | {f"{k.kind}:{k.target_id}" for k in links}
            chain, cited, head = self._audit_segment(items)
            (work / "chain.jsonl").write_bytes(chain)
            files[CHAIN] = work / "chain.jsonl"
            manifest = {
                "schema": SCHEMA,
                "case": self._case_doc(case_id, case.title, case.status, case.opened_by),
                "exported_at": self.clock().isoformat(),
                "exported_by": actor.id,
                "reason": reason,
                "redacted": redact,
                "redaction": stats,
                "signing_key_sha256": fingerprint(self.key),
                "versions": {**self.versions, "identification_threshold": str(self.threshold)},
                "alerts": alert_docs,
                "sightings": by_kind.get("sighting", []),
                "plate_reads": [
                    {
                        "id": r.key,
                        "camera": r.camera_id,
                        "at": r.read_at.isoformat(),
                        "text": r.text,
                    }
                    for r in reads
                ],
                "searches": by_kind.get("search", []),
                "clips": clip_docs,
                "not_exported": missing,
                "files": {name: _file_sha(p) for name, p in sorted(files.items())},
                "audit": {"head": head, "items": cited},
            }
            raw = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False).encode()
            tmp = out.with_name(out.name + ".part")
            _write_zip(tmp, raw, base64.b64encode(self.key.sign(raw)), files)
            digest = _sha(raw)
            self._record(actor, case_id, digest, redact, reason, len(files), tmp, out)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return ExportResult(out, digest, len(files), redact, missing)

    # -- parts ----------------------------------------------------------------------------------

    def _redactor(self, alerts: Sequence[AlertRef], plates: Sequence[str]) -> Redactor:
        assert self.redaction is not None
        subjects = sorted({a.subject_id for a in alerts if a.subject_id})
        vectors = [
            v
            for model, v in self.cases.subject_templates(subjects)
            if model == self.redaction.model
        ]
        subject = np.stack(vectors) if vectors else np.zeros((0, 1), np.float32)
        return self.redaction.make(subject, plates)

    def _case_doc(self, case_id: str, title: str, status: str, owner: str) -> dict[str, Any]:
        outcomes = [
            {
                "outcome": o.outcome,
                "reason": o.reason,
                "alert": o.alert_id,
                "by": o.recorded_by,
                "at": o.recorded_at.isoformat(),
            }
            for o in self.cases.outcomes(case_id)
        ]
        return {
            "id": case_id,
            "title": title,
            "status": status,
            "opened_by": owner,
            "outcomes": outcomes,
        }

    def _alert(
        self,
        a: AlertRef,
        redactor: Redactor | None,
        work: Path,
        files: dict[str, Path],
        stats: dict[str, dict[str, int]],
    ) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": a.id,
            "camera": a.camera_id,
            "raised_at": a.raised_at.isoformat(),
            "score": a.score,
            "status": a.status,
            "calibrated_false_alert_rate": a.false_alert_rate,
            "deployment": a.deployment_id,
            "watchlists": [
                {"id": w, "version_hash": h}
                for w, h in (
                    self.cases.watchlist_versions(a.deployment_id) if a.deployment_id else []
                )
            ],
            "verifications": [
                {
                    "user": v.user_id,
                    "decision": v.decision.value,
                    "reason": v.reason,
                    "at": v.decided_at.isoformat(),
                }
                for v in self.repo.list_verifications(a.id)
            ],
            "still": None,
        }
        if a.probe_key:
            data = self.media.get(a.probe_key)
            if redactor is not None:
                data, st = redactor.image(data, self.masks.get(a.camera_id, ()))
                stats[f"stills/alert-{a.id}.jpg"] = st.as_json()
            name = f"stills/alert-{a.id}.jpg"
            (work / f"alert-{a.id}.jpg").write_bytes(data)
            files[name] = work / f"alert-{a.id}.jpg"
            doc["still"] = name
        return doc

    def _clips(
        self,
        case_id: str,
        redactor: Redactor | None,
        work: Path,
        files: dict[str, Path],
        stats: dict[str, dict[str, int]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        docs: list[dict[str, Any]] = []
        missing: list[dict[str, str]] = []
        for clip in self.cases.clips(case_id):
            doc = {
                "id": clip.id,
                "camera": clip.camera_id,
                "start": clip.start_at.isoformat(),
                "end": clip.end_at.isoformat(),
                "file": None,
            }
            docs.append(doc)
            if self.clips is None:
                missing.append({"clip": clip.id, "why": "no recording is configured here"})
                continue
            raw = work / f"raw-{clip.id}.mp4"
            try:
                self.clips.clip(clip.camera_id, clip.start_at, clip.end_at, raw)
            except Exception as exc:  # a window the recording no longer has: say so
                log.warning("clip %s not exported: %s", clip.id, exc)
                missing.append({"clip": clip.id, "why": str(exc)[:200]})
                continue
            name, path = f"clips/{clip.id}.mp4", work / f"clip-{clip.id}.mp4"
            if redactor is not None:
                st: RedactionStats = redactor.video(raw, path, self.masks.get(clip.camera_id, ()))
                stats[name] = st.as_json()
            else:
                raw.replace(path)
            files[name] = path
            doc["file"] = name
        return docs, missing

    def _audit_segment(
        self, items: Collection[str]
    ) -> tuple[bytes, dict[str, list[dict[str, Any]]], dict[str, Any] | None]:
        """The chain from the oldest entry concerning an item to the head, the entries cited
        per item, and the head. Read in one pass, page by page; only the segment is kept."""
        cited: dict[str, list[dict[str, Any]]] = {}
        lines: list[bytes] = []
        last: AuditEntry | None = None
        for entry in iter_entries(self.repo):
            last = entry
            hits = concerned_items(entry, items)
            for item in hits:
                cited.setdefault(item, []).append(
                    {"seq": entry.seq, "entry_hash": entry.entry_hash, "action": entry.action}
                )
            if hits or lines:
                lines.append(json.dumps(_entry_json(entry), sort_keys=True).encode())
        head = None if last is None else {"seq": last.seq, "entry_hash": last.entry_hash}
        return b"\n".join(lines) + (b"\n" if lines else b""), cited, head

    def _record(  # noqa: PLR0917 - one export's facts, private
        self,
        actor: Actor,
        case_id: str,
        digest: str,
        redact: bool,
        reason: str,
        n_files: int,
        tmp: Path,
        out: Path,
    ) -> None:
        try:
            with self.repo.db.transaction():
                self.repo.link_case(CaseLink(case_id, "export", digest, actor.id, self.clock()))
                self.audit.append(
                    actor.id,
                    AuditAction.EXPORT,
                    f"case:{case_id}",
                    reason,
                    [
                        ("manifest_sha256", digest),
                        ("redacted", str(redact).lower()),
                        ("files", str(n_files)),
                    ],
                )
                self.repo.db.after_commit(lambda: _move(tmp, out))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if not out.exists():  # the move after the commit failed (logged): the entry stands
            raise StorageError(f"the export was recorded but {out} could not be written")


def _move(src: Path, dst: Path) -> None:
    src.replace(dst)


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_zip(path: Path, manifest: bytes, signature: bytes, files: Mapping[str, Path]) -> None:
    """Stored, not deflated: video and JPEG do not compress, and a reviewer can list and read
    each member with any zip tool."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(MANIFEST, manifest)
        zf.writestr(SIGNATURE, signature + b"\n")
        for name, src in sorted(files.items()):
            zf.write(src, name)
