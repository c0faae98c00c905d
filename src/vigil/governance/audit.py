"""The tamper-evident audit chain: who did what to which record, why, and when.

Every watchlist change, deployment decision, alert decision, search, view of a biometric image,
export and setting change appends one :class:`~vigil.core.records.AuditEntry`. Each entry's
``entry_hash`` is the SHA-256 of a canonical encoding of its fields *including* ``prev_hash``, the
hash of the entry before it, so editing, deleting, inserting or reordering any entry breaks the
chain at that point and :func:`verify_chain` names the first broken link.

What the chain cannot show on its own is a cut at the *end* (the newest entries deleted): the
shortened chain is still internally consistent. :class:`AuditLog` therefore keeps an **anchor**,
the newest ``(seq, entry_hash)``, outside the database (a small file; an operator may also copy
it elsewhere, print it in a report or publish it), and verification against the anchor detects a
truncated tail.

Entries hold no biometric data: :func:`check_details` refuses keys that name biometric payloads
and values that look like vectors or images, so a careless caller cannot leak a template into a
log that auditors read.

Canonical encoding (stable across versions; changing it would invalidate existing chains):
JSON of ``[seq, at, actor, action, target, reason, prev_hash, details]`` with ``at`` as UTC ISO
8601 with microseconds, ``details`` a list of ``[key, value]`` string pairs in the given order,
``ensure_ascii=True`` and no whitespace.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from vigil.core.records import AuditEntry
from vigil.errors import ConflictError, ValidationError

log = logging.getLogger(__name__)

GENESIS = "0" * 64
MAX_DETAIL_VALUE = 256
_FORBIDDEN_KEYS = re.compile(
    r"^(embedding|vector|template_data|pixels|image_bytes|crop_bytes)s?$|_vector$"
)
_NUMBERS = re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?")


class AuditAction(StrEnum):
    """Every action the chain records. Values are stable strings (reports group by them)."""

    WATCHLIST_CREATE = "watchlist.create"
    WATCHLIST_ENROL = "watchlist.enrol"
    WATCHLIST_ENROL_REFUSED = "watchlist.enrol_refused"
    WATCHLIST_REMOVE_SUBJECT = "watchlist.remove_subject"
    DEPLOYMENT_REQUEST = "deployment.request"
    DEPLOYMENT_URGENT_START = "deployment.urgent_start"
    DEPLOYMENT_APPROVE = "deployment.approve"
    DEPLOYMENT_REFUSE = "deployment.refuse"
    DEPLOYMENT_DEADLINE_MISSED = "deployment.deadline_missed"
    DEPLOYMENT_EXPIRE = "deployment.expire"
    DEPLOYMENT_REVOKE = "deployment.revoke"
    DEPLOYMENT_PURGE = "deployment.purge"
    DEPLOYMENT_SCAN_SUMMARY = "deployment.scan_summary"
    ALERT_RAISE = "alert.raise"
    ALERT_CONFIRM = "alert.confirm"
    ALERT_REJECT = "alert.reject"
    ALERT_ACTIONABLE = "alert.actionable"
    ALERT_OUTCOME = "alert.outcome"
    HOTLIST_CREATE = "hotlist.create"
    HOTLIST_DELETE = "hotlist.delete"
    HOTLIST_ADD_ENTRY = "hotlist.add_entry"
    HOTLIST_REMOVE_ENTRY = "hotlist.remove_entry"
    SEARCH = "search.run"
    SEARCH_REFUSED = "search.refused"
    ACCESS_REFUSED = "access.refused"  # a role, scope or camera refusal (the caller got 403/404)
    BIOMETRIC_VIEW = "media.view_biometric"
    EXPORT = "export.create"
    SETTING_CHANGE = "setting.change"
    PURGE_SIGHTINGS = "purge.sightings"
    RETENTION_RUN = "retention.run"
    LEGAL_HOLD = "case.legal_hold"
    CASE_OPEN = "case.open"
    CASE_SHARE = "case.share"
    AUDIT_VERIFY = "audit.verify"


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(  # noqa: PLR0917 - the fields of an entry, in canonical order
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    reason: str,
    prev_hash: str,
    details: Sequence[tuple[str, str]],
) -> bytes:
    """The exact bytes an entry's hash covers (see the module docstring)."""
    doc = [seq, _iso(at), actor, action, target, reason, prev_hash, [list(p) for p in details]]
    return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def entry_hash_of(entry: AuditEntry) -> str:
    """Recompute an entry's hash from its fields (ignores the stored ``entry_hash``)."""
    raw = canonical_bytes(
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.target,
        entry.reason,
        entry.prev_hash,
        entry.details,
    )
    return hashlib.sha256(raw).hexdigest()


