"""The case lifecycle: outcomes, clips and searches as links, close, reopen, release of holds.

Opening, sharing and linking alerts, sightings and plate reads stay in
:class:`vigil.governance.purge.Purger` (they are legal holds); this service adds the rest of a
case's life. Every step changes its rows and appends its audit entry in **one unit of work**
(:meth:`vigil.storage.database.Database.transaction`): a step whose entry cannot be written
leaves no trace, and one that is stored always has its entry.

Rules, and why:

* a closed case takes no new links or outcomes (reopen it first, audited): what an investigator
  adds after the close would otherwise not show in the close's record;
* an outcome names, when it follows from one alert, that alert, which must be linked to the case:
  the oversight report counts which alerts led to which outcomes, so a stray id would count an
  alert the case never held;
* holds are released only on a closed case, and a reopened case is held again: a case being
  worked always keeps its records;
* a clip is a camera and a time window (at most :data:`MAX_CLIP`), on a camera that exists; the
  recording keeps the segments of a held case's windows past their retention
  (:meth:`vigil.storage.cases.CaseStore.held_windows`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from vigil.core.domain import CaseLink, CaseRow, Role
from vigil.errors import ConflictError, NotFoundError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.storage import Repository
from vigil.storage.cases import OUTCOMES, CaseClip, CaseOutcome, CaseStore

MAX_CLIP = timedelta(hours=2)
WORKERS = (Role.INVESTIGATOR, Role.SUPERVISOR)
SEARCH_ACTIONS = (AuditAction.SEARCH.value,)


class CaseService:
    """Outcomes, clip and search links, close, reopen and release of a case (see module doc).

    Who may act on which case (its owner and the people it is shared with) is checked by the
    API's case scope (:func:`vigil.api.scope.require_case`) before these run; here the roles and
    the case's state are checked.
    """

    def __init__(
        self, repo: Repository, audit: AuditLog, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.repo = repo
        self.store = CaseStore(repo.db)
        self.audit = audit
        self.clock = clock

    def _open_case(self, case_id: str) -> CaseRow:
        case = self.repo.get_case(case_id)
        if case.status != "open":
            raise ConflictError(f"case {case_id} is {case.status}; reopen it first")
        return case

    def record_outcome(
        self,
        actor: Actor,
        case_id: str,
        outcome: str,
        reason: str,
        *,
        alert_id: str | None = None,
    ) -> CaseOutcome:
        """Record what the case (or one alert of it) led to (audited ``case.outcome``)."""
        actor.require(*WORKERS, action="recording a case outcome")
        if outcome not in OUTCOMES:
            raise ValidationError(f"outcome must be one of {'|'.join(OUTCOMES)}, got {outcome!r}")
        if not reason.strip():
            raise ValidationError("an outcome needs a reason")
        row = CaseOutcome(
            uuid.uuid4().hex, case_id, outcome, reason, alert_id, actor.id, self.clock()
        )
        with self.repo.db.transaction():
            self._open_case(case_id)
            if alert_id is not None:
                linked = {k.target_id for k in self.repo.case_links(case_id) if k.kind == "alert"}
                if alert_id not in linked:
                    raise ValidationError(f"alert {alert_id} is not linked to case {case_id}")
            self.store.add_outcome(row)
            details = [("outcome", outcome), ("outcome_id", row.id)]
            if alert_id is not None:
                details.append(("alert", alert_id))
            self.audit.append(
                actor.id, AuditAction.CASE_OUTCOME, f"case:{case_id}", reason, details
            )
        return row

    def link_clip(  # noqa: PLR0917 - a clip is a camera and two times
        self,
        actor: Actor,
        case_id: str,
        camera_id: str,
        start: datetime,
        end: datetime,
        reason: str,
    ) -> CaseClip:
        """Keep a camera's footage of ``[start, end)`` with the case (audited
        ``case.legal_hold`` on ``clip:<id>``)."""
        actor.require(*WORKERS, action="placing a legal hold")
        if start.tzinfo is None or end.tzinfo is None:
            raise ValidationError("clip times need a time zone")
        if not start < end <= start + MAX_CLIP:
            raise ValidationError(f"a clip ends after it starts and lasts at most {MAX_CLIP}")
        now = self.clock()
        clip = CaseClip(uuid.uuid4().hex, case_id, camera_id, start, end, actor.id, now)
        with self.repo.db.transaction():
            self._open_case(case_id)
            if camera_id not in {c.id for c in self.repo.list_cameras()}:
                raise NotFoundError(f"no camera {camera_id!r}")
            self.store.add_clip(clip)
            self.repo.link_case(CaseLink(case_id, "clip", clip.id, actor.id, now))
            self.audit.append(
                actor.id,
                AuditAction.LEGAL_HOLD,
                f"clip:{clip.id}",
                reason,
                [
                    ("case", case_id),
                    ("camera", camera_id),
                    ("start", start.isoformat()),
                    ("end", end.isoformat()),
                ],
            )
        return clip

    def link_search(self, actor: Actor, case_id: str, seq: int, reason: str) -> None:
        """Link a search (the audit entry ``seq`` that recorded it) to the case."""
        actor.require(*WORKERS, action="linking a search")
        if not 0 <= seq < 2**31:  # the audit seq column is a 32-bit integer
            raise NotFoundError(f"no search recorded at audit seq {seq}")
        with self.repo.db.transaction():
            self._open_case(case_id)
            if not self.store.search_entry_exists(seq, SEARCH_ACTIONS):
                raise NotFoundError(f"no search recorded at audit seq {seq}")
            self.repo.link_case(CaseLink(case_id, "search", str(seq), actor.id, self.clock()))
            self.audit.append(
                actor.id, AuditAction.LEGAL_HOLD, f"search:{seq}", reason, [("case", case_id)]
            )

    def close(self, actor: Actor, case_id: str, reason: str) -> None:
        """Close an open case (audited ``case.close``); its holds stay until released."""
        actor.require(*WORKERS, action="closing a case")
        with self.repo.db.transaction():
            self._open_case(case_id)
            self.store.set_status(case_id, "closed", closed_at=self.clock(), closed_by=actor.id)
            self.audit.append(actor.id, AuditAction.CASE_CLOSE, f"case:{case_id}", reason, [])

    def reopen(self, actor: Actor, case_id: str, reason: str) -> None:
        """Reopen a closed case and put it back on legal hold (audited ``case.reopen``)."""
        actor.require(*WORKERS, action="reopening a case")
        with self.repo.db.transaction():
            case = self.repo.get_case(case_id)
            if case.status != "closed":
                raise ConflictError(f"case {case_id} is {case.status}, not closed")
            self.store.set_status(case_id, "open", closed_at=None, closed_by=None)
            self.store.hold_again(case_id)
            self.audit.append(actor.id, AuditAction.CASE_REOPEN, f"case:{case_id}", reason, [])

    def release_holds(self, actor: Actor, case_id: str, reason: str) -> dict[str, int]:
        """Take a closed case off legal hold (audited ``case.release_holds``): its records are
        then deleted by retention like any other, unless another held case links them."""
        actor.require(*WORKERS, action="releasing legal holds")
        with self.repo.db.transaction():
            case = self.repo.get_case(case_id)
            if case.status != "closed":
                raise ConflictError("holds are released only on a closed case; close it first")
            if not case.legal_hold:
                raise ConflictError(f"case {case_id} holds nothing any more")
            counts = self.store.release_hold(case_id)
            self.audit.append(
                actor.id,
                AuditAction.CASE_RELEASE_HOLDS,
                f"case:{case_id}",
                reason,
                [(k, str(v)) for k, v in counts.items()],
            )
        return counts
