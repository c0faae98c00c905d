"""Deployments: the prior authorisation without which no face is compared with a watchlist.

A deployment names a lawful purpose (one of three, see :class:`Purpose`), a legal reference, the
cameras or zone, a start and an end, and the watchlists *by version hash*; it is requested by one
person and authorised by a **different** authorising officer. In an emergency a requester may
start it at once (``urgent_start``) but it must then be authorised within 24 hours (or the
shorter ``governance.urgent_deadline_hours``): if it is refused or the deadline passes, matching
stops at once and every input and output of the deployment (alerts, their probe crops, their
sightings and verifications) is deleted. Reaching
``ends_at`` stops matching automatically.

The structural guarantee: the matcher (:mod:`vigil.identification.matcher`) only accepts an
:class:`~vigil.identification.authority.ActiveDeployment`, which only :class:`DeploymentService` can
make (its constructor checks the issuing token, which this module claims once at import) and only
for a deployment that is approved or urgent-pending, within its time window, on a covered camera.
The handle carries a stop flag the service raises the moment the deployment is refused, revoked,
expired or misses its deadline, and the matcher re-checks the handle before **every** comparison, so
a matcher that outlives its authorisation compares nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vigil.core.domain import DeploymentRow, DeploymentState, Role
from vigil.errors import ConflictError, PolicyViolationError, ValidationError
from vigil.governance.actors import SYSTEM, Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.identification.authority import ActiveDeployment, claim_issuer
from vigil.storage import Repository
from vigil.storage.governance import GovernanceStore
from vigil.storage.media import MediaStore

log = logging.getLogger(__name__)

URGENT_DEADLINE = timedelta(hours=24)
MAX_DURATION = timedelta(days=31)
LIVE_STATES = frozenset({DeploymentState.APPROVED, DeploymentState.URGENT_PENDING})
REQUESTER_ROLES = (Role.SUPERVISOR, Role.INVESTIGATOR)


class Purpose(StrEnum):
    """The only purposes for which live identification may be authorised (EU AI Act 5(1)(h))."""

    VICTIM_SEARCH = "victim_or_missing_person"
    IMMINENT_THREAT = "imminent_threat_or_terrorism"
    SERIOUS_CRIME_SUSPECT = "suspect_offence_4y_plus"


class DeploymentKind(StrEnum):
    LIVE = "live"
    POST_EVENT = "post_event"


@dataclass(frozen=True, slots=True)
class DeploymentRequest:
    """What a requester asks for. Validated here; the policy (who, when) in the service."""

    purpose: Purpose
    legal_reference: str
    starts_at: datetime
    ends_at: datetime
    watchlist_ids: tuple[str, ...] = ()
    camera_ids: tuple[str, ...] = ()
    zone: str | None = None
    reason: str = ""
    kind: DeploymentKind = DeploymentKind.LIVE

    def __post_init__(self) -> None:
        Purpose(self.purpose)
        if not self.legal_reference.strip():
            raise ValidationError("a deployment needs a legal reference")
        if not self.camera_ids and not self.zone:
            raise ValidationError("a deployment needs cameras or a zone (never city-wide)")
        for ts in (self.starts_at, self.ends_at):
            if ts.tzinfo is None:
                raise ValidationError("deployment times must be timezone-aware")
        if self.ends_at <= self.starts_at:
            raise ValidationError("a deployment must end after it starts")
        if self.ends_at - self.starts_at > MAX_DURATION:
            raise ValidationError(f"a deployment may last at most {MAX_DURATION.days} days")
        if self.kind is DeploymentKind.LIVE and not self.watchlist_ids:
            raise ValidationError("a live deployment needs at least one watchlist")
        if not self.reason.strip():
            raise ValidationError("a deployment request needs a reason")


_TOKEN = claim_issuer()  # this module is the only issuer of ActiveDeployment handles


PurgeHook = Callable[[str], None]


class DeploymentService:
    """Request, authorise, refuse, expire and purge deployments; issue active handles.

    Args:
        repo: the repository. media: the media store (probe crops are deleted on purge).
        audit: the audit log every decision is written to. clock: the time source.
        urgent_deadline: how long an urgent deployment may run unapproved (``governance.
            urgent_deadline_hours``); more than 24 hours is refused, whatever the caller asks.
    """

    def __init__(
        self,
        repo: Repository,
        media: MediaStore,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = utc_now,
        urgent_deadline: timedelta = URGENT_DEADLINE,
    ) -> None:
        if not timedelta(0) < urgent_deadline <= URGENT_DEADLINE:
            raise ValidationError(
                f"the urgent deadline must be positive and at most {URGENT_DEADLINE}, "
                f"got {urgent_deadline}"
            )
        self.repo = repo
        self.store = GovernanceStore(repo.db)
        self.media = media
        self.audit = audit
        self.clock = clock
        self.urgent_deadline = urgent_deadline
        # Weak: activate() issues a handle per call (every camera refresh), and only the ones
        # still held by a matcher need stopping; a list kept every handle ever issued.
        self._issued: dict[str, list[weakref.ref[ActiveDeployment]]] = {}
        self._lock = threading.Lock()
        self.purge_hooks: list[PurgeHook] = []

    # -- requests -------------------------------------------------------------------------------

    def request(self, actor: Actor, req: DeploymentRequest, *, urgent: bool = False) -> str:
        """Record a request (or, with ``urgent``, start it now pending authorisation within the
        urgent deadline, 24 h at most)."""
        actor.require(*REQUESTER_ROLES, action="requesting a deployment")
        now = self.clock()
        pinned = self._pin_watchlists(req.watchlist_ids, now)
        dep = DeploymentRow(
            id=uuid.uuid4().hex,
            purpose=req.purpose.value,
            legal_reference=req.legal_reference,
            starts_at=max(req.starts_at, now) if urgent else req.starts_at,
            ends_at=req.ends_at,
            state=DeploymentState.URGENT_PENDING if urgent else DeploymentState.REQUESTED,
            requested_by=actor.id,
            created_at=now,
            kind=req.kind.value,
            camera_ids=tuple(req.camera_ids),
            zone=req.zone,
            watchlists=pinned,
            urgent_deadline=now + self.urgent_deadline if urgent else None,
            reason=req.reason,
        )
        if dep.ends_at <= dep.starts_at:
            raise ValidationError("the deployment window has already passed")
        action = AuditAction.DEPLOYMENT_URGENT_START if urgent else AuditAction.DEPLOYMENT_REQUEST
        details = [
            ("purpose", dep.purpose),
            ("legal_reference", dep.legal_reference[:200]),
            ("cameras", ",".join(dep.camera_ids)[:200]),
            ("zone", dep.zone or ""),
            ("starts_at", dep.starts_at.isoformat()),
            ("ends_at", dep.ends_at.isoformat()),
            ("kind", dep.kind),
        ]
        details += [(f"watchlist:{w}", h) for w, h in pinned]
        with self.repo.db.transaction():  # the request exists only with its audit entry
            self.repo.add_deployment(dep)
            self.audit.append(actor.id, action, f"deployment:{dep.id}", req.reason, details)
        return dep.id

    def _pin_watchlists(self, ids: Sequence[str], now: datetime) -> tuple[tuple[str, str], ...]:
        pinned = []
        for wid in ids:
            wl = self.repo.get_watchlist(wid)
            if wl.expires_at is not None and wl.expires_at <= now:
                raise PolicyViolationError(f"watchlist {wid} expired at {wl.expires_at}")
            if not wl.version_hash:
                raise PolicyViolationError(f"watchlist {wid} has no enrolled subjects")
            pinned.append((wid, wl.version_hash))
        return tuple(pinned)

    # -- decisions ------------------------------------------------------------------------------

    def approve(self, actor: Actor, deployment_id: str, reason: str) -> None:
        """Authorise a requested or urgent-pending deployment (a different officer)."""
        actor.require(Role.AUTHORISING_OFFICER, action="authorising a deployment")
        _need_reason(reason)
        dep = self.repo.get_deployment(deployment_id)
        if actor.id == dep.requested_by:
            raise PolicyViolationError("the authorising officer must not be the requester")
        self.tick()
        with self.repo.db.transaction():  # state read, approval and its audit entry: one unit
            dep = self.repo.get_deployment(deployment_id)
            if dep.state not in (DeploymentState.REQUESTED, DeploymentState.URGENT_PENDING):
                raise ConflictError(
                    f"deployment {deployment_id} is {dep.state}; it cannot be approved"
                )
            self.repo.set_deployment_state(
                deployment_id, DeploymentState.APPROVED, at=self.clock(), authorised_by=actor.id
            )
            self.audit.append(
                actor.id, AuditAction.DEPLOYMENT_APPROVE, f"deployment:{deployment_id}", reason
            )

    def refuse(self, actor: Actor, deployment_id: str, reason: str) -> None:
        """Refuse a deployment; an urgent one already running is stopped and purged."""
        actor.require(Role.AUTHORISING_OFFICER, action="refusing a deployment")
        _need_reason(reason)
        with self.repo.db.transaction():  # refusal, purge and their entries: all or nothing
            dep = self.repo.get_deployment(deployment_id)
            if dep.state not in (DeploymentState.REQUESTED, DeploymentState.URGENT_PENDING):
                raise ConflictError(
                    f"deployment {deployment_id} is {dep.state}; it cannot be refused"
                )
            self._end(dep, DeploymentState.REFUSED, actor, AuditAction.DEPLOYMENT_REFUSE, reason)
            if dep.state is DeploymentState.URGENT_PENDING:
                self.purge(deployment_id, actor, reason="urgent deployment refused")

    def revoke(self, actor: Actor, deployment_id: str, reason: str) -> None:
        """Stop an approved deployment early (its lawful outputs are kept)."""
        actor.require(Role.AUTHORISING_OFFICER, action="revoking a deployment")
        _need_reason(reason)
        with self.repo.db.transaction():
            dep = self.repo.get_deployment(deployment_id)
            if dep.state not in LIVE_STATES:
                raise ConflictError(f"deployment {deployment_id} is {dep.state}; nothing to revoke")
            self._end(dep, DeploymentState.REVOKED, actor, AuditAction.DEPLOYMENT_REVOKE, reason)
            if dep.state is DeploymentState.URGENT_PENDING:
                self.purge(deployment_id, actor, reason="urgent deployment revoked before approval")

    def tick(self) -> list[str]:
        """Apply the clock: purge urgent deployments past their deadline, expire ended ones.

        Called before every activation and by the scheduler; returns the ids it changed.
        """
        now = self.clock()
        changed = []
        for dep in self.repo.list_deployments():
            if dep.state not in LIVE_STATES:
                continue
            if (
                dep.state is DeploymentState.URGENT_PENDING
                and dep.urgent_deadline is not None
                and now >= dep.urgent_deadline
            ):
                hours = self.urgent_deadline.total_seconds() / 3600
                why = f"not authorised within {hours:g} hours of the urgent start"
                with self.repo.db.transaction():
                    self._end(
                        dep,
                        DeploymentState.REFUSED,
                        SYSTEM,
                        AuditAction.DEPLOYMENT_DEADLINE_MISSED,
                        why,
                    )
                    self.purge(dep.id, SYSTEM, reason=why)
                changed.append(dep.id)
            elif now >= dep.ends_at:
                self._end(
                    dep, DeploymentState.EXPIRED, SYSTEM, AuditAction.DEPLOYMENT_EXPIRE, "end time"
                )
                changed.append(dep.id)
        return changed

    def _end(
        self,
        dep: DeploymentRow,
        state: DeploymentState,
        actor: Actor,
        action: AuditAction,
        reason: str,
    ) -> None:
        self._stop_handles(dep.id)  # matching stops first, even if the write below fails
        by = actor.id if state is DeploymentState.REFUSED and actor is not SYSTEM else None
        with self.repo.db.transaction():
            self.repo.set_deployment_state(dep.id, state, at=self.clock(), authorised_by=by)
            self.audit.append(actor.id, action, f"deployment:{dep.id}", reason)
        log.info("deployment %s -> %s (%s)", dep.id, state, reason)

    def _stop_handles(self, deployment_id: str) -> None:
        with self._lock:
            for ref in self._issued.pop(deployment_id, []):
                if (handle := ref()) is not None:
                    handle.stop()

    # -- purge ----------------------------------------------------------------------------------

    def purge(self, deployment_id: str, actor: Actor, *, reason: str) -> int:
        """Delete every output of a deployment: alerts, verifications, probe crops, sightings.

        Returns how many alerts were deleted. Audit entries stay (they hold no biometric data
        and record that the purge happened).
        """
        self._stop_handles(deployment_id)
        for hook in self.purge_hooks:  # e.g. live identifiers drop open tracks and galleries
            hook(deployment_id)
        # Rows and the audit entry in one unit; media files (which cannot roll back) are deleted
        # once it commits, so a failed purge leaves rows and files together for the next try.
        with self.repo.db.transaction():
            alerts = self.store.alerts(deployment_id=deployment_id)
            keys = self.store.delete_alerts([a.id for a in alerts], with_sightings=True)
            unreferenced = sorted(k for k in set(keys) if not self.store.media_referenced(k))
            self.audit.append(
                actor.id,
                AuditAction.DEPLOYMENT_PURGE,
                f"deployment:{deployment_id}",
                reason,
                [("alerts_deleted", str(len(alerts))), ("media_deleted", str(len(unreferenced)))],
            )
            self.repo.db.after_commit(lambda: self._delete_media(unreferenced))
        return len(alerts)

    def _delete_media(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.media.delete(key)

    # -- activation -----------------------------------------------------------------------------

    def activate(self, camera_id: str | None = None) -> list[ActiveDeployment]:
        """Handles for the live deployments in force now (optionally covering one camera)."""
        self.tick()
        now = self.clock()
        out = []
        for dep in self.repo.list_deployments(active_at=now):
            if dep.kind != DeploymentKind.LIVE.value:
                continue
            cams = self._cameras_of(dep)
            if camera_id is not None and camera_id not in cams:
                continue
            deadline = dep.urgent_deadline if dep.state is DeploymentState.URGENT_PENDING else None
            until = min(dep.ends_at, deadline) if deadline else dep.ends_at
            handle = ActiveDeployment(dep, cams, until, _TOKEN)
            with self._lock:
                live = [r for r in self._issued.get(dep.id, []) if r() is not None]
                self._issued[dep.id] = [*live, weakref.ref(handle)]
            out.append(handle)
        return out

    def post_event_authorised(self, camera_id: str, start: datetime, end: datetime) -> bool:
        """Whether an approved post-event search authorisation covers this camera and span."""
        return any(s <= start and end <= e for s, e in self.post_event_windows(camera_id))

    def post_event_windows(self, camera_id: str) -> tuple[tuple[datetime, datetime], ...]:
        """``(start, end)`` of every approved post-event authorisation covering the camera (what
        :meth:`post_event_authorised` checks, as data a pure step can hold)."""
        out = []
        for dep in self.repo.list_deployments():
            if dep.kind != DeploymentKind.POST_EVENT.value:
                continue
            if dep.state is DeploymentState.APPROVED and camera_id in self._cameras_of(dep):
                out.append((dep.starts_at, dep.ends_at))
        return tuple(sorted(out))

    def cameras_of(self, dep: DeploymentRow) -> frozenset[str]:
        """The cameras a deployment covers: its list plus every camera in its zone."""
        return self._cameras_of(dep)

    def _cameras_of(self, dep: DeploymentRow) -> frozenset[str]:
        cams = set(dep.camera_ids)
        if dep.zone:
            cams.update(c.id for c in self.repo.list_cameras() if c.zone == dep.zone)
        return frozenset(cams)


def _need_reason(reason: str) -> None:
    if not reason.strip():
        raise ValidationError("every decision needs a reason")
