"""Who may play recorded footage, how views are audited, and what retention deletes.

**Playback** (:meth:`RecordingService.clip`) is for the roles that watch cameras (operator,
supervisor, investigator); auditors and admins see no footage of people. Every view needs a
reason and is written to the audit chain (``recording.view``) *before* the clip is handed out:
a view whose entry cannot be written is refused, so there is no unaudited view. Footage shown to
anyone but an unmasking investigator has the camera's privacy masks burned in (a re-encode).
Unmasking (``recording.unmask``) needs the investigator role, a case the caller may work and a
reason. The route checks camera scope and case visibility (:mod:`vigil.api.scope`); this service
checks roles, the window and the case's existence.

Built clips are cached per (viewer, camera, window, masked) for ``cache_ttl_s``: a browser fetches
a video with many range requests, which read one file and write one audit entry (the one written
when the clip was built for that viewer), not one per request. The cache is bounded (oldest
files removed) and lives under the data directory.

**Retention** (:meth:`RecordingService.apply_retention`) deletes segments past their camera's
``record_retention_days`` and, for ``events`` cameras, segments with no alert, sighting or plate
read within ``recording.pre_s``/``post_s`` of them; segments a case holds are kept (see
:mod:`vigil.storage.recordings`). Rows and their audit entry commit in one transaction; files are
deleted after the commit (a crash in between leaves orphan files, never rows without files).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from vigil.config.recording import PrivacyMask, RecordingConfig, RecordMode
from vigil.config.settings import CameraConfig
from vigil.core.domain import Role
from vigil.errors import ValidationError
from vigil.governance.actors import SYSTEM, Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.recording.index import SegmentIndex
from vigil.recording.playback import build_clip, burn_masks, clip_window_utc
from vigil.storage import Repository

log = logging.getLogger(__name__)

VIEWERS = (Role.OPERATOR, Role.SUPERVISOR, Role.INVESTIGATOR)
UNMASKERS = (Role.INVESTIGATOR,)
DEFAULT_RETENTION = timedelta(days=31)
#: How far back the first pass after start looks for ``events`` cameras' quiet segments; later
#: passes continue where the previous one stopped. Quiet footage from a longer stop stays until
#: the camera's ordinary retention deletes it.
EVENTS_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class CameraRecording:
    """What the service needs of a camera's config."""

    mode: RecordMode
    retention: timedelta
    masks: tuple[PrivacyMask, ...] = ()


@dataclass(frozen=True, slots=True)
class Clip:
    """A built clip ready to serve."""

    path: Path
    camera_id: str
    start: datetime
    end: datetime
    masked: bool


