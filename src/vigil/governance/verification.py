"""Two-person verification: an alert is a lead until two different people confirm it.

The rule (EU AI Act Art. 14(5)): an alert becomes ``actionable`` only after two confirmations by
two distinct users, the first by an operator or supervisor, the second by a supervisor; each
decision carries a reason. Either person may reject, which ends the alert as ``rejected``. Every
decision is stored (who, when, what, why) and appended to the audit chain. A user who already
decided on an alert cannot decide again (the storage layer's key makes that a conflict), and the
state moves by compare-and-set so two supervisors racing cannot both be "the second".

Plate hits (``plate_hit``) need fewer confirmations by default: ``confirmations`` maps an alert
kind to how many distinct people must confirm (``plates.hit_confirmations``, 1 unless configured
otherwise); every other kind, faces included, needs two. The first confirmer's role rule is the
same for every kind.

Viewing the probe crop or the enrolled image to decide is a view of biometric data and is logged
by :meth:`VerificationService.view_biometric`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from vigil.core.domain import Decision, Role, VerificationRow
from vigil.core.records import Alert, AlertKind, AlertStatus
from vigil.errors import ConflictError, PermissionDeniedError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.drift import DriftWatch
from vigil.storage import Repository

log = logging.getLogger(__name__)

FIRST_ROLES = (Role.OPERATOR, Role.SUPERVISOR)
SECOND_ROLES = (Role.SUPERVISOR,)
OUTCOMES = frozenset({"arrest", "cleared", "false_alert", "no_action", "located"})


class VerificationService:
    """Record confirmation/rejection decisions and move alerts through their states."""

    def __init__(
        self,
        repo: Repository,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] = utc_now,
        confirmations: Mapping[AlertKind, int] | None = None,
        drift: DriftWatch | None = None,
    ) -> None:
        self.drift = drift
        self.repo = repo
        self.audit = audit
        self.clock = clock
        self.confirmations = dict(confirmations or {AlertKind.PLATE_HIT: 1})
        bad = {k: n for k, n in self.confirmations.items() if n not in (1, 2)}
        if bad or self.confirmations.get(AlertKind.FACE_MATCH, 2) != 2:
            raise ValidationError(f"confirmations must be 1 or 2 (faces always 2), got {bad}")

    def needed(self, kind: AlertKind) -> int:
        """How many distinct people must confirm an alert of this kind."""
        return self.confirmations.get(kind, 2)

    def decide(self, actor: Actor, alert_id: str, decision: Decision, reason: str) -> AlertStatus:
        """Record ``actor``'s decision on an alert; returns the alert's new status.

        Raises:
            ValidationError: no reason given.
            PermissionDeniedError: wrong role for this step.
            ConflictError: the alert is already decided, or this user already decided on it.
        """
        if not reason.strip():
            raise ValidationError("a verification decision needs a reason")
        # Checks, decision, state move and audit entries in one unit of work: they commit
        # together or not at all, and the checks see the state the decision is applied to.
        with self.repo.db.transaction():
            alert = self.repo.get_alert(alert_id)
            prior = self.repo.list_verifications(alert_id)
            if any(v.user_id == actor.id for v in prior):
                raise ConflictError(
                    f"user {actor.id} already decided on alert {alert_id}; a second person must"
                )
            if alert.status not in (AlertStatus.PENDING, AlertStatus.ONE_CONFIRMED):
                raise ConflictError(f"alert {alert_id} is already {alert.status}")
            first = alert.status is AlertStatus.PENDING
            if decision is Decision.CONFIRM:
                roles = FIRST_ROLES if first else SECOND_ROLES
                actor.require(*roles, action="the first confirmation" if first else "the second")
            else:
                actor.require(*FIRST_ROLES, action="rejecting an alert")
            needed = self.needed(alert.kind)
            new = (
                AlertStatus.REJECTED
                if decision is Decision.REJECT
                else AlertStatus.ONE_CONFIRMED
                if first and needed == 2
                else AlertStatus.ACTIONABLE
            )
            now = self.clock()
            self.repo.add_verification(VerificationRow(alert_id, actor.id, decision, reason, now))
            self.repo.transition_alert(alert_id, alert.status, new)
            confirm = decision is Decision.CONFIRM
            action = AuditAction.ALERT_CONFIRM if confirm else AuditAction.ALERT_REJECT
            details = [("status", new.value), ("step", "1" if first else "2")]
            self.audit.append(actor.id, action, f"alert:{alert_id}", reason, details)
            if new is AlertStatus.REJECTED:
                self._watch_drift(alert)
            if new is AlertStatus.ACTIONABLE:
                self.audit.append(
                    actor.id,
                    AuditAction.ALERT_ACTIONABLE,
                    f"alert:{alert_id}",
                    "confirmed by two people" if needed == 2 else "confirmed by one person",
                    [("confirmed_by", ",".join([*(v.user_id for v in prior), actor.id]))],
                )
        log.info("alert %s: %s by %s -> %s", alert_id, decision, actor.id, new)
        return new

    def _watch_drift(self, alert: Alert) -> None:
        """Feed a rejected face alert to its deployment's drift watch (same unit of work)."""
        if self.drift is None or alert.kind is not AlertKind.FACE_MATCH:
            return
        if alert.deployment_id is None:
            return
        flag = self.drift.rejected(alert.deployment_id)
        if flag is None:
            return
        self.audit.append(
            "system",
            AuditAction.DEPLOYMENT_DRIFT,
            f"deployment:{flag.deployment_id}",
            "rejected alerts significantly above the calibrated false-alert rate",
            [
                ("searches", str(flag.searches)),
                ("false_alerts", str(flag.false_alerts)),
                ("predicted_rate", f"{flag.predicted_rate:.2g}"),
            ],
        )

    def record_outcome(self, actor: Actor, alert_id: str, outcome: str, reason: str) -> None:
        """Record what came of an alert (arrest, cleared, false alert, ...) for the reports."""
        actor.require(Role.SUPERVISOR, Role.INVESTIGATOR, action="recording an outcome")
        if outcome not in OUTCOMES:
            raise ValidationError(f"outcome must be one of {sorted(OUTCOMES)}, got {outcome!r}")
        self.repo.get_alert(alert_id)
        self.audit.append(
            actor.id, AuditAction.ALERT_OUTCOME, f"alert:{alert_id}", reason, [("outcome", outcome)]
        )

    def view_biometric(self, actor: Actor, alert_id: str, what: str, reason: str) -> None:
        """Log a view of an alert's probe crop or enrolled image (auditors may not view)."""
        if Role.AUDITOR in actor.roles and len(actor.roles) == 1:
            raise PermissionDeniedError("auditors do not see biometric images")
        actor.require(
            Role.OPERATOR, Role.SUPERVISOR, Role.INVESTIGATOR, action="viewing biometric images"
        )
        self.audit.append(
            actor.id, AuditAction.BIOMETRIC_VIEW, f"alert:{alert_id}", reason, [("what", what)]
        )
