"""The governance services as the configuration assembles them: one place for API, CLI and system.

``vigil run`` (through :class:`vigil.system.services.Services`), ``vigil watchlists`` and the tests
of the default assembly all build these here, so

* the watchlist size limit derived from the target false-alert rate is the same wherever a
  subject is enrolled (:func:`watchlist_factory`);
* the non-match purge always removes purged templates from the FAISS archive index the live
  identifiers add them to (:func:`build_purger`, :func:`archive_for`);
* purges, deadlines, expiry and retention run on a timer (:class:`Housekeeper`), not only when
  someone happens to call them.

Everything here is wiring: the rules themselves live in :mod:`vigil.governance`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from vigil.config.settings import FaceEmbedderConfig, VigilConfig
from vigil.errors import NotFoundError
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.deployments import DeploymentService
from vigil.governance.drift import DriftWatch
from vigil.governance.purge import Purger, RetentionPolicy
from vigil.governance.recordings import RecordingService
from vigil.governance.watchlists import WatchlistService
from vigil.identification.calibration import FalseAlertModel
from vigil.logs import redact
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex, FaissArchiveIndex
from vigil.storage.drift import DriftStore
from vigil.storage.media import MediaStore

if TYPE_CHECKING:
    from vigil.governance.evidence import ClipProvider, EvidenceExporter
    from vigil.perception.redaction import Redactor

log = logging.getLogger(__name__)


def watchlist_factory(
    config: VigilConfig,
    repo: Repository,
    media: MediaStore,
    audit: AuditLog,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Callable[[], WatchlistService] | None:
    """A maker of the configured :class:`WatchlistService`, or ``None`` without a calibration.

    Without a calibration nobody knows the false-alert rate of a list, so no list may be made:
    callers answer with the fix (`vigil calibrate`). The face models are loaded on the first
    enrolment only, so listing or creating lists works where the models are not installed.
    """
    ident = config.faces.identification
    if ident.calibration_file is None and ident.calibrated_watchlist_size is None:
        return None

    def make() -> WatchlistService:
        from vigil.identification.calibration import FalseAlertModel
        from vigil.perception.faces.pipeline import FacePipeline

        if ident.calibration_file is not None:
            model = FalseAlertModel.from_file(ident.calibration_file)
            target = config.governance.target_false_alert_rate
            limit = model.max_watchlist_size(ident.threshold, target)
        else:
            limit = int(ident.calibrated_watchlist_size or 0)
        return WatchlistService(
            repo,
            media,
            audit,
            None,
            max_size=lambda: limit,
            model=config.faces.embedder.backend,
            clock=clock,
            load_pipeline=lambda: FacePipeline.from_config(config.faces, config.models.dir),
        )

    return make


def drift_watch(
    config: VigilConfig, repo: Repository, *, clock: Callable[[], datetime] = utc_now
) -> DriftWatch | None:
    """Each deployment's drift watch, or ``None`` without a calibration file (no rate to watch).

    The promised rate of a deployment is the bounded FPIR at the configured threshold for the
    people on its pinned watchlists (per person, over their most-photographed subject's count).
    """
    ident = config.faces.identification
    if ident.calibration_file is None:
        return None
    path = ident.calibration_file
    cache: dict[str, FalseAlertModel] = {}

    def predicted(deployment_id: str) -> float | None:
        if "model" not in cache:
            cache["model"] = FalseAlertModel.from_file(path)
        per_subject: Counter[str] = Counter()
        try:
            pinned = repo.get_deployment(deployment_id).watchlists
        except NotFoundError:  # purged (a refused urgent deployment): nothing left to watch
            return None
        for watchlist_id, _ in pinned:
            per_subject.update(t.subject_id for t in repo.templates_for_watchlist(watchlist_id))
        if not per_subject:
            return None
        rate = cache["model"].fpir(ident.threshold, len(per_subject), max(per_subject.values()))
        return rate.upper

    return DriftWatch(DriftStore(repo.db), predicted, clock)


def retention_policy(config: VigilConfig) -> RetentionPolicy:
    """The retention times of ``governance.retention``."""
    r = config.governance.retention
    return RetentionPolicy(
        alerts=timedelta(days=r.alerts_days),
        sightings=timedelta(days=r.sightings_days),
        media=timedelta(days=r.media_days),
        plate_reads=timedelta(days=config.plates.read_retention_days),
    )


def housekeeper(
    config: VigilConfig,
    deployments: DeploymentService,
    purger: Purger,
    *,
    catch_up: Callable[[], int] | None = None,
    recordings: RecordingService | None = None,
) -> Housekeeper:
    """The housekeeper with the configured retention and intervals (``catch_up``: see
    :class:`Housekeeper`)."""
    g = config.governance
    return Housekeeper(
        deployments,
        purger,
        retention_policy(config),
        every_s=g.purge_every_s,
        retention_every_s=g.retention_every_s,
        catch_up=catch_up,
        recordings=recordings,
    )


def embedding_dim(embedder: FaceEmbedderConfig) -> int:
    """Dimension of the configured embedder's templates, known without loading its model."""
    from vigil.perception.faces.embedders import EMBEDDER_SPECS

    names = embedder.fusion_members if embedder.backend == "fusion" else [embedder.backend]
    return sum(int(EMBEDDER_SPECS[name][1]) for name in names)


def archive_for(config: VigilConfig) -> FaissArchiveIndex:
    """The sighting archive index under ``data_dir``, sized for the configured embedder."""
    from vigil.storage.factory import archive_from_config

    return archive_from_config(config, dim=embedding_dim(config.faces.embedder))


def catch_up_archive(repo: Repository, archive: FaissArchiveIndex, batch: int = 10_000) -> int:
    """Add to the archive index the stored embeddings it does not have yet; returns how many.

    The database is the record; the index is saved only now and then (and on a clean stop), so
    after a crash the embeddings archived since the last save are missing from it. This runs
    at start-up: ids above the index's high-water mark are added, in id order, skipping vectors
    of another width (embeddings of a previously configured model cannot be searched with this
    one), and the index is saved if anything was added.
    """
    after, added = archive.high_water, 0
    while rows := repo.embeddings_after(after, batch):
        after = rows[-1].vector_id
        keep = [r for r in rows if r.vector.shape[0] == archive.params.dim]
        if keep:
            archive.add(np.array([r.vector_id for r in keep]), np.stack([r.vector for r in keep]))
            added += len(keep)
    if added:
        archive.save()
        log.info("archive index caught up with %d stored embedding(s)", added)
    return added


def build_purger(
    repo: Repository,
    media: MediaStore,
    audit: AuditLog,
    deployments: DeploymentService,
    archive: ArchiveIndex | None,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Purger:
    """The purger with its two hooks wired: post-event coverage and the archive index."""
    return Purger(
        repo,
        media,
        audit,
        post_event_covers=deployments.post_event_authorised,
        archive=archive,
        clock=clock,
    )


class Housekeeper:
    """A background thread that applies the clock to governance: deadlines and expiry
    (``DeploymentService.tick``), the non-match purge, and retention.

    Args:
        every_s: seconds between ticks and non-match purges. Shorter deletes lapsed biometrics
            sooner at the cost of one cheap indexed query per tick.
        retention_every_s: seconds between retention runs; each run appends one audit entry, so
            running it every tick would fill the chain with empty runs.
        catch_up: run every pass when set: the cluster head's archive-index catch-up, since
            camera nodes archive templates into the database only (one process owns the index
            files). Unset in the embedded mode, where the recorder adds to the index itself.
        recordings: recording retention, run every pass (``events`` cameras' segments without
            an event go within about a minute of being judged; it writes an audit entry only
            when it deleted something).
    """

    def __init__(
        self,
        deployments: DeploymentService,
        purger: Purger,
        policy: RetentionPolicy,
        *,
        every_s: float = 60.0,
        retention_every_s: float = 3600.0,
        catch_up: Callable[[], int] | None = None,
        recordings: RecordingService | None = None,
    ) -> None:
        self.catch_up = catch_up
        self.recordings = recordings
        self.deployments = deployments
        self.purger = purger
        self.policy = policy
        self.every_s = every_s
        self.retention_every_s = retention_every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._retention_at = -float("inf")
        # What an auditor asks first: is the purge actually running? (GET /system/status)
        self.passes = 0
        self.failures = 0
        self.last_ok_at: datetime | None = None
        self.last_error: str | None = None

    def status(self) -> dict[str, object]:
        """Passes, failures, the last successful pass and the last error (no personal data)."""
        return {
            "name": "housekeeper",
            "every_s": self.every_s,
            "passes": self.passes,
            "failures": self.failures,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "last_error": self.last_error,
        }

    def run_once(self) -> None:
        """One pass: tick, purge non-match biometrics, and retention when it is due."""
        self.deployments.tick()
        if self.catch_up is not None:  # before the purge: it may strip what was just archived
            self.catch_up()
        self.purger.purge_unmatched()
        if self.recordings is not None:
            self.recordings.apply_retention()
        if time.monotonic() - self._retention_at >= self.retention_every_s:
            self.purger.apply_retention(self.policy)
            self._retention_at = time.monotonic()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.passes += 1
            try:
                self.run_once()
                self.last_ok_at = utc_now()
            except Exception as exc:  # a failed pass is logged and retried; the thread must not die
                self.failures += 1
                self.last_error = redact(f"{type(exc).__name__}: {exc}")[:300]
                log.exception("governance housekeeping failed; retrying in %.0f s", self.every_s)
            self._stop.wait(self.every_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="vigil-housekeeper", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


def evidence_exporter(
    config: VigilConfig,
    repo: Repository,
    media: MediaStore,
    audit: AuditLog,
    *,
    clips: ClipProvider | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> EvidenceExporter:
    """The configured :class:`EvidenceExporter`: the signing key from
    ``governance.evidence.signing_key_file`` (created on first use, refused inside the data
    directory), a redactor over the configured face pipeline with the redaction detector
    threshold (models loaded on the first redacted export), plates too when configured.

    ``clips``: where clip windows come from; by default the recorded segments (remuxed as
    playback does). A window the recording does not hold is listed as not exported.
    """
    from vigil.config.settings import YuNetDetectorConfig
    from vigil.governance.evidence import EvidenceExporter, EvidenceRedaction
    from vigil.governance.signing import load_or_create_key
    from vigil.system.recording import RecordedClips, segment_index

    if clips is None:
        clips = RecordedClips(segment_index(config, repo))
    ev = config.governance.evidence
    key = load_or_create_key(ev.signing_key_file, config.system.data_dir)
    faces = config.faces
    loaded: dict[str, object] = {}

    def make(subject: np.ndarray, plates: Collection[str]) -> Redactor:
        from vigil.perception.faces.detectors import make_detector
        from vigil.perception.faces.pipeline import FacePipeline
        from vigil.perception.plates.reader import PlateReader
        from vigil.perception.redaction import Redactor
        from vigil.recording.masks import apply_masks

        if "faces" not in loaded:
            live = FacePipeline.from_config(faces, config.models.dir)
            det = faces.detector.model_copy(update={"score_threshold": ev.face_score_threshold})
            if isinstance(det, YuNetDetectorConfig):
                det = det.model_copy(update={"min_face_px": min(det.min_face_px, 8)})
            loaded["faces"] = FacePipeline(
                make_detector(det, config.models.dir),
                live.embedder,
                min_quality=live.min_quality,
                min_face_px=live.min_face_px,
            )
            loaded["plates"] = (
                PlateReader.from_models(model_dir=config.models.dir) if ev.redact_plates else None
            )
        pipeline = loaded["faces"]
        assert isinstance(pipeline, FacePipeline)
        reader = loaded["plates"]
        assert reader is None or isinstance(reader, PlateReader)
        return Redactor(
            pipeline,
            subject,
            faces.identification.threshold,
            plates=reader,
            plate_texts=plates,
            margin=ev.face_margin,
            carry=ev.carry_frames,
            mask_fn=apply_masks,
        )

    versions = {
        "face_detector": faces.detector.backend,
        "face_embedder": faces.embedder.backend,
        "calibration_file": str(faces.identification.calibration_file or ""),
        "calibrated_fpir": str(faces.identification.calibrated_fpir),
    }
    masks = {
        c.id: [[(p[0], p[1]) for p in m.polygon] for m in c.privacy_masks] for c in config.cameras
    }
    return EvidenceExporter(
        repo,
        media,
        audit,
        key,
        redaction=EvidenceRedaction(faces.embedder.backend, make),
        clips=clips,
        versions=versions,
        threshold=faces.identification.threshold,
        masks=masks,
        clock=clock,
    )
