"""The oversight report: the figures a privacy commissioner asks for, with no biometric data.

Built from the deployments table and the audit chain only, so it survives purges (a refused
urgent deployment's alerts are deleted, but the chain still records that they were raised and
purged) and never touches a template or an image. For ``[from, to)``:

* every deployment overlapping the period: purpose, kind, legal reference, cameras or zone,
  requester, authorising officer, state, start, end and duration;
* per deployment and per watchlist: faces scanned (faces compared, from the live identifiers'
  ``deployment.scan_summary`` entries), alerts raised, confirmed (made actionable by two people),
  rejected, pending; the **observed false-alert rate** = rejected / decided alerts, and rejected
  per 1,000 faces scanned; the mean calibrated false-alert rate shown on the alerts;
* the rejected alerts **per search** (rejected / faces scanned) with its exact 95% interval,
  beside the mean calibrated rate the alerts displayed (its 95% upper bound since revision
  0012) and the mean point estimate, and the deployment's **drift watch**: whether rejections
  have significantly exceeded the calibrated rate (:mod:`vigil.governance.drift`);
* outcomes recorded on alerts (arrest, cleared, false alert, ...);
* purges: deployments purged, alerts deleted with them, non-match sightings stripped, retention.

The JSON keys are stable; the Markdown is rendered from the JSON.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vigil.core.domain import DeploymentRow
from vigil.core.records import AuditEntry
from vigil.governance.audit import AuditAction, iter_entries
from vigil.identification.calibration import two_sided_interval
from vigil.storage import Repository
from vigil.storage.drift import DriftRow, DriftStore

SCHEMA = "vigil.report.oversight/1"


@dataclass
class _Tally:
    faces_scanned: int = 0
    alerts: int = 0
    confirmed: int = 0
    rejected: int = 0
    calibrated_far: list[float] = field(default_factory=list)
    calibrated_point: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        decided = self.confirmed + self.rejected
        return {
            "faces_scanned": self.faces_scanned,
            "alerts": self.alerts,
            "confirmed": self.confirmed,
            "rejected": self.rejected,
            "pending": self.alerts - decided,
            "observed_false_alert_rate": (self.rejected / decided) if decided else None,
            "rejected_per_1000_faces": (
                1000 * self.rejected / self.faces_scanned if self.faces_scanned else None
            ),
            "mean_calibrated_false_alert_rate": _mean(self.calibrated_far),
            "mean_calibrated_false_alert_point": _mean(self.calibrated_point),
            "rejected_per_search": (
                self.rejected / self.faces_scanned if self.faces_scanned else None
            ),
            "rejected_per_search_ci95": (
                list(two_sided_interval(min(self.rejected, self.faces_scanned), self.faces_scanned))
                if self.faces_scanned
                else None
            ),
            "outcomes": dict(sorted(self.outcomes.items())),
        }


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _drift(row: DriftRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "predicted_rate_upper95": row.predicted_rate,
        "searches": row.searches,
        "false_alerts": row.false_alerts,
        "statistic": round(row.statistic, 3),
        "flagged": row.flagged_at is not None,
        "flagged_at": row.flagged_at.isoformat() if row.flagged_at else None,
        "flagged_after_searches": row.flagged_searches,
    }


def _details(e: AuditEntry) -> dict[str, str]:
    return dict(e.details)


def _id(target: str) -> str:
    return target.split(":", 1)[1] if ":" in target else target


def _deployment(d: DeploymentRow) -> dict[str, Any]:
    return {
        "id": d.id,
        "kind": d.kind,
        "purpose": d.purpose,
        "legal_reference": d.legal_reference,
        "cameras": list(d.camera_ids),
        "zone": d.zone,
        "state": d.state.value,
        "requested_by": d.requested_by,
        "authorised_by": d.authorised_by,
        "starts_at": d.starts_at.isoformat(),
        "ends_at": d.ends_at.isoformat(),
        "duration_hours": round((d.ends_at - d.starts_at).total_seconds() / 3600, 3),
        "urgent": d.urgent_deadline is not None,
        "watchlists": [{"id": w, "version_hash": h} for w, h in d.watchlists],
    }


def build_oversight(repo: Repository, start: datetime, end: datetime) -> dict[str, Any]:
    """The report for ``[start, end)`` as a JSON-ready dict (see the module docstring)."""
    deployments = [d for d in repo.list_deployments() if d.starts_at < end and d.ends_at > start]
    entries = [e for e in iter_entries(repo) if start <= e.at < end]
    per_dep: dict[str, _Tally] = defaultdict(_Tally)
    per_wl: dict[str, _Tally] = defaultdict(_Tally)
    alert_home: dict[str, tuple[str, str]] = {}
    purges: Counter[str] = Counter()
    _tally(entries, per_dep, per_wl, alert_home, purges)
    drift = DriftStore(repo.db)
    return {
        "schema": SCHEMA,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "deployments": [
            {**_deployment(d), **per_dep[d.id].as_json(), "drift": _drift(drift.get(d.id))}
            for d in deployments
        ],
        "drift_flags_in_period": sum(e.action == AuditAction.DEPLOYMENT_DRIFT for e in entries),
        "watchlists": {w: t.as_json() for w, t in sorted(per_wl.items())},
        "totals": _total(per_dep.values()).as_json(),
        "purges": dict(sorted(purges.items())),
        "cases": case_statistics(entries),
        "audit_entries_in_period": len(entries),
    }


def case_statistics(entries: Iterable[AuditEntry]) -> dict[str, Any]:
    """Which face alerts of the period led to what, from the chain alone (see the docs).

    ``alerts_with_outcome`` counts alerts named by a ``case.outcome`` entry (the latest outcome
    of each alert counts in ``alert_outcomes``); ``case_outcomes`` counts every outcome recorded
    in the period, with or without an alert. ``reviewer_false_match_rate`` is the share of the
    decided alerts that reviewers found false: rejected, or confirmed and later given the
    outcome ``false_match``. It is a rate *per alert*, next to the mean calibrated false-alert
    rate the alerts displayed, which is a rate *per face compared*: the two answer different
    questions (how often a lead is wrong; how often a passer-by raises one), and a reviewer rate
    far above what the calibration implies for the faces scanned is what an auditor asks about.
    """
    raised: dict[str, float | None] = {}
    confirmed: set[str] = set()
    rejected: set[str] = set()
    latest: dict[str, str] = {}
    counts: Counter[str] = Counter()
    case_outcomes: Counter[str] = Counter()
    for e in entries:
        d, target = _details(e), _id(e.target)
        if e.action == AuditAction.ALERT_RAISE and d.get("kind", "face_match") == "face_match":
            far = d.get("false_alert_rate")
            raised[target] = float(far) if far else None
        elif e.action == AuditAction.ALERT_ACTIONABLE:
            confirmed.add(target)
        elif e.action == AuditAction.ALERT_REJECT:
            rejected.add(target)
        elif e.action == AuditAction.CASE_OUTCOME:
            case_outcomes[d.get("outcome", "unknown")] += 1
            if d.get("alert") in raised:
                latest[d["alert"]] = d.get("outcome", "unknown")
        elif e.action in _CASE_STEPS:
            counts[_CASE_STEPS[e.action]] += 1
    confirmed &= raised.keys()
    rejected &= raised.keys()
    decided = confirmed | rejected
    false = rejected | {a for a, o in latest.items() if o == "false_match"}
    fars = [f for f in raised.values() if f is not None]
    return {
        **{name: counts[name] for name in _CASE_STEPS.values()},
        "alerts_raised": len(raised),
        "alerts_confirmed": len(confirmed),
        "alerts_rejected": len(rejected),
        "alerts_with_outcome": len(latest),
        "alert_outcomes": dict(sorted(Counter(latest.values()).items())),
        "case_outcomes": dict(sorted(case_outcomes.items())),
        "reviewer_false_match_rate": len(false & decided) / len(decided) if decided else None,
        "mean_calibrated_false_alert_rate": sum(fars) / len(fars) if fars else None,
    }


_CASE_STEPS = {
    AuditAction.CASE_OPEN.value: "cases_opened",
    AuditAction.CASE_CLOSE.value: "cases_closed",
    AuditAction.CASE_REOPEN.value: "cases_reopened",
    AuditAction.CASE_RELEASE_HOLDS.value: "holds_released",
    AuditAction.EXPORT.value: "exports",
}


def _tally(
    entries: Iterable[AuditEntry],
    per_dep: dict[str, _Tally],
    per_wl: dict[str, _Tally],
    alert_home: dict[str, tuple[str, str]],
    purges: Counter[str],
) -> None:
    for e in entries:
        d = _details(e)
        home = alert_home.get(_id(e.target))
        tallies = [per_dep[home[0]], per_wl[home[1]]] if home else []
        if e.action == AuditAction.DEPLOYMENT_SCAN_SUMMARY:
            per_dep[_id(e.target)].faces_scanned += int(d.get("faces_scanned", 0))
        elif e.action == AuditAction.ALERT_RAISE and d.get("kind", "face_match") == "face_match":
            alert_home[_id(e.target)] = (d.get("deployment", ""), d.get("watchlist", ""))
            for t in (per_dep[d.get("deployment", "")], per_wl[d.get("watchlist", "")]):
                t.alerts += 1
                if "false_alert_rate" in d:
                    t.calibrated_far.append(float(d["false_alert_rate"]))
                if "false_alert_point" in d:
                    t.calibrated_point.append(float(d["false_alert_point"]))
        elif e.action == AuditAction.ALERT_ACTIONABLE:
            for t in tallies:
                t.confirmed += 1
        elif e.action == AuditAction.ALERT_REJECT:
            for t in tallies:
                t.rejected += 1
        elif e.action == AuditAction.ALERT_OUTCOME:
            for t in tallies:
                t.outcomes[d.get("outcome", "unknown")] += 1
        elif e.action == AuditAction.DEPLOYMENT_PURGE:
            purges["deployments_purged"] += 1
            purges["alerts_deleted"] += int(d.get("alerts_deleted", 0))
        elif e.action == AuditAction.PURGE_SIGHTINGS:
            purges["non_match_sightings_stripped"] += int(d.get("sightings_stripped", 0))
        elif e.action == AuditAction.RETENTION_RUN:
            purges["retention_alerts_deleted"] += int(d.get("alerts", 0))
            purges["retention_sightings_deleted"] += int(d.get("sightings", 0))
    # Scan summaries of watchlists: faces compared against a deployment were compared with
    # every watchlist it pinned.
    for dep_id, tally in list(per_dep.items()):
        for wl_id in {h[1] for h in alert_home.values() if h[0] == dep_id}:
            per_wl[wl_id].faces_scanned = max(per_wl[wl_id].faces_scanned, tally.faces_scanned)


def _total(tallies: Iterable[_Tally]) -> _Tally:
    total = _Tally()
    for t in tallies:
        total.faces_scanned += t.faces_scanned
        total.alerts += t.alerts
        total.confirmed += t.confirmed
        total.rejected += t.rejected
        total.calibrated_far += t.calibrated_far
        total.calibrated_point += t.calibrated_point
        total.outcomes.update(t.outcomes)
    return total


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def to_markdown(doc: dict[str, Any]) -> str:
    """Render the JSON report as Markdown for people."""
    lines = [
        f"# Oversight report {doc['from']} to {doc['to']}",
        "",
        "## Deployments",
        "",
        "| deployment | purpose | kind | state | hours | authorised by | faces scanned | alerts "
        "| confirmed | rejected | observed false-alert rate | mean calibrated rate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for d in doc["deployments"]:
        cells = [
            d["id"][:12],
            d["purpose"],
            d["kind"],
            d["state"],
            d["duration_hours"],
            d["authorised_by"],
            d["faces_scanned"],
            d["alerts"],
            d["confirmed"],
            d["rejected"],
            d["observed_false_alert_rate"],
            d["mean_calibrated_false_alert_rate"],
        ]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    lines += [
        "",
        "## Watchlists",
        "",
        "| watchlist | alerts | confirmed | rejected | observed false-alert rate |",
        "| --- | --- | --- | --- | --- |",
    ]
    for wid, t in doc["watchlists"].items():
        cells = [
            wid[:12],
            t["alerts"],
            t["confirmed"],
            t["rejected"],
            t["observed_false_alert_rate"],
        ]
        lines.append("| " + " | ".join(_fmt(c) for c in cells) + " |")
    lines += [
        "",
        "## False alerts per search and the drift watch",
        "",
        "Rejected alerts per face scanned (exact 95% interval) beside the calibrated rate the "
        "alerts displayed (95% upper bound; point estimate). A drift flag means rejections were "
        "significantly above the calibrated rate (a sequential test, docs/safeguards.md).",
        "",
        "| deployment | rejected per search (95% CI) | calibrated bound | point | drift |",
        "| --- | --- | --- | --- | --- |",
    ]
    for d in doc["deployments"]:
        ci = d.get("rejected_per_search_ci95")
        observed = f"{_fmt(d['rejected_per_search'])} ({ci[0]:.2g}–{ci[1]:.2g})" if ci else "–"
        drift = d.get("drift")
        flag = (
            "not watched"
            if drift is None
            else f"FLAGGED after {drift['flagged_after_searches']} searches"
            if drift["flagged"]
            else f"no flag ({drift['false_alerts']} rejected in {drift['searches']} searches)"
        )
        cells = [
            d["id"][:12],
            observed,
            _fmt(d["mean_calibrated_false_alert_rate"]),
            _fmt(d["mean_calibrated_false_alert_point"]),
            flag,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    tot = doc["totals"]
    lines += [
        "",
        "## Totals",
        "",
        f"Faces scanned {tot['faces_scanned']}, alerts {tot['alerts']}, confirmed "
        f"{tot['confirmed']}, rejected {tot['rejected']}, pending {tot['pending']}.",
        f"Outcomes: {_fmt(tot['outcomes'] or 'none')}.",
        "",
        "## Purges",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in doc["purges"].items()] or ["- none"]
    cases = doc.get("cases") or {}
    if cases:
        lines += [
            "",
            "## Cases and outcomes",
            "",
            f"Cases opened {cases['cases_opened']}, closed {cases['cases_closed']}, reopened "
            f"{cases['cases_reopened']}, holds released {cases['holds_released']}, evidence "
            f"exports {cases['exports']}.",
            f"Face alerts raised {cases['alerts_raised']}: confirmed {cases['alerts_confirmed']}, "
            f"rejected {cases['alerts_rejected']}, leading to a recorded outcome "
            f"{cases['alerts_with_outcome']} ({_fmt(cases['alert_outcomes'] or 'none')}).",
            f"Outcomes recorded on cases: {_fmt(cases['case_outcomes'] or 'none')}.",
            f"False matches seen by reviewers: {_fmt(cases['reviewer_false_match_rate'])} of "
            "decided alerts; mean calibrated false-alert rate shown on the alerts (per face "
            f"compared): {_fmt(cases['mean_calibrated_false_alert_rate'])}.",
        ]
    return "\n".join(lines) + "\n"
