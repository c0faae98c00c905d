"""Records without their audit entry: the cross-check ``vigil audit verify`` adds to the chain.

The hash chain proves that the entries it holds are unchanged; it cannot show an action that was
never recorded. Since every state change commits with its entry in one transaction (see
:meth:`vigil.storage.database.Database.transaction`), a stored record whose creation or decision
has no entry means the database was written around Vigil (a direct insert, a restored backup of
another system) or by a version from before that guarantee. This module lists such records:
users, deployments, watchlists, cases and hotlists without their creation entry, face and plate
alerts without ``alert.raise``, and verification decisions without the matching
``alert.confirm``/``alert.reject`` by the same person.

Trade-off: the check holds the set of audited targets in memory (one short string per creation
or decision entry), read page by page; for tens of millions of entries that is a few GB, fine
for an occasional oversight check, not for every request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.core.records import AuditEntry
from vigil.governance.audit import AuditAction

CREATED_BY: dict[str, frozenset[str]] = {
    "user": frozenset({AuditAction.USER_CREATE}),
    "deployment": frozenset({AuditAction.DEPLOYMENT_REQUEST, AuditAction.DEPLOYMENT_URGENT_START}),
    "watchlist": frozenset({AuditAction.WATCHLIST_CREATE}),
    "case": frozenset({AuditAction.CASE_OPEN}),
    "hotlist": frozenset({AuditAction.HOTLIST_CREATE}),
    "alert": frozenset({AuditAction.ALERT_RAISE}),
}
_DECISIONS: dict[str, str] = {
    AuditAction.ALERT_CONFIRM: "confirm",
    AuditAction.ALERT_REJECT: "reject",
}


@dataclass(frozen=True)
class Gaps:
    """Records with no audit entry for their creation or decision, by kind (ids, capped)."""

    missing: dict[str, list[str]] = field(default_factory=dict)
    limit: int = 20

    @property
    def ok(self) -> bool:
        return not any(self.missing.values())

    def describe(self) -> str:
        if self.ok:
            return (
                "every user, deployment, watchlist, case, hotlist, alert and decision has its entry"
            )
        parts = []
        for kind, ids in sorted(self.missing.items()):
            if ids:
                shown = ", ".join(ids[: self.limit])
                more = f" (+{len(ids) - self.limit} more)" if len(ids) > self.limit else ""
                parts.append(
                    f"{len(ids)} {kind} record(s) without their audit entry: {shown}{more}"
                )
        return "\n".join(parts)


def find_gaps(entries: Iterable[AuditEntry], records: dict[str, list[str]]) -> Gaps:
    """Compare the chain's creation and decision entries with the stored ``records`` (as
    :func:`vigil.storage.repo_admin.accountable_records` returns them)."""
    created: set[str] = set()
    decided: set[str] = set()
    for e in entries:
        if any(e.action in actions for actions in CREATED_BY.values()):
            created.add(e.target)
        elif e.action in _DECISIONS and e.target.startswith("alert:"):
            decided.add(f"{e.target.removeprefix('alert:')}|{e.actor}|{_DECISIONS[e.action]}")
    missing = {
        kind: sorted(i for i in records.get(kind, []) if f"{kind}:{i}" not in created)
        for kind in CREATED_BY
    }
    missing["verification"] = sorted(v for v in records.get("verification", []) if v not in decided)
    return Gaps(missing)
