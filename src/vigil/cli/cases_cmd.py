"""``vigil cases``: a case's lifecycle from the shell, through the service the API calls.

``--actor`` names the account acting; it must hold the investigator or supervisor role and be
the case's owner or someone it was shared with (the API's case scope), else exit 4. Every step is
audited like its API route; bad input exits 2 with the reason, a closed case refusing a change
exits 1 (conflict).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil.cli.options import parse_when
from vigil.errors import PermissionDeniedError

if TYPE_CHECKING:
    from vigil.governance.actors import Actor
    from vigil.governance.cases import CaseService

app = typer.Typer(help="Cases: outcomes, clips, close, reopen, release of holds (audited).")
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")
ACTOR = typer.Option(..., "--actor", help="Username acting (owner of the case or shared with).")
REASON = typer.Option(..., "--reason", help="Why (written to the audit chain).")


def open_case_service(config_path: Path | None) -> CaseService:
    """The case service over the configured database and audit chain (as ``vigil run``)."""
    from vigil import logs
    from vigil.config import load_config
    from vigil.governance.audit import AuditLog
    from vigil.governance.cases import CaseService
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config

    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
    return CaseService(repo, audit)


def case_actor(svc: CaseService, case_id: str, username: str) -> Actor:
    """The acting account, if the case is visible to it for changes (owner or shared with)."""
    from vigil.governance.actors import Actor

    actor = Actor.from_user(svc.repo.get_user(username=username))
    case = svc.repo.get_case(case_id)
    if actor.id != case.opened_by and actor.id not in svc.repo.case_sharers(case_id):
        raise PermissionDeniedError(f"case {case_id} is not {username}'s nor shared with them")
    return actor


@app.command("show")
def show(case_id: str, config_path: Path | None = CONFIG) -> None:
    """The case, its links, clips and outcomes, as JSON."""
    svc = open_case_service(config_path)
    case = svc.repo.get_case(case_id)
    doc = {
        "id": case.id,
        "title": case.title,
        "status": case.status,
        "legal_hold": case.legal_hold,
        "opened_by": case.opened_by,
        "links": [[k.kind, k.target_id] for k in svc.repo.case_links(case_id)],
        "clips": [
            [c.id, c.camera_id, c.start_at.isoformat(), c.end_at.isoformat()]
            for c in svc.store.clips(case_id)
        ],
        "outcomes": [[o.outcome, o.alert_id, o.reason] for o in svc.store.outcomes(case_id)],
    }
    typer.echo(json.dumps(doc, indent=2))


@app.command("outcome")
def outcome(
    case_id: str,
    what: str = typer.Option(..., "--outcome", help="arrest|charged|no_further_action|..."),
    alert: str | None = typer.Option(None, "--alert", help="The case's alert it follows from."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Record what the case (or one of its alerts) led to."""
    svc = open_case_service(config_path)
    row = svc.record_outcome(case_actor(svc, case_id, actor), case_id, what, reason, alert_id=alert)
    typer.echo(f"recorded outcome {row.id}")


@app.command("clip")
def clip(
    case_id: str,
    camera: str = typer.Option(..., "--camera", help="Camera id."),
    start: str = typer.Option(..., "--from", help="Start (ISO 8601; UTC if no offset)."),
    end: str = typer.Option(..., "--to", help="End, exclusive (at most 2 hours after --from)."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Keep a camera's footage of a time window with the case."""
    svc = open_case_service(config_path)
    who = case_actor(svc, case_id, actor)
    row = svc.link_clip(
        who, case_id, camera, parse_when(start, "from"), parse_when(end, "to"), reason
    )
    typer.echo(f"linked clip {row.id}")


@app.command("close")
def close(
    case_id: str, actor: str = ACTOR, reason: str = REASON, config_path: Path | None = CONFIG
) -> None:
    """Close an open case (holds stay until released)."""
    svc = open_case_service(config_path)
    svc.close(case_actor(svc, case_id, actor), case_id, reason)
    typer.echo(f"closed case {case_id}")


@app.command("reopen")
def reopen(
    case_id: str, actor: str = ACTOR, reason: str = REASON, config_path: Path | None = CONFIG
) -> None:
    """Reopen a closed case (held again)."""
    svc = open_case_service(config_path)
    svc.reopen(case_actor(svc, case_id, actor), case_id, reason)
    typer.echo(f"reopened case {case_id}")


@app.command("release-holds")
def release(
    case_id: str, actor: str = ACTOR, reason: str = REASON, config_path: Path | None = CONFIG
) -> None:
    """Take a closed case off legal hold."""
    svc = open_case_service(config_path)
    counts = svc.release_holds(case_actor(svc, case_id, actor), case_id, reason)
    typer.echo(f"released case {case_id}: {counts}")