class RecordingService:
    """Audited playback and retention of recorded segments (see the module docstring)."""

    def __init__(
        self,
        repo: Repository,
        audit: AuditLog,
        index: SegmentIndex,
        cameras: Mapping[str, CameraRecording],
        *,
        settings: RecordingConfig,
        cache_dir: Path,
        cache_ttl_s: float = 600.0,
        cache_files: int = 64,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.audit = audit
        self.index = index
        self.cameras = dict(cameras)
        self.settings = settings
        self.cache_dir = cache_dir
        self.cache_ttl_s = cache_ttl_s
        self.cache_files = cache_files
        self.clock = clock
        self._lock = threading.Lock()
        self._events_from: datetime | None = None  # where the next events-mode pass starts

    # -- playback -------------------------------------------------------------------------------

    def clip(
        self,
        actor: Actor,
        camera_id: str,
        start: datetime,
        end: datetime,
        reason: str,
        *,
        case_id: str | None = None,
        unmask: bool = False,
    ) -> Clip:
        """Audit the view, then build (or reuse) the clip; see the module docstring."""
        actor.require(*VIEWERS, action="playing recorded footage")
        start, end = clip_window_utc(start, end)
        if (end - start).total_seconds() > self.settings.max_clip_s:
            raise ValidationError(
                f"a clip may cover at most {self.settings.max_clip_s:.0f} s "
                f"(asked for {(end - start).total_seconds():.0f} s)"
            )
        if len(reason.strip()) < 3:
            raise ValidationError("a reason (at least 3 characters) is required to view footage")
        cam = self.cameras.get(camera_id)
        masks = cam.masks if cam is not None else ()
        details = [("start", start.isoformat()), ("end", end.isoformat())]
        if unmask:
            actor.require(*UNMASKERS, action="viewing footage without privacy masks")
            if not case_id:
                raise ValidationError("unmasked footage needs a case id")
            self.repo.get_case(case_id)  # NotFoundError for a case that does not exist
            details.append(("case", case_id))
        masked = bool(masks) and not unmask
        details.append(("masked", str(masked).lower()))
        cached = self._cached(actor.id, camera_id, start, end, masked)
        if cached.exists() and time.time() - cached.stat().st_mtime <= self.cache_ttl_s:
            return Clip(cached, camera_id, start, end, masked)  # this view's entry is written
        # Build before auditing: a window with no footage is a 404, not a view. The entry comes
        # before the clip is handed out; if it cannot be written the clip is deleted, so every
        # cached clip is one whose view is in the chain.
        self._build(camera_id, start, end, masks if masked else (), cached)
        action = AuditAction.RECORDING_UNMASK if unmask and masks else AuditAction.RECORDING_VIEW
        try:
            self.audit.append(actor.id, action, f"camera:{camera_id}", reason.strip(), details)
        except BaseException:
            cached.unlink(missing_ok=True)
            raise
        return Clip(cached, camera_id, start, end, masked)

    def _cached(
        self, user: str, camera_id: str, start: datetime, end: datetime, masked: bool
    ) -> Path:
        raw = f"{user}|{camera_id}|{start.isoformat()}|{end.isoformat()}|{masked}"
        return self.cache_dir / f"{hashlib.sha256(raw.encode()).hexdigest()[:32]}.mp4"

    def _build(
        self,
        camera_id: str,
        start: datetime,
        end: datetime,
        masks: Sequence[PrivacyMask],
        out: Path,
    ) -> None:
        with self._lock:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            self._evict()
            if not masks:
                build_clip(self.index, camera_id, start, end, out)
                return
            plain = out.with_name(out.stem + "-plain.mp4")
            try:
                build_clip(self.index, camera_id, start, end, plain)
                burn_masks(plain, out, masks)
            finally:
                plain.unlink(missing_ok=True)

    def _evict(self) -> None:
        """Remove clips older than the cache time, and the oldest beyond the cache size."""
        now = time.time()
        files = sorted(self.cache_dir.glob("*.mp4"), key=lambda p: p.stat().st_mtime)
        for i, path in enumerate(files):
            too_many = len(files) - i >= self.cache_files
            if too_many or now - path.stat().st_mtime > self.cache_ttl_s:
                path.unlink(missing_ok=True)

    # -- retention ------------------------------------------------------------------------------

    def apply_retention(self, *, limit: int = 10_000) -> dict[str, int]:
        """Delete expired and (``events`` mode) unneeded segments; audited when any went."""
        now = self.clock()
        cutoffs = {cid: now - cam.retention for cid, cam in self.cameras.items()}
        store = self.index.store
        events = [cid for cid, cam in self.cameras.items() if cam.mode == "events"]
        # An event reaches the database some seconds after it happened (outbox, track close):
        # only judge segments that ended well before any event that could still arrive.
        margin = timedelta(seconds=self.settings.pre_s + self.settings.post_s + 120)
        with self.repo.db.transaction():
            expired = store.expired(cutoffs, now - DEFAULT_RETENTION, limit=limit)
            judged_to = now - margin
            quiet, page_end = store.without_events(
                events,
                judged_to,
                timedelta(seconds=self.settings.pre_s),
                timedelta(seconds=self.settings.post_s),
                ended_after=self._events_from or judged_to - EVENTS_LOOKBACK,
                limit=limit,
            )
            victims = {r.id: r for r in [*expired, *quiet]}
            counts = {"expired": len(expired), "no_event": len({r.id for r in quiet})}
            # Judged segments stay judged (events that late are not waited for): the next pass
            # starts where this one stopped, so kept footage is not re-read every minute.
            next_from = judged_to if page_end is None else page_end
            if not victims:
                self._events_from = next_from
                return counts
            store.delete(list(victims))
            counts["bytes"] = sum(r.bytes for r in victims.values())
            self.audit.append(
                SYSTEM.id,
                AuditAction.RECORDING_RETENTION,
                "recordings",
                "recording retention",
                [(k, str(v)) for k, v in counts.items()],
            )
            paths = [self.index.path_of(r) for r in victims.values()]
            self.repo.db.after_commit(lambda: _unlink(paths))
        self._events_from = next_from
        log.info("recording retention: %s", counts)
        return counts


def _unlink(paths: Sequence[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            log.exception("could not delete segment file %s", path.name)


def camera_recordings(cameras: Sequence[CameraConfig]) -> dict[str, CameraRecording]:
    """The recording view of the configured cameras."""
    return {
        cam.id: CameraRecording(
            mode=cam.record,
            retention=timedelta(days=cam.record_retention_days),
            masks=tuple(cam.privacy_masks),
        )
        for cam in cameras
    }
