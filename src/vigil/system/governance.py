"""The governance services as the configuration assembles them: one place for API, CLI and system.

``vigil run`` (through :class:`vigil.api.services.ApiServices`), ``vigil watchlists`` and the tests
of the default assembly all build the watchlist service here, so the size limit derived from the
target false-alert rate is the same wherever a subject is enrolled. Everything here is wiring: the
rules themselves live in :mod:`vigil.governance`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from vigil.config.settings import VigilConfig
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.watchlists import WatchlistService
from vigil.storage import Repository
from vigil.storage.media import MediaStore

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
            target = ident.calibrated_fpir or 0.05
            limit = model.max_watchlist_size(ident.threshold, min(max(target, 1e-6), 0.5))
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
