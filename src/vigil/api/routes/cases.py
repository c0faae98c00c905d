"""``/cases``: open a case and put records on legal hold by linking them to it.

Thin handlers over :meth:`vigil.governance.purge.Purger.open_case` and
:meth:`~vigil.governance.purge.Purger.hold`. A case is on legal hold from the moment it is
opened: alerts, sightings and plate reads linked to it are kept whatever their retention says.
Investigators and supervisors open cases and link records, each with a reason, audited as
``case.open`` and ``case.legal_hold``; reading a case shows what it holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, Field

from vigil.api.accounts import Principal
from vigil.api.deps import access, services
from vigil.api.routes.common import router
from vigil.api.schemas import ID_PATTERN, Body, Created, Done, IdPath, Reason
from vigil.storage.rows import Role

cases = router("/cases", "cases")
HOLDERS = (Role.INVESTIGATOR, Role.SUPERVISOR)


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


class LinkOut(BaseModel):
    kind: str
    target_id: str
    added_by: str
    added_at: datetime


class CaseOut(BaseModel):
    id: str
    title: str
    status: str
    legal_hold: bool
    opened_by: str
    opened_at: datetime
    links: list[LinkOut]


@cases.post("", response_model=Created, status_code=201)
def open_case(body: CaseIn, request: Request, p: Principal = access(*HOLDERS)) -> Created:
    """Open a case, on legal hold from the start (audited)."""
    return Created(id=services(request).purger.open_case(p.actor, body.title, body.reason).id)


@cases.get("/{case_id}", response_model=CaseOut)
def get_case(case_id: IdPath, request: Request, _: Principal = access(*HOLDERS)) -> CaseOut:
    """A case and the records it holds."""
    repo = services(request).repo
    case = repo.get_case(case_id)
    links = [
        LinkOut(kind=k.kind, target_id=k.target_id, added_by=k.added_by, added_at=k.added_at)
        for k in repo.case_links(case_id)
    ]
    return CaseOut(
        id=case.id,
        title=case.title,
        status=case.status,
        legal_hold=case.legal_hold,
        opened_by=case.opened_by,
        opened_at=case.opened_at,
        links=links,
    )


@cases.post("/{case_id}/links", response_model=Done, status_code=201)
def link(case_id: IdPath, body: LinkIn, request: Request, p: Principal = access(*HOLDERS)) -> Done:
    """Link a record to the case: it is kept past retention while the case holds (audited)."""
    services(request).purger.hold(p.actor, case_id, body.kind, body.target_id, body.reason)
    return Done()
