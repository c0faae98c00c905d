"""The collaborators the HTTP layer is built over, gathered in one injectable container.

Handlers stay thin: they authenticate, parse, call one of these services and shape the answer.
Tests build an :class:`ApiServices` over their own database, media folder, clock and (fake) face
pipeline; :meth:`ApiServices.from_config` builds the real ones for ``vigil run``.

The watchlist service needs the face pipeline (models) and a calibrated watchlist size limit, so
it is built on first use; without a calibration the enrolment routes answer 503 with the fix
(`vigil calibrate`) rather than enrolling into a list whose false-alert rate nobody knows.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from vigil.api.accounts import AccountService, LoginPolicy
from vigil.config.settings import VigilConfig
from vigil.core.domain import CameraRow
from vigil.core.records import AlertKind
from vigil.errors import ModelError
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.deployments import DeploymentService
from vigil.governance.hotlists import HotlistService, PlateHitChecker
from vigil.governance.plate_search import PlateSearch
from vigil.governance.purge import Purger
from vigil.governance.search import ArchiveSearch
from vigil.governance.verification import VerificationService
from vigil.governance.watchlists import WatchlistService
from vigil.notify.hub import Hub
from vigil.notify.watcher import EventWatcher
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex
from vigil.storage.governance import GovernanceStore
from vigil.storage.media import MediaStore
from vigil.storage.plates import PlateStore

if TYPE_CHECKING:
    from vigil.system.embedded import EmbeddedSystem

log = logging.getLogger(__name__)


class Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class ApiServices:
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
    hub: Hub = field(default_factory=Hub)
    watchlist_factory: Callable[[], WatchlistService] | None = None
    background: list[Startable] = field(default_factory=list)
    clock: Callable[[], datetime] = utc_now
    _watchlists: WatchlistService | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: The governance-side queries (alert references, purge and retention reads), over ``repo``.
    store: GovernanceStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = GovernanceStore(self.repo.db)

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

    @classmethod
    def build(
        cls,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        *,
        config: VigilConfig,
        secret: bytes | None = None,
        clock: Callable[[], datetime] = utc_now,
        watchlist_factory: Callable[[], WatchlistService] | None = None,
        accounts: AccountService | None = None,
        archive: ArchiveIndex | None = None,
    ) -> ApiServices:
        """Wire the governance services over one repository, media store and audit log.

        With an ``archive`` (the default assembly always passes one), the purger removes purged
        templates from it and archive searches go through :class:`ArchiveSearch`.
        """
        from vigil.system.governance import build_purger

        api = config.api
        if secret is None:
            secret = _secret(config)
        accounts = accounts or AccountService(
            repo,
            secret=secret,
            audit=audit,
            session_ttl=timedelta(seconds=api.session_ttl_s),
            api_key_ttl=timedelta(days=api.api_key_ttl_days),
            login=LoginPolicy.from_config(api),
            clock=clock,
        )
        deployments = DeploymentService(
            repo,
            media,
            audit,
            clock=clock,
            urgent_deadline=timedelta(hours=config.governance.urgent_deadline_hours),
        )
        search = (
            None
            if archive is None
            else ArchiveSearch(repo, archive, audit, deployments, clock=clock)
        )
        from vigil.system.plates import profile_from_config

        plates, profile = PlateStore(repo.db), profile_from_config(config.plates)
        return cls(
            repo=repo,
            media=media,
            audit=audit,
            accounts=accounts,
            deployments=deployments,
            verification=VerificationService(
                repo,
                audit,
                clock=clock,
                confirmations={AlertKind.PLATE_HIT: config.plates.hit_confirmations},
            ),
            hotlists=HotlistService(plates, audit, clock=clock),
            plate_search=PlateSearch(plates, audit, profile, clock=clock),
            plate_hits=PlateHitChecker(repo, plates, audit, profile, clock=clock),
            purger=build_purger(repo, media, audit, deployments, archive, clock=clock),
            archive=archive,
            archive_search=search,
            watchlist_factory=watchlist_factory,
            clock=clock,
        )

    @classmethod
    def from_config(
        cls, config: VigilConfig, *, system: EmbeddedSystem | None = None
    ) -> ApiServices:
        """The real services for ``vigil run``: database, media, audit anchor, archive index,
        governance housekeeping (deadlines, expiry, non-match purge, retention), notifications."""
        from vigil.storage.factory import media_store_from_config, open_database_from_config
        from vigil.system.governance import (
            archive_for,
            catch_up_archive,
            housekeeper,
            watchlist_factory,
        )

        repo = Repository(open_database_from_config(config))
        sync_cameras(repo, config, utc_now())
        media = media_store_from_config(config)
        audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
        archive = archive_for(config)
        catch_up_archive(repo, archive)  # what a crash kept out of the index is in the database
        svc = cls.build(
            repo,
            media,
            audit,
            config=config,
            watchlist_factory=watchlist_factory(config, repo, media, audit),
            archive=archive,
        )
        svc.background.append(housekeeper(config, svc.deployments, svc.purger))
        add_notifiers(svc, config, system)
        return svc


def add_notifiers(svc: ApiServices, config: VigilConfig, system: EmbeddedSystem | None) -> None:
    """The event watcher and the configured webhook and MQTT sinks, as background tasks."""
    from vigil.notify.mqtt import MqttPublisher
    from vigil.notify.webhooks import WebhookSender

    n = config.notify
    sinks: list[Startable] = []
    for hook in n.webhooks:
        sender = WebhookSender(hook)
        svc.hub.add_sink(sender)
        sinks.append(sender)
    if n.mqtt.enabled:
        mqtt = MqttPublisher(n.mqtt, cameras=[c.id for c in config.cameras if c.enabled])
        svc.hub.add_sink(mqtt)
        sinks.append(mqtt)
    statuses = None
    if system is not None:
        sys_ = system

        def statuses() -> list[tuple[str, str, str | None]]:
            return [(s.camera_id, str(s.state), s.last_error) for s in sys_.camera_statuses()]

    watcher = EventWatcher(svc.repo, svc.hub, statuses=statuses, poll_s=n.poll_s)
    svc.background.extend([*sinks, watcher])


def sync_cameras(repo: Repository, config: VigilConfig, now: datetime) -> None:
    """Make the cameras table match the config file's cameras (the file is the source).

    Nothing reads a camera's URL back from the table (sources are built from the config), so
    the repository stores it redacted: the resolved ``${ENV}`` credentials never reach the
    database, its backups or replicas. Encrypting them instead would only matter if something
    had to reconnect from the table alone, and would add a key to keep outside the data dir.
    """
    for cam in config.cameras:
        repo.upsert_camera(
            CameraRow(
                id=cam.id,
                name=cam.name,
                source_url=cam.url.get_secret_value(),
                updated_at=now,
                lat=cam.location.lat,
                lon=cam.location.lon,
                zone=cam.location.zone,
                analytics=tuple(cam.analytics),
                fps=cam.fps,
                enabled=cam.enabled,
            )
        )


def _secret(config: VigilConfig) -> bytes:
    if config.api.secret_key is not None:
        return config.api.secret_key.get_secret_value().encode()
    log.warning(
        "api.secret_key is not set: using a random key; CSRF tokens will not survive a restart"
    )
    return secrets.token_bytes(32)
