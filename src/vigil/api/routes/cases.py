"""``/cases``: open a case and put records on legal hold by linking them to it.

Thin handlers over :meth:`vigil.governance.purge.Purger.open_case` and
:meth:`~vigil.governance.purge.Purger.hold`. A case is on legal hold from the moment it is
opened: alerts, sightings and plate reads linked to it are kept whatever their retention says.
Investigators and supervisors open cases and link records, each with a reason, audited as
``case.open`` and ``case.legal_hold``; reading a case shows what it holds.

Who sees a case (:mod:`vigil.api.scope`): the person who opened it, the people they share it with
(``POST /cases/{id}/shares``, audited ``case.share``), and auditors (read only); anyone else gets
the 404 a missing case gets. Linking is camera-scoped like every other touch of a record: a record
outside the caller's cameras reads as missing, and a case read shows only the links whose records
the reader's cameras allow (``hidden_links`` counts the others).

A case also lists its footage searches (post-event face and plate jobs, newest first) whose
cameras the reader may all see; to investigators each with its appearances and their clips, a
view of search results and so audited (``search.run`` kind ``postevent_view``, via ``case``) like
``GET /investigations/jobs/{id}/results``. Supervisors and auditors see the jobs, not the hits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, Field

from vigil.api.deps import access, services
from vigil.api.routes.common import router
from vigil.api.routes.investigations import AppearanceOut, JobOut
from vigil.api.schemas import ID_PATTERN, Body, Created, Done, IdPath, Reason
from vigil.api.scope import camera_allowed, link_visible, require
from vigil.core.domain import CaseRow, Role
from vigil.governance.accounts import Principal
from vigil.system.services import Services

cases = router("/cases", "cases")
HOLDERS = (Role.INVESTIGATOR, Role.SUPERVISOR)
READERS = (*HOLDERS, Role.AUDITOR)


class CaseIn(Body):
    title: str = Field(min_length=1, max_length=200)
    reason: Reason


class LinkIn(Body):
    kind: Literal["alert", "sighting", "plate_read"] = Field(
        description="What is held: an alert, a sighting, or a plate read (its id from plate "
        "search)."
    )
    target_id: str = Field(pattern=ID_PATTERN, max_length=64)
    reason: Reason


class ShareIn(Body):
    user_id: str = Field(pattern=ID_PATTERN, max_length=64, description="Who may see the case.")
    reason: Reason


class LinkOut(BaseModel):
    kind: str
    target_id: str
    added_by: str
    added_at: datetime


class CaseSummary(BaseModel):
    id: str
    title: str
    status: str
    legal_hold: bool
    opened_by: str
    opened_at: datetime


class OutcomeOut(BaseModel):
    id: str
    outcome: str
    reason: str
    alert_id: str | None
    recorded_by: str
    recorded_at: datetime


class ClipOut(BaseModel):
    id: str
    camera_id: str
    start_at: datetime
    end_at: datetime
    added_by: str


class CaseOut(CaseSummary):
    closed_at: datetime | None = None
    closed_by: str | None = None
    outcomes: list[OutcomeOut] = Field(default_factory=list)
    clips: list[ClipOut] = Field(
        default_factory=list, description="Footage windows kept (of the reader's cameras)."
    )
    links: list[LinkOut]
    hidden_links: int = Field(
        0, description="Links to records outside the reader's cameras (not shown)."
    )
    shared_with: list[str]
    footage_searches: list[FootageSearchOut] = Field(
        default_factory=list,
        description="Post-event footage searches of the case (of the reader's cameras).",
    )


class FootageSearchOut(BaseModel):
    job: JobOut
    appearances: list[AppearanceOut] | None = Field(
        None, description="Investigators only (the view is audited); null for other readers."
    )
    truncated: bool = False


def _summary(case: CaseRow) -> dict[str, object]:
    return {
        "id": case.id,
        "title": case.title,
        "status": case.status,
        "legal_hold": case.legal_hold,
        "opened_by": case.opened_by,
        "opened_at": case.opened_at,
    }


@cases.post("", response_model=Created, status_code=201)
def open_case(body: CaseIn, request: Request, p: Principal = access(*HOLDERS)) -> Created:
    """Open a case, on legal hold from the start (audited)."""
    return Created(id=services(request).purger.open_case(p.actor, body.title, body.reason).id)


@cases.get("", response_model=list[CaseSummary])
def list_cases(request: Request, p: Principal = access(*READERS)) -> list[CaseSummary]:
    """The cases the caller opened or was shared (auditors: every case), newest first."""
    visible_to = None if Role.AUDITOR in p.roles else p.user.id
    rows = services(request).repo.list_cases(visible_to=visible_to, limit=500)
    return [CaseSummary.model_validate(_summary(c)) for c in rows]


@cases.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: IdPath, request: Request, p: Principal = access(*READERS)) -> CaseOut:
    """A case and the records it holds (of the reader's cameras)."""
    svc = services(request)
    case = svc.repo.get_case(case_id)
    links = svc.repo.case_links(case_id)
    shown = [k for k in links if link_visible(svc, p, k.kind, k.target_id)]
    clips = [c for c in svc.cases.store.clips(case_id) if camera_allowed(p, c.camera_id)]
    return CaseOut.model_validate(
        {
            **_summary(case),
            "closed_at": case.closed_at,
            "closed_by": case.closed_by,
            "outcomes": [
                OutcomeOut.model_validate(o, from_attributes=True)
                for o in svc.cases.store.outcomes(case_id)
            ],
            "clips": [ClipOut.model_validate(c, from_attributes=True) for c in clips],
            "links": [
                LinkOut(
                    kind=k.kind, target_id=k.target_id, added_by=k.added_by, added_at=k.added_at
                )
                for k in shown
            ],
            "hidden_links": len(links) - len(shown),
            "shared_with": svc.repo.case_sharers(case_id),
            "footage_searches": _footage(svc, p, case_id),
        }
    )


def _footage(svc: Services, p: Principal, case_id: str) -> list[FootageSearchOut]:
    """The case's footage-search jobs the reader may see, with appearances for investigators."""
    runner = svc.postevent
    if runner is None:
        return []
    out = []
    for job in runner.store.jobs_of_case(case_id, limit=50):
        if not all(camera_allowed(p, c) for c in job.camera_ids):
            continue
        item = FootageSearchOut(job=JobOut.of(job))
        if Role.INVESTIGATOR in p.actor.roles:
            search = runner.search
            found, _, cut = search.view_appearances(
                p.actor, job.id, f"case {case_id} read", via="case"
            )
            item.appearances = [AppearanceOut.of(a, search.appearance_pad) for a in found]
            item.truncated = cut
        out.append(item)
    return out


@cases.post("/{case_id}/shares", response_model=Done, status_code=201)
def share(
    case_id: IdPath, body: ShareIn, request: Request, p: Principal = access(*HOLDERS)
) -> Done:
    """Let a colleague (investigator or supervisor) see and add to the case; only the person who
    opened it may (audited)."""
    services(request).purger.share_case(p.actor, case_id, body.user_id, body.reason)
    return Done()


@cases.post("/{case_id}/links", response_model=Done, status_code=201)
def link(case_id: IdPath, body: LinkIn, request: Request, p: Principal = access(*HOLDERS)) -> Done:
    """Link a record of the caller's cameras to the case: it is kept past retention while the
    case holds (audited)."""
    svc = services(request)
    require(svc, p, body.kind, body.target_id, write=True)
    svc.purger.hold(p.actor, case_id, body.kind, body.target_id, body.reason)
    return Done()
