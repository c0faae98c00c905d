"""``/cases/{id}/...``: the rest of a case's life - outcomes, clips, searches, close, reopen,
release of holds - and its evidence export.

Thin handlers over :class:`vigil.governance.cases.CaseService` and
:class:`vigil.governance.evidence.EvidenceExporter`; each step is audited by the service in the
same transaction as its change. The case scope (owner, people it is shared with; auditors read
only) is checked for every path naming a ``case_id`` by :func:`vigil.api.scope.enforce`. A clip
names a camera, which must be one of the caller's; an export contains records of several
cameras, so it is refused (403) unless every record of the case is within the caller's cameras:
a partial bundle would look complete to whoever receives it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import Request
from fastapi.responses import FileResponse
from pydantic import Field, model_validator
from starlette.background import BackgroundTask

from vigil.api.deps import access, services
from vigil.api.routes.cases import HOLDERS
from vigil.api.routes.common import router
from vigil.api.schemas import ID_PATTERN, Body, Created, Done, IdPath, Reason, Timestamp
from vigil.api.scope import camera_allowed, link_visible, require
from vigil.errors import PermissionDeniedError
from vigil.governance.accounts import Principal

case_steps = router("/cases", "cases")


class OutcomeIn(Body):
    outcome: Literal["arrest", "charged", "no_further_action", "false_match", "other"]
    reason: Reason
    alert_id: str | None = Field(
        None,
        pattern=ID_PATTERN,
        max_length=64,
        description="The alert of the case this outcome follows from, if one.",
    )


class ClipIn(Body):
    camera_id: str = Field(pattern=ID_PATTERN, max_length=64)
    start: Timestamp
    end: Timestamp = Field(description="Exclusive; at most two hours after start.")
    reason: Reason


class SearchLinkIn(Body):
    seq: int = Field(ge=0, le=2**31 - 1, description="The audit seq of the search's `search.run`.")
    reason: Reason


class StepIn(Body):
    reason: Reason


class ExportIn(Body):
    redact: bool = Field(
        True, description="Blur bystanders' faces and plates (false needs a stated reason)."
    )
    reason: str = Field("", max_length=2000, description="Why; required when not redacting.")

    @model_validator(mode="after")
    def _reason_when_unredacted(self) -> ExportIn:
        if not self.redact and not self.reason.strip():
            raise ValueError("an unredacted export needs a stated reason")
        return self


@case_steps.post("/{case_id}/outcomes", response_model=Created, status_code=201)
def add_outcome(
    case_id: IdPath, body: OutcomeIn, request: Request, p: Principal = access(*HOLDERS)
) -> Created:
    """Record what the case (or one of its alerts) led to (audited ``case.outcome``)."""
    row = services(request).cases.record_outcome(
        p.actor, case_id, body.outcome, body.reason, alert_id=body.alert_id
    )
    return Created(id=row.id)


@case_steps.post("/{case_id}/clips", response_model=Created, status_code=201)
def add_clip(
    case_id: IdPath, body: ClipIn, request: Request, p: Principal = access(*HOLDERS)
) -> Created:
    """Keep a camera's footage of a time window with the case (a camera of the caller's)."""
    svc = services(request)
    require(svc, p, "camera", body.camera_id, write=True)
    clip = svc.cases.link_clip(p.actor, case_id, body.camera_id, body.start, body.end, body.reason)
    return Created(id=clip.id)


@case_steps.post("/{case_id}/searches", response_model=Done, status_code=201)
def add_search(
    case_id: IdPath, body: SearchLinkIn, request: Request, p: Principal = access(*HOLDERS)
) -> Done:
    """Link a search (its audit entry) to the case."""
    services(request).cases.link_search(p.actor, case_id, body.seq, body.reason)
    return Done()


@case_steps.post("/{case_id}/close", response_model=Done)
def close(case_id: IdPath, body: StepIn, request: Request, p: Principal = access(*HOLDERS)) -> Done:
    """Close the case (its holds stay until released)."""
    services(request).cases.close(p.actor, case_id, body.reason)
    return Done()


@case_steps.post("/{case_id}/reopen", response_model=Done)
def reopen(
    case_id: IdPath, body: StepIn, request: Request, p: Principal = access(*HOLDERS)
) -> Done:
    """Reopen a closed case; it is on legal hold again."""
    services(request).cases.reopen(p.actor, case_id, body.reason)
    return Done()


@case_steps.post("/{case_id}/release-holds", response_model=Done)
def release(
    case_id: IdPath, body: StepIn, request: Request, p: Principal = access(*HOLDERS)
) -> Done:
    """Take a closed case off legal hold: its records follow retention again."""
    services(request).cases.release_holds(p.actor, case_id, body.reason)
    return Done()


@case_steps.post(
    "/{case_id}/exports",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The signed bundle."}},
)
def export(
    case_id: IdPath, body: ExportIn, request: Request, p: Principal = access(*HOLDERS)
) -> FileResponse:
    """The case's evidence bundle (zip: clips, stills, manifest, audit proofs, signature).
    Bystanders are redacted unless ``redact`` is false with a reason (audited either way)."""
    svc = services(request)
    links = svc.repo.case_links(case_id)
    hidden = sum(not link_visible(svc, p, k.kind, k.target_id) for k in links)
    hidden += sum(not camera_allowed(p, c.camera_id) for c in svc.cases.store.clips(case_id))
    if hidden:
        raise PermissionDeniedError(
            f"{hidden} records of this case are outside your cameras; someone who sees "
            "all of them must export it"
        )
    folder = Path(tempfile.mkdtemp(prefix="vigil-export-"))
    try:
        result = svc.evidence.export(
            p.actor, case_id, folder / f"case-{case_id}.zip", redact=body.redact, reason=body.reason
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        result.path,
        media_type="application/zip",
        filename=result.path.name,
        headers={"X-Manifest-SHA256": result.manifest_sha256, "Cache-Control": "no-store"},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )
