"""``/system/status``: whether the background safeguards are running (for auditors and admins).

The non-match purge, retention and deadline expiry run in a background thread; if that thread
keeps failing, biometric data of people who match nothing would stay, silently. This route shows
each background task's own status (passes, failures, last success, last error) so an auditor can
see that the purge runs, not only that it exists. It also shows the audit chain's writer state:
a problem found while moving the anchor (entries deleted after it, a rewritten chain, a deleted
anchor file) is reported here until ``vigil audit verify`` is run by a person. With cross-camera
batching on (``runtime.batching``), ``inference`` gives each shared model's batch sizes, queue
waits and drops. No personal data.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from vigil.api.deps import access, services
from vigil.api.routes.common import router
from vigil.core.domain import Role
from vigil.governance.accounts import Principal

system = router("/system", "system")


@system.get("/status")
def status(request: Request, _: Principal = access(Role.ADMIN, Role.AUDITOR)) -> dict[str, Any]:
    """Status of each background task that reports one (housekeeper, event watcher, ...)."""
    tasks = []
    for task in services(request).background:
        # A group run only by the leading process (LeaderOnly) reports its parts too.
        for item in [task, *getattr(task, "parts", ())]:
            report = getattr(item, "status", None)  # optional: not every task reports one
            if callable(report):
                tasks.append(report())
    # Open live connections and failed credential re-checks of this process (vigil.api.live).
    tasks.append(request.app.state.live.status())
    audit = services(request).audit
    anchor = audit.anchor()
    system = getattr(request.app.state, "system", None)
    report = getattr(system, "inference_status", None)
    return {
        "background": tasks,
        # Cross-camera batching (runtime.batching): per model, batch sizes, waits and drops.
        "inference": report() if callable(report) else {},
        "audit": {
            "anchor": None if anchor is None else f"{anchor.seq}:{anchor.entry_hash}",
            "problem": audit.problem,
        },
    }
