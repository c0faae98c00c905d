"""Plate hotlists and plate_hit alerts: who may list a plate, and what a hit raises.

A **hotlist** (stolen vehicles, an AMBER alert, a warrant) has a priority (0-100: the most
urgent list wins when a plate is on several), a reason, an owner, an optional expiry and a
retention time for its hits. Its **entries** are exact plates (``AB1234``) or wildcards (``?``
one character, ``*`` any run: ``AB?12*`` for a partial plate from a witness). Supervisors and
investigators manage lists; every change (create, delete, add or remove an entry) is appended to
the audit chain with its reason.

:class:`PlateHitChecker` is the sink of the live plate stage: it stores each fused read, compares
it with the active entries (confusables folded by the region profile, so an OCR ``8``/``B`` slip
still hits) and, on a hit, marks the read (kept for the list's retention instead of the short
retention of reads that hit nothing) and raises a ``plate_hit`` alert. The alert is stored and
audited exactly like a face alert (``alert.raise``) and verified by the same
:class:`~vigil.governance.verification.VerificationService`; by default one confirmation makes it
actionable (``plates.hit_confirmations``), because a plate is checked against the vehicle, not a
person's face.

An entry must name a plate, not a population: at least ``min_literals`` fixed characters
(``plates.entry_min_literals``, checked by
:func:`~vigil.perception.plates.match.require_specific`, the rule plate search uses too). An
entry stored before that rule is skipped by the checker, loudly, so ``?*`` cannot turn every
passing vehicle into an alert and keep every read for the list's retention. A hit whose alert
people reject keeps its read only for the short retention (:meth:`PlateStore.delete_expired_reads`).

Trade-off: the entries are cached and reloaded every ``refresh_s`` seconds, so a new entry can
take that long to hit, in exchange for no database query per vehicle.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from vigil.core.domain import HotlistEntryRow, HotlistRow, Role
from vigil.core.records import Alert, AlertKind, PlateRead
from vigil.errors import ConflictError, ValidationError
from vigil.governance.actors import SYSTEM, Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.perception.plates.match import (
    is_wildcard,
    literal_count,
    pattern_distance,
    require_specific,
)
from vigil.perception.plates.profiles import RegionProfile
from vigil.storage import Repository
from vigil.storage.plates import PlateStore

log = logging.getLogger(__name__)
MANAGERS = (Role.SUPERVISOR, Role.INVESTIGATOR)


def _reason(reason: str, what: str) -> str:
    if not reason.strip():
        raise ValidationError(f"{what} needs a reason")
    return reason.strip()[:2000]


class HotlistService:
    """Create, change and delete hotlists, each change audited (see the module docstring)."""

    def __init__(
        self,
        store: PlateStore,
        audit: AuditLog,
        *,
        min_literals: int = 4,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.audit = audit
        self.min_literals = min_literals
        self.clock = clock

    def create(
        self,
        actor: Actor,
        *,
        name: str,
        priority: int,
        reason: str,
        retention_days: float,
        expires_at: datetime | None = None,
    ) -> HotlistRow:
        actor.require(*MANAGERS, action="creating a hotlist")
        why = _reason(reason, "a hotlist")
        if not 0 <= priority <= 100:
            raise ValidationError(f"priority must be in [0, 100], got {priority}")
        if not 0 < retention_days <= 3650:
            raise ValidationError(f"retention_days must be in (0, 3650], got {retention_days}")
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise ValidationError("expires_at must be in the future")
        if not name.strip():
            raise ValidationError("a hotlist needs a name")
        row = HotlistRow(
            id=uuid.uuid4().hex,
            name=name.strip()[:200],
            priority=priority,
            reason=why,
            owner_id=actor.id,
            retention_days=retention_days,
            created_at=now,
            expires_at=expires_at,
        )
        with self.store.db.transaction():
            self.store.add_hotlist(row)
            self.audit.append(
                actor.id,
                AuditAction.HOTLIST_CREATE,
                f"hotlist:{row.id}",
                why,
                [
                    ("priority", str(priority)),
                    ("retention_days", f"{retention_days:g}"),
                    ("expires_at", expires_at.isoformat() if expires_at else ""),
                ],
            )
        return row

    def delete(self, actor: Actor, hotlist_id: str, reason: str) -> None:
        actor.require(*MANAGERS, action="deleting a hotlist")
        why = _reason(reason, "deleting a hotlist")
        with self.store.db.transaction():
            self.store.get_hotlist(hotlist_id)
            self.store.delete_hotlist(hotlist_id)
            self.audit.append(
                actor.id, AuditAction.HOTLIST_DELETE, f"hotlist:{hotlist_id}", why, []
            )

    def add_entry(
        self,
        actor: Actor,
        hotlist_id: str,
        pattern: str,
        reason: str,
        *,
        expires_at: datetime | None = None,
    ) -> HotlistEntryRow:
        """Add an exact or wildcard plate; :class:`ConflictError` if the list already has it,
        :class:`ValidationError` if it has fewer than ``min_literals`` fixed characters."""
        actor.require(*MANAGERS, action="changing a hotlist")
        why = _reason(reason, "a hotlist entry")
        text = require_specific(pattern, min_literals=self.min_literals, what="hotlist entry")
        self.store.get_hotlist(hotlist_id)
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise ValidationError("expires_at must be in the future")
        row = HotlistEntryRow(uuid.uuid4().hex, hotlist_id, text, why, actor.id, now, expires_at)
        with self.store.db.transaction():
            if not self.store.add_entry(row):
                raise ConflictError(f"hotlist {hotlist_id} already holds {text}")
            # The plate itself is in the entry row, not in the audit chain (which is kept forever).
            self.audit.append(
                actor.id,
                AuditAction.HOTLIST_ADD_ENTRY,
                f"hotlist:{hotlist_id}",
                why,
                [("entry", row.id), ("wildcard", str(is_wildcard(text)).lower())],
            )
        return row

    def remove_entry(self, actor: Actor, hotlist_id: str, entry_id: str, reason: str) -> None:
        actor.require(*MANAGERS, action="changing a hotlist")
        why = _reason(reason, "removing a hotlist entry")
        with self.store.db.transaction():
            self.store.delete_entry(hotlist_id, entry_id)
            self.audit.append(
                actor.id,
                AuditAction.HOTLIST_REMOVE_ENTRY,
                f"hotlist:{hotlist_id}",
                why,
                [("entry", entry_id)],
            )


class PlateHitChecker:
    """Store fused plate reads; raise a plate_hit alert for a read on a hotlist.

    Args:
        profile: region whose confusable folding both sides are compared under.
        refresh_s: seconds the active entries are cached (see the module docstring).
    """

    def __init__(
        self,
        repo: Repository,
        store: PlateStore,
        audit: AuditLog,
        profile: RegionProfile,
        *,
        min_literals: int = 4,
        refresh_s: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.store = store
        self.audit = audit
        self.profile = profile
        self.min_literals = min_literals
        self.refresh_s = refresh_s
        self.clock = clock
        self._entries: list[tuple[HotlistRow, HotlistEntryRow, str]] = []
        self._loaded = -float("inf")
        self._lock = threading.Lock()
        self.reads = 0
        self.hits = 0

    def __call__(self, read: PlateRead) -> Alert | None:
        """Store ``read``; returns the alert raised when it hits a hotlist.

        A hit is stored as one unit: the read, its hit mark, the alert and the alert's audit
        entry commit together (a read marked as a hit without its recorded alert would be kept
        for the hotlist's retention with no trace of why)."""
        self.reads += 1
        hit = self.match(read.text)
        if hit is None:
            self.repo.add_plate_reads([read])
            return None
        hotlist, entry = hit

        def store() -> Alert:
            self.repo.add_plate_reads([read])
            alert = self._raise(read, hotlist, entry)
            self.store.mark_hit(read, hotlist.id, alert.id)
            return alert

        alert = self.store.db.unit(store)  # re-run whole while the database is away
        self.hits += 1
        return alert

    def match(self, text: str) -> tuple[HotlistRow, HotlistEntryRow] | None:
        """The most urgent active entry ``text`` matches (exact or wildcard), or ``None``."""
        canon = self.profile.canonical(text)
        for hotlist, entry, pattern in self._active():
            if pattern_distance(pattern, canon) == 0:
                return hotlist, entry
        return None

    def _active(self) -> list[tuple[HotlistRow, HotlistEntryRow, str]]:
        with self._lock:
            if time.monotonic() - self._loaded >= self.refresh_s:
                self._entries = self._specific(self.store.active_entries(self.clock()))
                self._loaded = time.monotonic()
            return self._entries

    def _specific(
        self, entries: list[tuple[HotlistRow, HotlistEntryRow]]
    ) -> list[tuple[HotlistRow, HotlistEntryRow, str]]:
        """The entries specific enough to hit. An entry stored before ``min_literals`` was
        enforced (``?*`` matched every vehicle) is skipped, loudly: its "hits" would raise an
        alert on everyone and keep every read for the list's retention."""
        out = []
        for h, e in entries:
            if literal_count(e.pattern) < self.min_literals:
                log.warning(
                    "hotlist %s entry %s has %d fixed character(s), fewer than %d: it raises "
                    "no hits; remove it and add a more specific one",
                    h.id,
                    e.id,
                    literal_count(e.pattern),
                    self.min_literals,
                )
                continue
            out.append((h, e, self._canon_pattern(e.pattern)))
        return out

    def _canon_pattern(self, pattern: str) -> str:
        return "".join(c if c in "?*" else self.profile.canonical(c) or c for c in pattern)

    def _raise(self, read: PlateRead, hotlist: HotlistRow, entry: HotlistEntryRow) -> Alert:
        key = f"{read.camera_id}|{read.read_at.isoformat()}|{read.text}|{read.track_id}|{entry.id}"
        alert = Alert(
            id="plate-" + hashlib.sha256(key.encode()).hexdigest()[:24],
            kind=AlertKind.PLATE_HIT,
            camera_id=read.camera_id,
            raised_at=read.read_at,
            score=read.confidence,
            detail=f"plate={read.text} hotlist={hotlist.id} entry={entry.pattern} "
            f"priority={hotlist.priority}",
        )
        if self.repo.add_alert(alert):
            self.audit.append(
                SYSTEM.id,
                AuditAction.ALERT_RAISE,
                f"alert:{alert.id}",
                "fused plate read matches a hotlist entry",
                [
                    ("kind", AlertKind.PLATE_HIT.value),
                    ("hotlist", hotlist.id),
                    ("entry", entry.id),
                    ("priority", str(hotlist.priority)),
                    ("camera", read.camera_id),
                    ("confidence", f"{read.confidence:.3f}"),
                ],
            )
            log.warning(
                "plate_hit alert %s on camera %s (hotlist priority %d): a lead to confirm",
                alert.id,
                read.camera_id,
                hotlist.priority,
            )
        return alert
