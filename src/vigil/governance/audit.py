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

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from vigil.core.records import AuditEntry
from vigil.errors import ValidationError

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
    DEPLOYMENT_DRIFT = "deployment.drift"
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
    CASE_OUTCOME = "case.outcome"
    CASE_CLOSE = "case.close"
    CASE_REOPEN = "case.reopen"
    CASE_RELEASE_HOLDS = "case.release_holds"
    AUDIT_VERIFY = "audit.verify"
    USER_CREATE = "user.create"
    USER_CAMERAS = "user.cameras"
    USER_ROLES = "user.roles"
    USER_DISABLE = "user.disable"
    API_KEY_ISSUE = "api_key.issue"
    API_KEY_REVOKE = "api_key.revoke"
    CAMERA_ENABLE = "camera.enable"
    CAMERA_DISABLE = "camera.disable"
    RECORDING_VIEW = "recording.view"  # a clip of recorded footage played (masked if masks)
    RECORDING_UNMASK = "recording.unmask"  # ... played without its privacy masks (with a case)
    RECORDING_RETENTION = "recording.retention"  # segments deleted by retention
    LIVE_OPEN = "live.open"  # a live connection (WebSocket events) opened: who, from where, what
    LIVE_CLOSE = "live.close"  # ... and closed: why (client, revoked, scope changed, shutdown)
    LIVE_VIDEO_START = "live_video.start"  # a person started watching a camera's live tile
    LIVE_VIDEO_END = "live_video.end"  # ... and stopped: from, to, frames sent
    LIVE_VIDEO_STILL = "live_video.still"  # one still frame of a camera (under a heatmap)
    WATCHLIST_VIEW = "watchlist.view"  # a person read a watchlist's subjects (console, API)
    WATCHLIST_EXPIRE = "watchlist.expire"  # a watchlist ended early by a person, with a reason


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


def summarise_ids(ids: Sequence[str] | None, *, limit: int = 200) -> str:
    """A list of ids as one audit detail: ``*`` for none (= every), else comma-joined; past
    ``limit`` characters the head of the list, how many more, and a digest of the whole list,
    so a long assignment is recorded (verifiably) instead of refused."""
    if ids is None:
        return "*"
    joined = ",".join(ids)
    if len(joined) <= limit:
        return joined
    digest = hashlib.sha256(joined.encode()).hexdigest()[:16]
    tail = f"... (+{{}} more; {len(ids)} in all, sha256 {digest})"
    shown: list[str] = []
    for item in ids:
        if len(",".join([*shown, item])) + len(tail) + 4 > limit:
            break
        shown.append(item)
    return ",".join(shown) + tail.format(len(ids) - len(shown))


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


def verify_chain(
    entries: Iterable[AuditEntry],
    anchor: Anchor | None = None,
    *,
    expect: Sequence[Anchor] = (),
) -> ChainReport:
    """Check a whole chain in ``seq`` order as stored; report the first broken link.

    Checks, per entry: its ``seq`` is the next integer (a gap is a deletion, a step back a
    reorder), its ``prev_hash`` is the previous entry's hash (deletion, insertion, reordering),
    and its ``entry_hash`` matches its content (an edit). With an ``anchor`` (and any ``expect``
    heads kept elsewhere, e.g. by an oversight body), the entry at each anchored ``seq`` must
    carry the anchored hash **wherever it sits in the chain**, and the chain must reach it: a
    truncated tail fails, and so does a tail rewritten with recomputed hashes and extended past
    the anchor.
    """
    checks: dict[int, list[tuple[str, str]]] = {}
    for label, known in [("the anchor", anchor), *(("the expected head", e) for e in expect)]:
        if known is not None:
            checks.setdefault(known.seq, []).append((known.entry_hash, label))
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
        elif differs := [lbl for h, lbl in checks.get(entry.seq, ()) if h != entry.entry_hash]:
            problem = f"entry differs from {' and '.join(differs)} (chain rewritten)"
        if problem:
            return ChainReport(
                False, checked, _head(prev), broken_seq=expected_seq, problem=problem
            )
        prev = entry
        checked += 1
    head = _head(prev)
    if checks:
        furthest = max(checks)
        if head is None or head.seq < furthest:
            at = 0 if head is None else head.seq + 1
            label = checks[furthest][0][1]
            return ChainReport(
                False, checked, head, at, f"chain ends before {label} at seq {furthest}"
            )
    return ChainReport(True, checked, head)


