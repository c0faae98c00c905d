"""Purge of non-match biometrics, retention timers and legal hold.

**Non-match purge.** The live identifier keeps a face track's crop and template in memory and
drops them when the track closes without a match. Whatever did reach the stores (a sighting
archived under a post-event search authorisation that has since lapsed, or rows left by a crash
between the write and the decision) is found by :meth:`Purger.purge_unmatched`: every face sighting
that still holds a crop or an embedding, is referred to by no alert, is not on legal hold, and is
not covered by an approved post-event authorisation for its camera and time loses its biometric
data (embedding rows deleted, their vectors removed from the FAISS archive index and zeroed on
disk, crop bytes deleted from the media store once no row refers to them). The sighting row itself,
which holds no biometric data, stays until its retention time.

**The archive is not optional wiring.** ``archive`` is a required argument: a purger built
without deciding what happens to the archive index would delete the database rows and leave the
same faces searchable in the index. Pass ``None`` only where no archive index exists;
:func:`vigil.system.governance.build_purger` is how the system and its tests build one.

**Retention.** :class:`RetentionPolicy` gives a time to keep alerts, sightings and media; records
linked to a case on legal hold are kept whatever their age. Each run appends one audit entry with
what it deleted. The audit log itself is never deleted by retention: deleting its head would be
indistinguishable from tampering; its size is bounded by archiving, not by deletion.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from vigil.core.domain import CaseLink, CaseRow, Role
from vigil.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from vigil.governance.actors import SYSTEM, Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex
from vigil.storage.governance import GovernanceStore
from vigil.storage.media import MediaStore
from vigil.storage.plates import PlateStore
from vigil.storage.recordings import RecordingStore

log = logging.getLogger(__name__)

CoverageCheck = Callable[[str, datetime, datetime], bool]


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of record is kept (legal hold overrides all of them)."""

    alerts: timedelta = timedelta(days=31)
    sightings: timedelta = timedelta(days=31)
    media: timedelta | None = None
    """Crops (alert probes, sighting crops) older than this are deleted while their records are
    kept; ``None``: crops go with their records only."""
    plate_reads: timedelta | None = None
    """Plate reads that hit no hotlist older than this are deleted (hits are kept for their
    hotlist's retention); ``None``: plate reads are not touched by retention."""

    def __post_init__(self) -> None:
        times = [self.alerts, self.sightings]
        times += [t for t in (self.media, self.plate_reads) if t is not None]
        if min(times) <= timedelta(0):
            raise ValidationError("retention times must be positive")


@dataclass(frozen=True, slots=True)
class PurgeResult:
    sightings: int
    vectors: int
    media: int


