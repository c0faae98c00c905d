"""The services the API, the CLI and the pipelines' sinks call, gathered in one plain container.

Nothing here builds anything: :mod:`vigil.system.assembly` (the composition root) makes the
services from the config and hands this container to the app factory; tests build one over their
own database, media folder, clock and (fake) face pipeline with
:func:`vigil.system.assembly.governance_services`. HTTP handlers stay thin: they authenticate,
parse, call one of these services and shape the answer.

The watchlist service needs the face pipeline (models) and a calibrated watchlist size limit, so
it is built on first use; without a calibration the enrolment routes answer 503 with the fix
(`vigil calibrate`) rather than enrolling into a list whose false-alert rate nobody knows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from vigil.errors import ModelError
from vigil.governance.accounts import AccountService
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.cameras import CameraService
from vigil.governance.cases import CaseService
from vigil.governance.deployments import DeploymentService
from vigil.governance.drift import DriftWatch
from vigil.governance.hotlists import HotlistService, PlateHitChecker
from vigil.governance.plate_search import PlateSearch
from vigil.governance.purge import Purger
from vigil.governance.recordings import RecordingService
from vigil.governance.search import ArchiveSearch
from vigil.governance.trajectory import TrajectoryService
from vigil.governance.verification import VerificationService
from vigil.governance.watchlists import WatchlistService
from vigil.notify.hub import Hub
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex
from vigil.storage.governance import GovernanceStore
from vigil.storage.media import MediaStore

if TYPE_CHECKING:
    from vigil.governance.evidence import EvidenceExporter
    from vigil.system.postevent import PostEventRunner

log = logging.getLogger(__name__)


class Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Services:
    """Everything the routes call. ``watchlists`` is made by ``watchlist_factory`` on demand."""

    repo: Repository
    media: MediaStore
    audit: AuditLog
    accounts: AccountService
    deployments: DeploymentService
    verification: VerificationService
    purger: Purger
    archive: ArchiveIndex | None = None
    archive_search: ArchiveSearch | None = None
    hotlists: HotlistService | None = None
    plate_search: PlateSearch | None = None
    plate_hits: PlateHitChecker | None = None
    #: Cross-camera plate trajectories with the travel-time check (issue 19).
    trajectories: TrajectoryService | None = None
    drift: DriftWatch | None = None
    #: Audited playback of recorded footage and recording retention (issue 18).
    recordings: RecordingService | None = None
    #: Post-event face search of recorded footage, as background jobs (issue 19).
    postevent: PostEventRunner | None = None
    hub: Hub = field(default_factory=Hub)
    watchlist_factory: Callable[[], WatchlistService] | None = None
    #: Makes the evidence exporter on first use (it loads the signing key and, on the first
    #: redacted export, the face models); ``None``: exports answer 503.
    evidence_factory: Callable[[], EvidenceExporter] | None = None
    background: list[Startable] = field(default_factory=list)
    clock: Callable[[], datetime] = utc_now
    _watchlists: WatchlistService | None = None
    _evidence: EvidenceExporter | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: The governance-side queries (alert references, purge and retention reads), over ``repo``.
    store: GovernanceStore = field(init=False)
    #: Switching cameras on and off (audited), over ``repo`` and ``audit``.
    cameras: CameraService = field(init=False)
    #: The case lifecycle (outcomes, clips, close, reopen, release), over ``repo`` and ``audit``.
    cases: CaseService = field(init=False)

    def __post_init__(self) -> None:
        self.store = GovernanceStore(self.repo.db)
        self.cameras = CameraService(self.repo, self.audit, clock=self.clock)
        self.cases = CaseService(self.repo, self.audit, clock=self.clock)

    @property
    def evidence(self) -> EvidenceExporter:
        with self._lock:
            if self._evidence is None:
                if self.evidence_factory is None:
                    raise ModelError("evidence export is not configured on this system")
                self._evidence = self.evidence_factory()
            return self._evidence

    @property
    def watchlists(self) -> WatchlistService:
        with self._lock:
            if self._watchlists is None:
                if self.watchlist_factory is None:
                    raise ModelError(
                        "enrolment is unavailable: no face calibration is configured",
                        hint="run `vigil calibrate` and set faces.identification.calibration_file",
                    )
                self._watchlists = self.watchlist_factory()
            return self._watchlists

    def start(self) -> None:
        for item in self.background:
            item.start()

    def stop(self) -> None:
        for item in reversed(self.background):
            try:
                item.stop()
            except Exception:
                log.exception("stopping %r failed", item)
        if self.archive is not None:
            try:  # a clean stop leaves nothing for the next start-up to catch up
                self.archive.save()
            except Exception:
                log.exception("saving the archive index failed")