def parse_head(text: str) -> Anchor:
    """``SEQ:HASH`` (as ``vigil audit head`` prints it) -> :class:`Anchor`."""
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValidationError(f"a head is SEQ:SHA256 (e.g. 41:3fa9...), got {text[:80]!r}")
    return Anchor(int(seq), digest)


def _head(entry: AuditEntry | None) -> Anchor | None:
    return None if entry is None else Anchor(entry.seq, entry.entry_hash)


class AuditStore(Protocol):
    """Where entries live (the repository implements it; :class:`MemoryAuditStore` for tests)."""

    def append_audit_next(self, make: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry: ...

    def last_audit(self) -> AuditEntry | None: ...

    def audit_entry_at(self, seq: int) -> AuditEntry | None: ...

    def audit_entries(self, from_seq: int = 0, limit: int = 1000) -> list[AuditEntry]: ...

    def after_commit(self, callback: Callable[[], None]) -> None: ...


class MemoryAuditStore:
    """An in-memory :class:`AuditStore` (tests, dry runs); every append commits at once."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self._lock = threading.Lock()

    def append_audit_next(self, make: Callable[[AuditEntry | None], AuditEntry]) -> AuditEntry:
        with self._lock:
            entry = make(self.entries[-1] if self.entries else None)
            self.entries.append(entry)
            return entry

    def last_audit(self) -> AuditEntry | None:
        return self.entries[-1] if self.entries else None

    def audit_entry_at(self, seq: int) -> AuditEntry | None:
        return next((e for e in self.entries if e.seq == seq), None)

    def audit_entries(self, from_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        return [e for e in self.entries if e.seq >= from_seq][:limit]

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()


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
    """Appends entries to an :class:`AuditStore` and keeps the external anchor moving forward.

    An entry is appended **in the caller's unit of work** (see
    :meth:`vigil.storage.database.Database.transaction`): the state change it records and the entry
    commit together, or neither does. Details and text are validated before anything is written.

    The anchor (the newest ``seq`` and hash, in ``anchor_path``) is advanced only after the
    entry's transaction commits, and only **forward along the same chain**: before moving it, the
    writer checks that the entry at the anchored ``seq`` still carries the anchored hash. So a
    deleted or rewritten tail is never laundered by the next append (the anchor stays where it
    was and :meth:`verify` keeps failing), a head below the anchor is never anchored, and a
    missing anchor file is never silently recreated over a chain that has entries. A problem
    found while advancing is kept in :attr:`problem` (shown by ``GET /system/status``) and logged.

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
        self.problem: str | None = None
        self._anchor_lock = threading.Lock()
        self._held: Anchor | None = None  # the last anchor this process wrote or read
        if anchor_path is not None:
            _remove_stale_temporaries(anchor_path)
            self._held = self.anchor()

    def append(
        self,
        actor: str,
        action: AuditAction | str,
        target: str,
        reason: str,
        details: Iterable[tuple[str, str]] = (),
    ) -> AuditEntry:
        """Append one entry in the caller's transaction (its own, outside one).

        Raises:
            ValidationError: a detail or text field is not allowed (nothing is written; inside a
                unit of work the state change it would have recorded is rolled back with it).
        """
        det = check_details(details)
        for name, value in (("actor", actor), ("action", str(action)), ("target", target)):
            check_text(name, value, limit=MAX_DETAIL_VALUE)
        check_text("reason", reason, limit=MAX_REASON, multiline=True)
        at = self.clock()

        def make(prev: AuditEntry | None) -> AuditEntry:
            return make_entry(
                prev,
                at=at,
                actor=actor,
                action=str(action),
                target=target,
                reason=reason,
                details=det,
            )

        entry = self.store.append_audit_next(make)
        self.store.after_commit(lambda: self._advance_anchor(entry))
        return entry

    def anchor(self) -> Anchor | None:
        if self.anchor_path is None or not self.anchor_path.exists():
            return None
        doc = json.loads(self.anchor_path.read_text())
        return Anchor(int(doc["seq"]), str(doc["entry_hash"]))

    def head(self) -> Anchor | None:
        """The newest entry as ``(seq, hash)``: what an oversight body keeps (``vigil audit
        head``) to check later with ``vigil audit verify --expect-head``."""
        return _head(self.store.last_audit())

    def verify(self, expect: Sequence[Anchor] = ()) -> ChainReport:
        """Verify the whole chain against the anchor and any heads kept elsewhere."""
        anchor = self.anchor()
        if self.anchor_path is not None and anchor is None:
            last = self.store.last_audit()
            if last is not None:
                report = ChainReport(
                    False,
                    0,
                    _head(last),
                    broken_seq=last.seq,
                    problem=(
                        f"the anchor file {self.anchor_path.name} is missing but the chain holds "
                        f"entries up to seq {last.seq} (deleted anchor: a cut tail would pass)"
                    ),
                )
                log.error("%s", report.describe())
                return report
        report = verify_chain(iter_entries(self.store), anchor, expect=expect)
        if not report.ok:
            log.error("%s", report.describe())
        return report

    def _advance_anchor(self, entry: AuditEntry) -> None:
        """Move the anchor to ``entry`` if it extends the anchored chain (see the class doc)."""
        if self.anchor_path is None:
            return
        path = self.anchor_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._anchor_lock, _locked(path.with_name(path.name + ".lock")):
            current = self.anchor() or self._held
            if current is not None and self._late(current, entry):
                return  # an older entry's callback ran after a newer one's: nothing to move
            problem = self._continuity_problem(current, entry)
            if problem:
                self.problem = problem
                log.error("audit anchor not moved: %s", problem)
                return
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "w") as fh:
                json.dump({"seq": entry.seq, "entry_hash": entry.entry_hash}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            self._held = Anchor(entry.seq, entry.entry_hash)

    def _late(self, current: Anchor, entry: AuditEntry) -> bool:
        """Whether ``entry`` is an older entry still in the chain below the anchor: commits on
        several threads (the console's live streams open together) run their after-commit
        callbacks in any order, so entry 4's may come after entry 6's. That is no cut tail:
        both the anchored entry and this one are still stored as they were."""
        if entry.seq > current.seq:
            return False
        anchored = self.store.audit_entry_at(current.seq)
        this = self.store.audit_entry_at(entry.seq)
        return (
            anchored is not None
            and anchored.entry_hash == current.entry_hash
            and this is not None
            and this.entry_hash == entry.entry_hash
        )

    def _continuity_problem(self, current: Anchor | None, entry: AuditEntry) -> str:
        if current is None:
            if entry.seq == 0:
                return ""
            return (
                f"no anchor exists but the chain already holds {entry.seq} earlier entries; "
                "the anchor file was deleted (not recreated: that would hide a cut tail)"
            )
        if entry.seq <= current.seq:
            return (
                f"entry {entry.seq} is not past the anchored seq {current.seq}: entries after "
                "the anchor were deleted (a cut tail); the anchor is kept as evidence"
            )
        stored = self.store.audit_entry_at(current.seq)
        if stored is None or stored.entry_hash != current.entry_hash:
            return (
                f"the entry at the anchored seq {current.seq} is missing or differs from the "
                "anchor (the chain was rewritten); the anchor is kept as evidence"
            )
        return ""


MAX_REASON = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")


def check_text(name: str, value: str, *, limit: int, multiline: bool = False) -> None:
    """Refuse control characters (NUL included: PostgreSQL cannot store it) and overlong text."""
    pattern = _CONTROL if multiline else _CONTROL_ONE_LINE
    if pattern.search(value):
        raise ValidationError(f"audit {name} holds control characters; not allowed")
    if len(value) > limit:
        raise ValidationError(f"audit {name} is {len(value)} characters (limit {limit})")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory file lock (several processes may share one anchor file)."""
    with open(path, "a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove_stale_temporaries(anchor_path: Path) -> None:
    """Temporary anchor files left by a killed process (older versions used random names)."""
    folder = anchor_path.parent
    if not folder.is_dir():
        return
    for stale in folder.glob(".anchor-*"):
        with contextlib.suppress(OSError):
            stale.unlink()