class Purger:
    """Deletes biometric data nobody may keep, and records past their retention time.

    Args:
        post_event_covers: ``(camera_id, start, end) -> bool``, true when an approved
            post-event search authorisation covers a sighting (then its biometrics are kept).
        archive: the sighting archive index the embeddings were added to (``None``: there is
            none); purged vector ids are removed from it and their rows zeroed on disk.
    """

    def __init__(
        self,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        *,
        post_event_covers: CoverageCheck,
        archive: ArchiveIndex | None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.store = GovernanceStore(repo.db)
        self.media = media
        self.audit = audit
        self.post_event_covers = post_event_covers
        self.archive = archive
        self.clock = clock

    def purge_unmatched(self, *, reason: str = "track closed without a match") -> PurgeResult:
        """Strip biometrics from closed face sightings that matched nothing (see module doc)."""
        now = self.clock()
        victims = [
            sid
            for sid, cam, start, end in self.store.unmatched_biometric_sightings(ended_before=now)
            if not self.post_event_covers(cam, start, end)
        ]
        if not victims:
            return PurgeResult(0, 0, 0)
        # The index first: if removing from it fails, the rows stay and the next run retries,
        # instead of rows gone and vectors still searchable. Then the rows and the audit entry
        # in one unit; files (which cannot roll back) once it has committed.
        self._remove_vectors(self.store.vector_ids_of(victims))
        with self.repo.db.transaction():
            vector_ids, keys = self.store.strip_biometrics(victims)
            orphans = self._orphans(keys)
            result = PurgeResult(len(victims), len(vector_ids), len(orphans))
            self.audit.append(
                SYSTEM.id,
                AuditAction.PURGE_SIGHTINGS,
                "sightings",
                reason,
                [
                    ("sightings_stripped", str(result.sightings)),
                    ("embeddings_deleted", str(result.vectors)),
                    ("media_deleted", str(result.media)),
                ],
            )
            self.repo.db.after_commit(lambda: self._delete_files(orphans))
        return result

    def _remove_vectors(self, vector_ids: Sequence[int]) -> None:
        """Remove purged embeddings from the archive index (rows zeroed and fsynced at once)."""
        if vector_ids and self.archive is not None:
            self.archive.remove(np.asarray(vector_ids, dtype=np.int64))

    def _orphans(self, keys: Sequence[str]) -> list[str]:
        """The keys no remaining row refers to (read inside the unit: sees its deletions)."""
        return sorted(k for k in set(keys) if not self.store.media_referenced(k))

    def _delete_files(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.media.delete(key)

    def apply_retention(self, policy: RetentionPolicy) -> dict[str, int]:
        """Delete alerts and sightings older than the policy allows, and crops older than its
        media time (legal hold kept)."""
        now = self.clock()
        with self.repo.db.transaction():
            alert_ids = self.store.expired_alerts(now - policy.alerts)
            keys = self.store.delete_alerts(alert_ids, with_sightings=False)
            # Sightings an expired alert held become expirable once it is gone. Their vectors
            # leave the index first (idempotent: if the unit then fails, the next run repeats it).
            sighting_ids = self.store.expired_sightings(now - policy.sightings)
            self._remove_vectors(self.store.vector_ids_of(sighting_ids))
            _, crop_keys = self.store.strip_biometrics(sighting_ids)
            self.store.delete_sightings(sighting_ids)
            detached = [] if policy.media is None else self.store.detach_media(now - policy.media)
            orphans = self._orphans([*keys, *crop_keys, *detached])
            counts = {
                "alerts": len(alert_ids),
                "sightings": len(sighting_ids),
                "crops_detached": len(detached),
                "media": len(orphans),
            }
            # Idempotency keys live as long as the alerts they guard (replays come within
            # minutes or hours, never after retention), so the table stays bounded.
            counts["record_keys"] = self.repo.prune_record_keys(now - policy.alerts)
            if policy.plate_reads is not None:
                counts["plate_reads"] = PlateStore(self.repo.db).delete_expired_reads(
                    now, policy.plate_reads
                )
            self.audit.append(
                SYSTEM.id,
                AuditAction.RETENTION_RUN,
                "retention",
                "retention timers",
                [(k, str(v)) for k, v in counts.items()],
            )
            self.repo.db.after_commit(lambda: self._delete_files(orphans))
        log.info("retention: %s", counts)
        return counts

    def open_case(self, actor: Actor, title: str, reason: str) -> CaseRow:
        """Open a case (on legal hold from the start): records linked to it outlive retention."""
        actor.require(Role.INVESTIGATOR, Role.SUPERVISOR, action="opening a case")
        if not title.strip():
            raise ValidationError("a case needs a title")
        case = CaseRow(uuid.uuid4().hex, title.strip()[:200], actor.id, self.clock())
        with self.repo.db.transaction():
            self.repo.add_case(case)
            self.audit.append(actor.id, AuditAction.CASE_OPEN, f"case:{case.id}", reason, [])
        return case

    def share_case(self, actor: Actor, case_id: str, user_id: str, reason: str) -> None:
        """Let a colleague read and add to a case (audited ``case.share``).

        Only the person who opened the case shares it (a case is visible to its owner, the
        people they share it with, and auditors), and only with someone who can work cases (an
        investigator or supervisor). Sharing again with the same person changes nothing but is
        recorded, so the chain shows every time someone decided it.
        """
        actor.require(Role.INVESTIGATOR, Role.SUPERVISOR, action="sharing a case")
        case = self.repo.get_case(case_id)
        if case.opened_by != actor.id:
            raise PermissionDeniedError("only the person who opened a case may share it")
        try:
            user = self.repo.get_user(user_id)
        except NotFoundError:
            raise ValidationError(f"no user {user_id!r} to share the case with") from None
        if user.disabled or not {Role.INVESTIGATOR, Role.SUPERVISOR} & set(user.roles):
            raise ValidationError(
                f"user {user.username!r} cannot work cases (needs investigator or supervisor)"
            )
        if user.id == actor.id:
            raise ValidationError("a case is already visible to the person who opened it")
        with self.repo.db.transaction():
            self.repo.share_case(case_id, user.id, actor.id, self.clock())
            self.audit.append(
                actor.id, AuditAction.CASE_SHARE, f"case:{case_id}", reason, [("with", user.id)]
            )

    def hold(self, actor: Actor, case_id: str, kind: str, target_id: str, reason: str) -> None:
        """Link a record to a case; alerts, sightings and plate reads of a held case are kept
        past retention (a plate read's ``target_id`` is its stored id, as plate search returns),
        and so is recorded footage of their camera and time, or a ``segment`` linked by id
        (see :mod:`vigil.storage.recordings`).
        An alert, sighting or plate read must exist (:class:`NotFoundError` otherwise): a hold
        on a mistyped id would protect nothing and say it did."""
        actor.require(Role.INVESTIGATOR, Role.SUPERVISOR, action="placing a legal hold")
        kinds = ("alert", "sighting", "plate_read", "search", "export", "segment")
        if kind not in kinds:
            raise ValidationError(f"kind must be {'|'.join(kinds)}, got {kind!r}")
        with self.repo.db.transaction():
            if self.repo.get_case(case_id).status != "open":
                raise ConflictError(f"case {case_id} is closed; reopen it before adding to it")
            if kind == "alert":
                self.repo.get_alert(target_id)
            elif kind == "sighting":
                self.repo.get_sighting(target_id)
            elif kind == "plate_read" and not PlateStore(self.repo.db).has_read(target_id):
                raise NotFoundError(f"plate read {target_id} not found")
            elif kind == "segment" and RecordingStore(self.repo.db).get(target_id) is None:
                raise NotFoundError(f"recorded segment {target_id} not found")
            self.repo.link_case(CaseLink(case_id, kind, target_id, actor.id, self.clock()))
            self.audit.append(
                actor.id,
                AuditAction.LEGAL_HOLD,
                f"{kind}:{target_id}",
                reason,
                [("case", case_id)],
            )
