"""``/audit`` and ``/reports``: the audit chain, its verification, and the oversight report.

For auditors (and admins): entries hold references and reasons, never biometric data (the audit
layer refuses biometric payloads at append time), and the report is built from deployments and
the chain only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request

from vigil.api.deps import access, services
from vigil.api.routes.common import Limit, aware, router
from vigil.api.schemas import AuditEntryOut, ChainOut
from vigil.core.domain import Role
from vigil.errors import ValidationError
from vigil.governance.accounts import Principal
from vigil.governance.report import build_oversight

audit = router("/audit", "audit")
reports = router("/reports", "reports")
AUDITORS = (Role.AUDITOR, Role.ADMIN)


@audit.get("", response_model=list[AuditEntryOut])
def entries(
    request: Request,
    from_seq: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # seq is a 32-bit column
    limit: Limit = 100,
    _: Principal = access(*AUDITORS, scope="audit:read"),
) -> list[AuditEntryOut]:
    """Entries with ``seq >= from_seq`` in chain order (page on with the last seq + 1)."""
    return [
        AuditEntryOut(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            target=e.target,
            reason=e.reason,
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
            details=[list(d) for d in e.details],
        )
        for e in services(request).repo.audit_entries(from_seq, limit)
    ]


@audit.get("/verify", response_model=ChainOut)
def verify(request: Request, _: Principal = access(*AUDITORS, scope="audit:read")) -> ChainOut:
    """Check every link of the chain (and the external anchor) now."""
    report = services(request).audit.verify()
    return ChainOut(ok=report.ok, entries=report.checked, description=report.describe())


@reports.get("/oversight")
def oversight(
    request: Request,
    start: Annotated[datetime, Query(alias="from")],
    end: Annotated[datetime, Query(alias="to")],
    _: Principal = access(Role.AUDITOR, Role.AUTHORISING_OFFICER, scope="reports:read"),
) -> dict[str, Any]:
    """The oversight report for ``[from, to)`` (deployments, faces scanned, alerts, confirmed,
    rejected, outcomes, purges); no biometric data."""
    a, b = aware(start, "from"), aware(end, "to")
    assert a is not None and b is not None
    if b <= a:
        raise ValidationError("'to' must be after 'from'")
    return build_oversight(services(request).repo, a, b)
