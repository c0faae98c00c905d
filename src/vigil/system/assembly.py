"""The composition root: the whole system built from one config, in one place, top to bottom.

:func:`assemble` is what ``vigil run`` and ``vigil demo`` call (and what the integration tests
call): it opens storage, the audit chain and the archive index, builds the governance services,
gives every pipeline stage its sink in its constructor, adds housekeeping and notifications, and
returns an :class:`Assembly` that starts its parts in order and stops them in reverse. Nothing else
constructs these parts for a running system, and nothing below this package imports it.

Order, and why:

1. **storage**: the database (migrated), the cameras table synchronised with the config file, the
   media store, the sighting archive index (caught up with what a crash kept out of it);
2. **accountability**: the audit chain and its anchor; every later part writes through it;
3. **governance services**: accounts, deployments, verification, watchlists (on first use, they
   need the face models), hotlists and plate search, purge and retention; gathered in
   :class:`~vigil.system.services.Services`, the container the API and the CLI use;
4. **stage sinks**: where each stage's output goes: tamper signals → tamper alerts; crowd
   samples, fused plate reads and face decisions → keyed decisions into the process's outbox,
   which writes them through the crowd series, the hotlist checker and the identification
   recorder (with the deployment authority that says what each camera may do), buffering them
   in memory and on disk while the database is unreachable;
5. **pipelines**: cameras → decode → perception → stages, each stage built with its sink;
6. **background**: the event watcher (→ this process's WebSocket clients); the webhook and MQTT
   senders, only in the process that leads among all those sharing the database
   (:mod:`vigil.system.leader`); the housekeeper (deadlines, expiry, non-match purge,
   retention), only in one process at a time among those keeping the archive index.

Start: background, then the pipelines (records have somewhere to go before frames flow). Stop: the
pipelines first (their last tracks are closed and recorded), then the background, then the
archive index is saved.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vigil.config.settings import FacesConfig, VigilConfig
from vigil.core.domain import CameraRow
from vigil.core.records import (
    Alert,
    AlertKind,
    CrossingCount,
    CrowdSample,
    PlateRead,
    Sighting,
)
from vigil.errors import ConfigError
from vigil.governance.accounts import AccountService, LoginPolicy
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.deployments import DeploymentService
from vigil.governance.hotlists import HotlistService, PlateHitChecker
from vigil.governance.plate_search import PlateSearch
from vigil.governance.rates import FACE, PLATE, SearchRate
from vigil.governance.recorder import IdentificationRecorder
from vigil.governance.search import ArchiveSearch
from vigil.governance.trajectory import TrajectoryService
from vigil.governance.verification import VerificationService
from vigil.governance.watchlists import WatchlistService
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.live import FaceIdentifier
from vigil.notify.events import AlertEvent
from vigil.perception.faces.cascade import CascadeBand
from vigil.perception.faces.pipeline import FacePipeline
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex
from vigil.storage.deliveries import DeliveryLog
from vigil.storage.factory import media_store_from_config, open_database_from_config
from vigil.storage.leases import HOUSEKEEPING_LOCK_KEY, LeaderLock
from vigil.storage.media import MediaStore
from vigil.storage.plates import PlateStore
from vigil.system.decisions import (
    CrossingRecord,
    CrowdRecord,
    DecisionSink,
    DecisionWriter,
    PlateRecord,
    SightingRecord,
)
from vigil.system.device import apply_runtime
from vigil.system.embedded import CameraModels, EmbeddedSystem, StageSinks
from vigil.system.governance import (
    archive_for,
    build_purger,
    catch_up_archive,
    drift_watch,
    evidence_exporter,
    housekeeper,
    watchlist_factory,
)
from vigil.system.identification import CameraIdentification, DeploymentAuthority
from vigil.system.leader import LeaderOnly, SinkPart
from vigil.system.outbox import Outbox
from vigil.system.plates import profile_from_config
from vigil.system.postevent import postevent_runner
from vigil.system.recording import recorder_factory, recording_service, segment_index
from vigil.system.services import Services, Startable
from vigil.system.tamper_alerts import TamperAlerter

log = logging.getLogger(__name__)

AUDIT_ANCHOR = "audit-anchor.json"
OUTBOX_DIR = "outbox"  # the outbox's disk spool, under system.data_dir
SECRET_FILE = "secret.key"  # the generated server secret when api.secret_key is unset


@dataclass
class Assembly:
    """A built system: the services container and (unless built without cameras) the pipelines."""

    config: VigilConfig
    services: Services
    system: EmbeddedSystem | None

    def start(self) -> None:
        self.services.start()
        if self.system is not None:
            self.system.start()

    def stop(self) -> None:
        if self.system is not None:
            self.system.stop()
        self.services.stop()


def assemble(
    config: VigilConfig,
    *,
    cameras: bool = True,
    head: bool = True,
    index: bool = True,
    models: CameraModels | None = None,
) -> Assembly:
    """Build everything for ``config``.

    ``cameras=False``: services only, no pipelines (the head of a cluster, CLI tools, tests).
    ``head=False``: a camera node of a cluster: no background tasks (housekeeping and
    notifications run once, on the head), no archive index (one process owns its files; the
    head catches it up from the database) and no audit anchor file (the head keeps it; the
    chain itself is shared and linked under the database's lock).
    ``models``: per-camera models (a cluster's pooled inference clients); default: local models
    shared by every camera.
    ``index=False``: no archive index either (an API-only process, one of several on the
    database): the head keeps the one index, so the purge that removes a lapsed template from
    it leaves no copy in another process's files; face archive searches go to the head.
    """
    apply_runtime(config.runtime)  # device and decoder, before any model or stream is opened
    # 1. storage
    repo = Repository(open_database_from_config(config))
    sync_cameras(repo, config, utc_now(), keep_enabled=not head)
    media = media_store_from_config(config)
    archive = archive_for(config) if head and index else None
    if archive is not None:
        catch_up_archive(repo, archive)
    # 2. accountability
    anchor = config.system.data_dir / AUDIT_ANCHOR if head else None
    audit = AuditLog(repo, anchor_path=anchor)
    # 3. governance services
    services = governance_services(
        repo,
        media,
        audit,
        config=config,
        # A camera node serves no API and mints no session: a throwaway key, no key file on
        # the node's disk (the head and API processes keep the one that signs sessions).
        secret=None if head else secrets.token_bytes(32),
        watchlist_factory=watchlist_factory(config, repo, media, audit),
        archive=archive,
    )
    # 4-5. stage sinks, then the pipelines built with them
    system = None
    if cameras:
        # One spool per process: a cluster node may run several camera actors on one data_dir.
        spool = (
            OUTBOX_DIR if head else f"{OUTBOX_DIR}/camera-" + "+".join(c.id for c in config.cameras)
        )
        # The embedded system runs the cameras the table has on (the file's, less those a
        # person switched off); a camera node runs what its runner handed it.
        run_config = with_table_flags(config, repo) if head else config
        system = EmbeddedSystem(
            run_config, sinks=stage_sinks(config, services, spool=spool), models=models
        )
    # 6. background
    if head:
        # Without cameras here (a cluster's head), camera nodes archive templates into the
        # database only; the housekeeper brings them into this process's index every pass.
        catch_up = None
        if archive is not None and not cameras:
            kept = archive
            catch_up = lambda: catch_up_archive(repo, kept)  # noqa: E731
        services.background.extend(notifiers(services, config, system))
        if services.postevent is not None:
            services.background.append(services.postevent)
        if index:  # see housekeeping()
            keeper = housekeeper(
                config,
                services.deployments,
                services.purger,
                catch_up=catch_up,
                recordings=services.recordings,
            )
            services.background.insert(0, housekeeping(services, config, keeper))
    return Assembly(config, services, system)


def governance_services(
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
) -> Services:
    """The governance services over one repository, media store and audit log.

    With an ``archive`` (the default assembly always passes one), the purger removes purged
    templates from it and archive searches go through :class:`ArchiveSearch`.
    """
    api = config.api
    accounts = accounts or AccountService(
        repo,
        secret=_secret(config) if secret is None else secret,
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
    rate = SearchRate(
        repo,
        {PLATE: api.plate_search_rate_per_min, FACE: api.face_search_rate_per_min},
        clock=clock,
    )
    search = (
        None
        if archive is None
        else ArchiveSearch(repo, archive, audit, deployments, rate=rate, clock=clock)
    )
    plates, profile = PlateStore(repo.db), profile_from_config(config.plates)
    drift = drift_watch(config, repo, clock=clock)
    entry_min = config.plates.entry_min_literals
    return Services(
        repo=repo,
        media=media,
        audit=audit,
        accounts=accounts,
        deployments=deployments,
        drift=drift,
        verification=VerificationService(
            repo,
            audit,
            clock=clock,
            drift=drift,
            confirmations={AlertKind.PLATE_HIT: config.plates.hit_confirmations},
        ),
        hotlists=HotlistService(plates, audit, min_literals=entry_min, clock=clock),
        plate_search=PlateSearch(
            plates,
            audit,
            profile,
            min_literals=config.plates.search_min_literals,
            timeout_s=config.plates.search_timeout_s,
            rate=rate,
            clock=clock,
        ),
        trajectories=TrajectoryService(
            plates,
            audit,
            repo.list_cameras,
            driving_speed_mps=config.investigation.driving_speed_mps,
            max_window_s=config.investigation.trajectory_max_window_s,
            max_points=config.investigation.trajectory_max_points,
            walking_speed_mps=config.investigation.walking_speed_mps,
            faces=None if search is None else (repo, search),
            face_rates=_face_rates(config),
            face_threshold=config.faces.identification.threshold,
            clock=clock,
        ),
        plate_hits=PlateHitChecker(
            repo, plates, audit, profile, min_literals=entry_min, clock=clock
        ),
        purger=build_purger(repo, media, audit, deployments, archive, clock=clock),
        archive=archive,
        archive_search=search,
        watchlist_factory=watchlist_factory,
        recordings=recording_service(config, repo, audit, clock=clock),
        postevent=postevent_runner(config, repo, audit, deployments, clock=clock),
        evidence_factory=lambda: evidence_exporter(config, repo, media, audit, clock=clock),
        clock=clock,
    )


def stage_sinks(config: VigilConfig, services: Services, *, spool: str = OUTBOX_DIR) -> StageSinks:
    """Where each pipeline stage's output goes (see the module docstring, step 4): keyed,
    typed decisions into one outbox per process, which writes each through the recorders with
    its audit entries and buffers them while the database is away (vigil.system.outbox)."""
    repo = services.repo
    recorder = IdentificationRecorder(
        repo, services.media, services.audit, archive=services.archive, drift=services.drift
    )
    writer = DecisionWriter(repo, recorder=recorder, plates=services.plate_hits)
    options = config.storage.outbox
    outbox = Outbox(
        writer,
        config.system.data_dir / spool,
        memory_items=options.memory_items,
        spool_max_bytes=int(options.spool_max_mb * 1024 * 1024),
        direct_retry_s=options.direct_retry_s,
    )

    def store_crowd(sample: CrowdSample, alerts: list[Alert], key: str) -> None:
        outbox.submit(CrowdRecord(key, sample, tuple(alerts)))

    def store_crossings(counts: tuple[CrossingCount, ...], key: str) -> None:
        outbox.submit(CrossingRecord(key, counts))

    def store_plate(read: PlateRead, key: str) -> None:
        outbox.submit(PlateRecord(key, read))

    def store_sighting(sighting: Sighting, key: str) -> None:
        outbox.submit(SightingRecord(key, sighting))

    index = services.recordings.index if services.recordings else segment_index(config, repo)
    return StageSinks(
        recorder=recorder_factory(config, index),
        tamper=TamperAlerter(repo),
        crowd=store_crowd,
        plates=store_plate,
        sightings=store_sighting,
        crossings=store_crossings,
        identification=identification_factory(config, services, recorder, outbox),
        outbox=outbox,
    )


def identification_factory(
    config: VigilConfig,
    services: Services,
    recorder: IdentificationRecorder,
    sink: DecisionSink,
) -> Callable[[str, FacePipeline], CameraIdentification] | None:
    """Per face camera: the pure identifier between the deployment authority (shared by every
    camera) and the outbox in front of the recorder; ``None`` without a calibration (then
    nothing is ever compared)."""
    ident = config.faces.identification
    if not any("faces" in c.analytics for c in config.cameras if c.enabled):
        return None
    if ident.calibration_file is None:
        log.warning("no face calibration configured: live identification is off")
        return None
    false_alerts = FalseAlertModel.from_file(ident.calibration_file)
    authority = DeploymentAuthority(
        services.deployments, services.repo, false_alerts, ident.threshold
    )

    band = cascade_band(config.faces)

    def make(camera_id: str, pipeline: FacePipeline) -> CameraIdentification:
        identifier = FaceIdentifier(camera_id, pipeline, band=band)
        return CameraIdentification(identifier, authority, recorder, sink=sink)

    return make


def _face_rates(config: VigilConfig) -> Callable[[], FalseAlertModel | None] | None:
    """A loader of the face calibration (read when first needed, not at start-up), or
    ``None`` without a calibration file."""
    path = config.faces.identification.calibration_file
    if path is None:
        return None
    return lambda: FalseAlertModel.from_file(path)


def cascade_band(faces: FacesConfig) -> CascadeBand | None:
    """The calibrated cascade band when ``faces.cascade`` is on and the calibration has one for
    the configured cheap member; otherwise ``None`` (the full fusion runs), with the reason
    logged."""
    cfg, path = faces.cascade, faces.identification.calibration_file
    if not cfg.enabled or path is None or faces.embedder.backend != "fusion":
        return None
    band = CascadeBand.from_calibration(path, cfg.margin)
    if band is None:
        log.warning("face cascade off: %s has no cascade band (vigil calibrate writes one)", path)
        return None
    if band.cheap_member != cfg.cheap_member:
        log.warning(
            "face cascade off: the calibrated band is for %s, faces.cascade.cheap_member is %s",
            band.cheap_member,
            cfg.cheap_member,
        )
        return None
    return band


def notification_senders(config: VigilConfig, deliveries: DeliveryLog | None) -> list[SinkPart]:
    """Fresh webhook and MQTT senders for the configured targets (not started), each keeping
    its delivery record in ``deliveries``."""
    from vigil.notify.mqtt import MqttPublisher
    from vigil.notify.webhooks import WebhookSender

    n = config.notify
    senders: list[SinkPart] = [WebhookSender(h, deliveries=deliveries) for h in n.webhooks]
    if n.mqtt.enabled:
        cams = [c.id for c in config.cameras if c.enabled]
        senders.append(MqttPublisher(n.mqtt, cameras=cams, deliveries=deliveries))
    return senders


def recent_alerts(repo: Repository, window: timedelta) -> Callable[[], list[AlertEvent]]:
    """What a new notification leader replays: the alerts raised within ``window``, oldest
    first (its senders skip the delivered ones)."""

    def replay() -> list[AlertEvent]:
        found = repo.list_alerts(since=utc_now() - window, limit=500)
        return [AlertEvent(a) for a in sorted(found, key=lambda a: (a.raised_at, a.id))]

    return replay


def housekeeping(services: Services, config: VigilConfig, keeper: Startable) -> LeaderOnly:
    """The housekeeper, run by one process at a time among those that keep an archive index.

    Why not any process: the purge removes a lapsed template from the archive index of the
    process that runs it, and the index lives only where it was built (the head, or the embedded
    process); a purge run elsewhere would delete the rows and leave the vectors searchable in the
    head's files. So API-only processes (no index) never run it, and heads take turns under
    their own lock (on SQLite the one process always runs it).
    """
    return LeaderOnly(
        LeaderLock(services.repo.db, key=HOUSEKEEPING_LOCK_KEY),
        services.hub,
        tasks=[keeper],
        check_s=config.cluster.leader_check_s,
        name="housekeeping_leader",
    )


def notifiers(
    services: Services, config: VigilConfig, system: EmbeddedSystem | None
) -> list[Startable]:
    """The event watcher (every process: it feeds this process's WebSocket clients) and the
    webhook and MQTT senders, run only by the leader among every process sharing the database
    (:class:`LeaderOnly`), so each notification goes out once. On SQLite this process is
    always the leader, so the embedded mode sends everything, as before."""
    from vigil.notify.watcher import LOOKBACK, EventWatcher

    deliveries = DeliveryLog(services.repo.db)
    leader = LeaderOnly(
        LeaderLock(services.repo.db),
        services.hub,
        make_sinks=lambda: notification_senders(config, deliveries),
        replay=recent_alerts(services.repo, LOOKBACK),
        check_s=config.cluster.leader_check_s,
        name="notify_leader",
    )
    statuses = None
    if system is not None:
        running = system

        def statuses() -> list[tuple[str, str, str | None]]:
            return [(s.camera_id, str(s.state), s.last_error) for s in running.camera_statuses()]

    watcher = EventWatcher(
        services.repo, services.hub, statuses=statuses, poll_s=config.notify.poll_s
    )
    return [leader, watcher]


def sync_cameras(
    repo: Repository, config: VigilConfig, now: datetime, *, keep_enabled: bool = False
) -> None:
    """Make the cameras table match the config file's cameras (the file is the source).

    ``keep_enabled``: a camera already in the table keeps its ``enabled`` flag. A cluster's
    camera actors sync with it, because in cluster mode the table's flag is the desired state
    the scheduler follows: an actor that Ray restarts must not switch its camera back on.
    Without it (a head's start) the file's flag applies, except that a camera a person switched
    off (``camera.disable``, :meth:`Repository.cameras_switched_off`) stays off until switched
    on again (``vigil cameras enable``, ``PATCH /cameras/{id}``): a restart must not undo it.

    Nothing reads a camera's URL back from the table (sources are built from the config), so
    the repository stores it redacted: the resolved ``${ENV}`` credentials never reach the
    database, its backups or replicas. Encrypting them instead would only matter if something
    had to reconnect from the table alone, and would add a key to keep outside the data dir.
    """
    if keep_enabled:
        known = {c.id: c.enabled for c in repo.list_cameras()}
    else:
        known = dict.fromkeys(repo.cameras_switched_off(), False)
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
                plan_x=cam.location.x,
                plan_y=cam.location.y,
                analytics=tuple(cam.analytics),
                fps=cam.fps,
                enabled=known.get(cam.id, cam.enabled),
            )
        )


def with_table_flags(config: VigilConfig, repo: Repository) -> VigilConfig:
    """``config`` with each camera's ``enabled`` also requiring the table's flag, read once: the
    embedded mode builds its pipelines at start, so a switch made while it runs applies when it
    next starts (the cluster's runner follows the table while it runs)."""
    on = {c.id for c in repo.list_cameras() if c.enabled}
    cams = [c.model_copy(update={"enabled": c.enabled and c.id in on}) for c in config.cameras]
    return config.model_copy(update={"cameras": cams})


def _secret(config: VigilConfig) -> bytes:
    if config.api.secret_key is not None:
        return config.api.secret_key.get_secret_value().encode()
    path = config.system.data_dir / SECRET_FILE
    log.info(
        "api.secret_key is not set: using the generated key in %s (API processes on other "
        "machines need api.secret_key, or this data directory shared)",
        path,
    )
    return persisted_secret(path)


def persisted_secret(path: Path) -> bytes:
    """The server secret kept in ``path``, generated on first use (a 0600 file).

    Why keep it rather than draw a fresh one per start: sessions live in the database and
    survive a restart, but their CSRF tokens are HMACs under this secret, so a fresh key made
    every console POST fail after a restart while the session cookie stayed valid. Kept in the
    data directory, the key is as safe as the database next to it (whoever reads the data
    directory holds the sessions anyway). Several processes starting at once agree on one key:
    each writes its candidate to a private temporary file and links it into place, which fails
    if another got there first; everyone then reads what is in place. A key file that others
    may read is refused, as ``ssh`` refuses a readable private key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        raise ConfigError(f"{path} may be read by other users; chmod 600 it (it signs sessions)")
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path} holds no usable key (under 32 characters); delete it")
    return key.encode()
