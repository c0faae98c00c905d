"""Taking a camera out of service and back, at runtime, with the reason in the audit chain.

The config file says which cameras exist (and holds their URLs); the database's ``cameras``
table says which of them should run. In cluster mode the runner reads that table every
``cluster.failover_check_s`` and stops a camera switched off there, on whichever node it runs,
and starts one switched on again. :class:`CameraService` is the one place that changes the flag
for people (``PATCH /api/v1/cameras/{id}``, ``vigil cameras enable|disable``), so every change
has its ``camera.enable`` / ``camera.disable`` entry, written in the same transaction: there is
no switched camera without its entry, and no entry without the switch.

Who may: admins (they run the system) and supervisors (they run the operations room and are
the ones to stop a camera that was pointed at a private space by mistake). Both are held to
their camera assignment by the API's scope check, and the service refuses any other role
whichever door the call came through.

Setting the state a camera already has is a **no-op, not an error**: nothing is written, no
entry is appended, and the caller is told (``changed`` is false). Two people reacting to the
same incident both get what they asked for, and the chain records the one change that happened
(the update is conditional on the old value, so a race cannot write two entries). The trade-off:
a repeated request leaves no trace of the second person's reason; a refusal (409) would keep
nothing either, and would make a script that means "make sure it is off" handle an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from vigil.core.domain import CameraRow, Role
from vigil.errors import ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import MAX_REASON, AuditAction, AuditLog, check_text, utc_now
from vigil.storage import Repository

SWITCHERS = (Role.ADMIN, Role.SUPERVISOR)
"""The roles that may switch a camera on or off."""


@dataclass(frozen=True, slots=True)
class Switched:
    """The camera after a switch, and whether the flag changed (``False``: it already had it)."""

    camera: CameraRow
    changed: bool


class CameraService:
    """Switch cameras on and off (see the module docstring)."""

    def __init__(
        self, repo: Repository, audit: AuditLog, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.repo = repo
        self.audit = audit
        self.clock = clock

    def set_enabled(self, actor: Actor, camera_id: str, enabled: bool, reason: str) -> Switched:
        """Switch ``camera_id`` on (``enabled``) or off, for ``reason``.

        Raises:
            PermissionDeniedError: the actor is neither admin nor supervisor.
            ValidationError: the reason is empty, too long or holds control characters.
            NotFoundError: no such camera in the database (the config file's cameras are
                written there when the system or a CLI command starts).
        """
        verb = "enabling" if enabled else "disabling"
        actor.require(*SWITCHERS, action=f"{verb} a camera")
        why = reason.strip()
        if not why:
            raise ValidationError(f"{verb} a camera needs a reason")
        check_text("reason", why, limit=MAX_REASON, multiline=True)
        action = AuditAction.CAMERA_ENABLE if enabled else AuditAction.CAMERA_DISABLE
        with self.repo.db.transaction():
            changed = self.repo.set_camera_enabled(camera_id, enabled, self.clock())
            if changed:
                self.audit.append(
                    actor.id,
                    action,
                    f"camera:{camera_id}",
                    why,
                    [("enabled", "true" if enabled else "false")],
                )
            camera = self.repo.get_camera(camera_id)
        return Switched(camera, changed)