def check_details(details: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Validate audit details: short strings, no biometric payloads. Returns them as a tuple.

    Raises:
        ValidationError: a key names a biometric payload, or a value is long or vector-like.
    """
    out = []
    for raw_key, raw_value in details:
        key, value = str(raw_key), str(raw_value)
        if _FORBIDDEN_KEYS.search(key.lower()):
            raise ValidationError(f"audit detail {key!r} would hold biometric data; not allowed")
        if len(value) > MAX_DETAIL_VALUE:
            raise ValidationError(
                f"audit detail {key!r} is {len(value)} characters (limit {MAX_DETAIL_VALUE}); "
                "audit entries hold references, never payloads"
            )
        if len(_NUMBERS.findall(value)) > 8:
            raise ValidationError(f"audit detail {key!r} looks like a vector; not allowed")
        out.append((key, value))
    return tuple(out)


def make_entry(
    prev: AuditEntry | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str,
    reason: str,
    details: Iterable[tuple[str, str]] = (),
) -> AuditEntry:
    """The next link after ``prev`` (``None``: the first entry, seq 0, prev hash all zeros)."""
    seq = 0 if prev is None else prev.seq + 1
    prev_hash = GENESIS if prev is None else prev.entry_hash
    det = check_details(details)
    digest = hashlib.sha256(
        canonical_bytes(seq, at, actor, action, target, reason, prev_hash, det)
    ).hexdigest()
    return AuditEntry(seq, at, actor, action, target, reason, prev_hash, digest, det)


@dataclass(frozen=True, slots=True)
class Anchor:
    """The newest link as recorded outside the database: detects a truncated tail."""

    seq: int
    entry_hash: str


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`: ``ok`` or the first broken link and why."""

    ok: bool
    checked: int
    head: Anchor | None
    broken_seq: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            head = (
                "empty" if self.head is None else f"head seq {self.head.seq} {self.head.entry_hash}"
            )
            return f"audit chain intact: {self.checked} entries, {head}"
        return f"audit chain BROKEN at seq {self.broken_seq}: {self.problem}"


def verify_chain(entries: Iterable[AuditEntry], anchor: Anchor | None = None) -> ChainReport:
    """Check a whole chain in ``seq`` order as stored; report the first broken link.

    Checks, per entry: its ``seq`` is the next integer (a gap is a deletion, a step back a
    reorder), its ``prev_hash`` is the previous entry's hash (deletion, insertion, reordering),
    and its ``entry_hash`` matches its content (an edit). With an ``anchor``, the chain must also
    reach the anchored entry with the anchored hash (a truncated tail).
    """
    prev: AuditEntry | None = None
    checked = 0
    for entry in entries:
        expected_seq = 0 if prev is None else prev.seq + 1
        expected_prev = GENESIS if prev is None else prev.entry_hash
        problem = ""
        if entry.seq != expected_seq:
            problem = f"seq is {entry.seq}, expected {expected_seq} (entry deleted or moved)"
        elif entry.prev_hash != expected_prev:
            problem = (
                "prev_hash differs from the previous entry's hash (deleted, inserted or moved)"
            )
        elif entry_hash_of(entry) != entry.entry_hash:
            problem = "entry_hash does not match the entry's content (entry edited)"
        if problem:
            return ChainReport(
                False, checked, _head(prev), broken_seq=expected_seq, problem=problem
            )
        prev = entry
        checked += 1
    head = _head(prev)
    if anchor is not None:
        if head is None or head.seq < anchor.seq:
            at = 0 if head is None else head.seq + 1
            return ChainReport(
                False, checked, head, at, f"chain ends before the anchored seq {anchor.seq}"
            )
        if head.seq == anchor.seq and head.entry_hash != anchor.entry_hash:
            return ChainReport(False, checked, head, head.seq, "head differs from the anchor")
    return ChainReport(True, checked, head)


def _head(entry: AuditEntry | None) -> Anchor | None:
    return None if entry is None else Anchor(entry.seq, entry.entry_hash)


class AuditStore(Protocol):
    """Where entries live (the repository implements it; :class:`MemoryAuditStore` for tests)."""

    def append_audit(self, entry: AuditEntry) -> bool: ...

    def last_audit(self) -> AuditEntry | None: ...

    def audit_entries(self, from_seq: int = 0, limit: int = 1000) -> list[AuditEntry]: ...


class MemoryAuditStore:
    """An in-memory :class:`AuditStore` (tests, dry runs)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append_audit(self, entry: AuditEntry) -> bool:
        if entry.seq < len(self.entries):
            if self.entries[entry.seq].entry_hash != entry.entry_hash:
                raise ConflictError(f"audit seq {entry.seq} is already taken by another entry")
            return False
        self.entries.append(entry)
        return True

    def last_audit(self) -> AuditEntry | None:
        return self.entries[-1] if self.entries else None

    def audit_entries(self, from_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        return [e for e in self.entries if e.seq >= from_seq][:limit]


def iter_entries(store: AuditStore, page: int = 1000) -> Iterator[AuditEntry]:
    """Every entry in ``seq`` order, read page by page (bounded memory for long chains)."""
    start = 0
    while True:
        batch = store.audit_entries(start, page)
        yield from batch
        if len(batch) < page:
            return
        start = batch[-1].seq + 1


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuditLog:
    """Appends entries to an :class:`AuditStore` and keeps the external anchor up to date.

    Args:
        store: the repository (or a memory store).
        anchor_path: file holding the newest ``{"seq", "entry_hash"}``; ``None`` keeps no anchor
            (then only edits, deletions and reorders *inside* the chain are detectable).
        clock: the time source (tests pass a fixed clock).
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        anchor_path: Path | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.anchor_path = anchor_path
        self.clock = clock

    def append(
        self,
        actor: str,
        action: AuditAction | str,
        target: str,
        reason: str,
        details: Iterable[tuple[str, str]] = (),
    ) -> AuditEntry:
        """Append one entry (retrying when a concurrent appender took the same ``seq``)."""
        det = check_details(details)
        for _ in range(20):
            entry = make_entry(
                self.store.last_audit(),
                at=self.clock(),
                actor=actor,
                action=str(action),
                target=target,
                reason=reason,
                details=det,
            )
            try:
                self.store.append_audit(entry)
            except ConflictError:
                continue
            self._write_anchor(Anchor(entry.seq, entry.entry_hash))
            return entry
        raise ConflictError("could not append to the audit chain: too many concurrent appenders")

    def anchor(self) -> Anchor | None:
        if self.anchor_path is None or not self.anchor_path.exists():
            return None
        doc = json.loads(self.anchor_path.read_text())
        return Anchor(int(doc["seq"]), str(doc["entry_hash"]))

    def verify(self) -> ChainReport:
        report = verify_chain(iter_entries(self.store), self.anchor())
        if not report.ok:
            log.error("%s", report.describe())
        return report

    def _write_anchor(self, anchor: Anchor) -> None:
        if self.anchor_path is None:
            return
        self.anchor_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.anchor_path.parent, prefix=".anchor-")
        with os.fdopen(fd, "w") as fh:
            json.dump({"seq": anchor.seq, "entry_hash": anchor.entry_hash}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.anchor_path)
