"""Watchlists and subjects: who may be searched for, why, from which photos, until when.

A watchlist has a category (wanted by a court, suspect of a serious offence, missing or vulnerable
person), a reason, an owner and an expiry. Subjects are enrolled from one or more photos; each
template records where the photo came from (provenance), when it was taken, who added it and
why. A photo is refused, with the reason, when it has no usable face, more than one face, or a
face below the quality bar: a bad enrolment photo makes wrongful matches likelier.

**Versioning.** Every change recomputes a content hash over the subjects and templates (ids,
labels, expiry and the SHA-256 of each template vector); deployments pin that hash, so a list
that changes after authorisation cannot be used under the old authorisation.

**Size limit.** The larger the list, the more false alerts per face scanned: the limit is the
largest N whose false-positive identification rate at the calibrated threshold stays at or below
the target (:meth:`FalseAlertModel.max_watchlist_size`).

**History.** The row keeps only the current version; every earlier one is in the audit chain
(each enrolment and removal entry names the version hash it produced), so :meth:`history` reads
the chain rather than a second, unprotected table.

**No harvesting from the archive.** Enrolment refuses photos that come from Vigil's own cameras:
bytes already held in the media store other than as an enrolment photo (sighting crops, alert
probes, frames), and provenance strings that point at archive records. Exact-byte detection is
defeated by re-encoding a crop; the provenance check and the audit entry (who enrolled what, from
where) are the other lines of defence.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from vigil.core.domain import Role, SubjectRow, TemplateRow, WatchlistRow
from vigil.core.records import AuditEntry, FaceObservation, FrameRef
from vigil.errors import (
    InputError,
    ModelError,
    NotFoundError,
    PolicyViolationError,
    ValidationError,
)
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, iter_entries, utc_now
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.faces.quality import face_size_px
from vigil.perception.image import decode_image
from vigil.storage import Repository
from vigil.storage.governance import GovernanceStore
from vigil.storage.media import MediaStore, media_key

log = logging.getLogger(__name__)

MANAGER_ROLES = (Role.SUPERVISOR, Role.INVESTIGATOR)
_ARCHIVE_PROVENANCE = re.compile(
    r"^\s*(media|sighting|alert|camera|frame|archive|vigil)\s*[:/]|\b[0-9a-f]{64}\b", re.I
)


class Category(StrEnum):
    WANTED_BY_COURT = "wanted_by_court"
    SERIOUS_OFFENCE_SUSPECT = "serious_offence_suspect"
    MISSING_OR_VULNERABLE = "missing_or_vulnerable"


@dataclass(frozen=True, slots=True)
class EnrolmentPhoto:
    """One photo offered for enrolment, with where it came from and when it was taken."""

    data: bytes
    provenance: str
    captured_at: datetime | None = None

    def __post_init__(self) -> None:
        if not self.provenance.strip():
            raise ValidationError("an enrolment photo needs its provenance")
        if self.captured_at is not None and self.captured_at.tzinfo is None:
            raise ValidationError("captured_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one photo was not enrolled."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class PhotoCheck:
    """What the enrolment gate thinks of one photo, before anything is stored.

    ``faces``: faces found; the rest describe the largest face (``None`` without one):
    ``face_px`` its size (eye-to-mouth span the quality bar uses), ``pose``, ``sharpness`` and
    ``quality`` the quality parts and score in [0, 1]. ``reason`` is the refusal enrolment would
    give, ``None`` when the photo would be accepted.
    """

    faces: int
    face_px: float | None
    pose: float | None
    sharpness: float | None
    quality: float | None
    min_quality: float
    min_face_px: int
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.reason is None


class EnrolmentRefusedError(ValidationError):
    """No photo of the request could be enrolled; ``refusals`` says why for each."""

    code = "enrolment_refused"

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        text = "; ".join(f"photo {r.index}: {r.reason}" for r in refusals)
        super().__init__(f"enrolment refused: {text}")
        self.refusals = list(refusals)


class WatchlistService:
    """Create watchlists, enrol and remove subjects, keep versions and limits.

    The API and ``vigil watchlists`` both call this service (built by
    :func:`vigil.system.governance.watchlist_factory`), so the rules live here only.

    Args:
        pipeline: the face pipeline enrolment photos go through; ``None`` with
            ``load_pipeline`` loads it on the first enrolment (creating a list or removing a
            subject then needs no face models).
    """

    def __init__(
        self,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        pipeline: FacePipeline | None,
        *,
        max_size: Callable[[], int],
        model: str,
        clock: Callable[[], datetime] = utc_now,
        load_pipeline: Callable[[], FacePipeline] | None = None,
    ) -> None:
        self.repo = repo
        self.store = GovernanceStore(repo.db)
        self.media = media
        self.audit = audit
        self._pipeline = pipeline
        self._load_pipeline = load_pipeline
        self.max_size = max_size
        self.model = model
        self.clock = clock

    @property
    def pipeline(self) -> FacePipeline:
        """The face pipeline (loaded on first use when built with ``load_pipeline``)."""
        if self._pipeline is None:
            if self._load_pipeline is None:
                raise ModelError("enrolment needs the face pipeline and none was configured")
            self._pipeline = self._load_pipeline()
        return self._pipeline

    def create(
        self,
        actor: Actor,
        *,
        name: str,
        category: Category,
        reason: str,
        expires_at: datetime,
    ) -> str:
        """Create an empty watchlist owned by ``actor``; an expiry is mandatory."""
        actor.require(*MANAGER_ROLES, action="creating a watchlist")
        if not reason.strip() or not name.strip():
            raise ValidationError("a watchlist needs a name and a reason")
        now = self.clock()
        if expires_at <= now:
            raise ValidationError("a watchlist's expiry must be in the future")
        wl = WatchlistRow(
            id=uuid.uuid4().hex,
            name=name,
            category=Category(category).value,
            owner_id=actor.id,
            created_at=now,
            reason=reason,
            expires_at=expires_at,
            version=0,
            max_size=self.max_size(),
        )
        with self.repo.db.transaction():
            self.repo.add_watchlist(wl)
            self.audit.append(
                actor.id,
                AuditAction.WATCHLIST_CREATE,
                f"watchlist:{wl.id}",
                reason,
                [
                    ("category", wl.category),
                    ("expires_at", expires_at.isoformat()),
                    ("max_size", str(wl.max_size)),
                ],
            )
        return wl.id

    def enrol(
        self,
        actor: Actor,
        watchlist_id: str,
        *,
        label: str,
        photos: Sequence[EnrolmentPhoto],
        reason: str,
        expires_at: datetime | None = None,
    ) -> str:
        """Enrol one subject from ``photos``; every photo must pass or the whole request fails.

        Raises:
            EnrolmentRefusedError: a photo has no face, several faces or too low quality.
            PolicyViolationError: a photo comes from the camera archive, the list expired, or
                the list would exceed its size limit.
        """
        actor.require(*MANAGER_ROLES, action="enrolling a subject")
        if not reason.strip() or not label.strip() or not photos:
            raise ValidationError("enrolment needs a label, a reason and at least one photo")
        wl = self.repo.get_watchlist(watchlist_id)
        now = self.clock()
        if wl.expires_at is not None and wl.expires_at <= now:
            raise PolicyViolationError(f"watchlist {watchlist_id} has expired")
        target = f"watchlist:{watchlist_id}"
        try:
            for photo in photos:
                self._refuse_harvested(photo)
            vectors, qualities, refusals = self._templates(photos)
        except PolicyViolationError as exc:
            self.audit.append(actor.id, AuditAction.WATCHLIST_ENROL_REFUSED, target, exc.message)
            raise
        if refusals:
            err = EnrolmentRefusedError(refusals)
            self.audit.append(actor.id, AuditAction.WATCHLIST_ENROL_REFUSED, target, err.message)
            raise err
        size = len(self.repo.templates_for_watchlist(watchlist_id))
        limit = wl.max_size if wl.max_size is not None else self.max_size()
        if size + len(vectors) > limit:
            msg = (
                f"watchlist {watchlist_id} would hold {size + len(vectors)} templates; its limit "
                f"for the target false-alert rate is {limit}"
            )
            self.audit.append(actor.id, AuditAction.WATCHLIST_ENROL_REFUSED, target, msg)
            raise PolicyViolationError(msg)
        subject = SubjectRow(
            uuid.uuid4().hex, watchlist_id, label, actor.id, now, reason, expires_at
        )
        # Photos are stored first (files cannot roll back); the subject, its templates, the
        # version bump and the audit entry then commit together, or the new photos are removed.
        created = [not self.media.exists(media_key(p.data)) for p in photos]
        keys = [self.media.put(p.data) for p in photos]
        try:
            with self.repo.db.transaction():
                self._store_subject(
                    actor, subject, photos=photos, vectors=vectors, qualities=qualities, keys=keys
                )
        except BaseException:
            for key, new in zip(keys, created, strict=True):
                if new:
                    self.media.delete(key)
            raise
        return subject.id

    def _store_subject(
        self,
        actor: Actor,
        subject: SubjectRow,
        *,
        photos: Sequence[EnrolmentPhoto],
        vectors: Sequence[npt.NDArray[np.float32]],
        qualities: Sequence[float],
        keys: Sequence[str],
    ) -> None:
        watchlist_id, reason, now = subject.watchlist_id, subject.reason, subject.created_at
        self.repo.add_subject(subject)
        rows = []
        for photo, vec, q, key in zip(photos, vectors, qualities, keys, strict=True):
            rows.append(
                TemplateRow(
                    id=uuid.uuid4().hex,
                    subject_id=subject.id,
                    model=self.model,
                    vector=vec,
                    provenance=photo.provenance,
                    quality=q,
                    added_by=actor.id,
                    created_at=now,
                    image_key=key,
                    captured_at=photo.captured_at,
                    reason=reason,
                )
            )
        self.repo.add_templates(rows)
        version = self._bump_version(watchlist_id)
        self.audit.append(
            actor.id,
            AuditAction.WATCHLIST_ENROL,
            f"watchlist:{watchlist_id}",
            reason,
            [("subject", subject.id), ("templates", str(len(rows))), ("version", version)]
            + [(f"provenance_{i}", p.provenance[:200]) for i, p in enumerate(photos)],
        )

    def remove_subject(self, actor: Actor, watchlist_id: str, subject_id: str, reason: str) -> None:
        """Remove a subject, their templates and enrolment photos; bumps the version.

        Raises:
            NotFoundError: the watchlist does not exist or the subject is not on it.
        """
        actor.require(*MANAGER_ROLES, action="removing a subject")
        if not reason.strip():
            raise ValidationError("removing a subject needs a reason")
        with self.repo.db.transaction():  # rows and entry together; files once committed
            self.repo.get_watchlist(watchlist_id)
            if subject_id not in {s.id for s in self.repo.list_subjects(watchlist_id)}:
                raise NotFoundError(f"no subject {subject_id!r} in watchlist {watchlist_id!r}")
            keys = [
                t.image_key
                for t in self.repo.templates_for_watchlist(watchlist_id)
                if t.subject_id == subject_id and t.image_key
            ]
            self.repo.delete_subject(subject_id)
            orphans = sorted(k for k in set(keys) if not self.store.media_referenced(k))
            version = self._bump_version(watchlist_id)
            self.audit.append(
                actor.id,
                AuditAction.WATCHLIST_REMOVE_SUBJECT,
                f"watchlist:{watchlist_id}",
                reason,
                [("subject", subject_id), ("version", version)],
            )
            self.repo.db.after_commit(lambda: self._delete_media(orphans))

    def expire(self, actor: Actor, watchlist_id: str, reason: str) -> str:
        """End a watchlist now (its expiry moves to now; the version changes, so a deployment
        pinned to the old version stops using it); returns the new version hash.

        Raises:
            NotFoundError: no such watchlist.
            PolicyViolationError: it has already expired.
        """
        actor.require(*MANAGER_ROLES, action="expiring a watchlist")
        if not reason.strip():
            raise ValidationError("expiring a watchlist needs a reason")
        from vigil.storage.console import ConsoleStore

        now = self.clock()
        with self.repo.db.transaction():
            wl = self.repo.get_watchlist(watchlist_id)
            if wl.expires_at is not None and wl.expires_at <= now:
                raise PolicyViolationError(f"watchlist {watchlist_id} has already expired")
            ConsoleStore(self.repo.db).set_watchlist_expiry(watchlist_id, now)
            version = self._bump_version(watchlist_id)
            self.audit.append(
                actor.id,
                AuditAction.WATCHLIST_EXPIRE,
                f"watchlist:{watchlist_id}",
                reason,
                [("expired_at", now.isoformat()), ("version", version)],
            )
        return version

    def check_photo(self, data: bytes) -> PhotoCheck:
        """Run one photo through the enrolment gate (same decoder, detector, quality bar and
        refusal reasons as :meth:`enrol`) and say what it would decide. Stores and audits
        nothing; the photo and its embedding are dropped on return."""
        pipe = self.pipeline
        bars = (pipe.min_quality, pipe.min_face_px)
        try:
            image = decode_image(data, name="photo")
        except (InputError, ValidationError) as exc:
            return PhotoCheck(
                0, None, None, None, None, *bars, reason=f"unreadable image: {exc.message}"
            )
        h, w = image.shape[:2]
        found = pipe.analyse(image, FrameRef("enrolment-check", self.clock(), 0, w, h))
        n = len(found.observations)
        if n == 0:
            return PhotoCheck(0, None, None, None, None, *bars, reason="no face found")
        sizes = [face_size_px(o.landmarks) for o in found.observations]
        i = int(np.argmax(sizes))
        q, obs = found.qualities[i], found.observations[i]
        reason = None
        if n > 1:
            reason = f"{n} faces found; a photo must show one person"
        elif not found.usable[0] or obs.embedding is None:
            reason = self._why_unusable(q.score, obs)
        return PhotoCheck(
            n,
            round(sizes[i], 1),
            round(q.pose, 3),
            round(q.sharpness, 3),
            round(q.score, 3),
            *bars,
            reason=reason,
        )

    def _delete_media(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.media.delete(key)

    def history(self, watchlist_id: str) -> list[AuditEntry]:
        """Every change of one watchlist, oldest first, read from the audit chain.

        Trade-off: this scans the whole chain (page by page, bounded memory); a chain of
        millions of entries makes it slow, which is acceptable for an occasional review and
        keeps the history where it cannot be edited unnoticed.
        """
        self.repo.get_watchlist(watchlist_id)
        target = f"watchlist:{watchlist_id}"
        return [e for e in iter_entries(self.audit.store) if e.target == target]

    # -- helpers --------------------------------------------------------------------------------

    def _refuse_harvested(self, photo: EnrolmentPhoto) -> None:
        if _ARCHIVE_PROVENANCE.search(photo.provenance):
            raise PolicyViolationError(
                f"provenance {photo.provenance[:80]!r} points at the camera archive; faces "
                "harvested from Vigil's cameras may not be enrolled"
            )
        key = media_key(photo.data)
        if self.media.exists(key) and not self._only_enrolment_photo(key):
            raise PolicyViolationError(
                "this image is held in the camera archive (a sighting crop, alert probe or "
                "frame); faces harvested from Vigil's cameras may not be enrolled"
            )

    def probe_template(self, data: bytes) -> np.ndarray:
        """The template of a search probe photo, under the enrolment rules (one usable face).

        The photo is neither stored nor audited here (the search that uses it is); a refusal says
        why, as for enrolment.
        """
        photo = EnrolmentPhoto(data, "search probe (not stored)", None)
        vectors, _, refusals = self._templates([photo])
        if refusals:
            raise ValidationError(f"probe photo refused: {refusals[0].reason}")
        return vectors[0]

    def _only_enrolment_photo(self, key: str) -> bool:
        refs = self.store.media_references(key)
        return refs["templates"] > 0 and refs["alerts"] == 0 and refs["sightings"] == 0

    def _templates(
        self, photos: Sequence[EnrolmentPhoto]
    ) -> tuple[list[np.ndarray], list[float], list[Refusal]]:
        vectors, qualities, refusals = [], [], []
        for i, photo in enumerate(photos):
            try:
                image = decode_image(photo.data, name=f"photo {i}")
            except (InputError, ValidationError) as exc:  # decode_image raises InputError
                refusals.append(Refusal(i, f"unreadable image: {exc.message}"))
                continue
            h, w = image.shape[:2]
            frame = FrameRef("enrolment", self.clock(), 0, w, h)
            found = self.pipeline.analyse(image, frame)
            n = len(found.observations)
            if n == 0:
                refusals.append(Refusal(i, "no face found"))
            elif n > 1:
                refusals.append(Refusal(i, f"{n} faces found; a photo must show one person"))
            elif not found.usable[0] or found.observations[0].embedding is None:
                refusals.append(
                    Refusal(i, self._why_unusable(found.qualities[0].score, found.observations[0]))
                )
            else:
                obs = found.observations[0]
                assert obs.embedding is not None
                vectors.append(obs.embedding)
                qualities.append(obs.quality)
        return vectors, qualities, refusals

    def _why_unusable(self, quality: float, obs: FaceObservation) -> str:
        size = face_size_px(obs.landmarks)
        if quality < self.pipeline.min_quality:
            return f"face quality {quality:.2f} is below the bar {self.pipeline.min_quality:.2f}"
        return f"face is {size:.0f} px, below the {self.pipeline.min_face_px} px quality bar"

    def _bump_version(self, watchlist_id: str) -> str:
        wl = self.repo.get_watchlist(watchlist_id)
        digest = version_hash(
            wl,
            self.repo.list_subjects(watchlist_id),
            self.repo.templates_for_watchlist(watchlist_id),
        )
        self.repo.set_watchlist_version(watchlist_id, wl.version + 1, digest)
        return digest


def version_hash(
    wl: WatchlistRow, subjects: Sequence[SubjectRow], templates: Sequence[TemplateRow]
) -> str:
    """Content hash of a watchlist's membership (empty string for an empty list)."""
    if not templates:
        return ""
    h = hashlib.sha256()
    h.update(f"{wl.id}|{wl.category}|{wl.expires_at}".encode())
    for s in sorted(subjects, key=lambda s: s.id):
        h.update(f"|s:{s.id}:{s.label}:{s.expires_at}".encode())
    for t in sorted(templates, key=lambda t: t.id):
        vec = hashlib.sha256(np.asarray(t.vector, np.float32).tobytes()).hexdigest()
        h.update(f"|t:{t.id}:{t.subject_id}:{t.model}:{vec}".encode())
    return h.hexdigest()
