"""``vigil hotlists create|list|show|add|remove-entry|delete`` on the configured database.

Every change goes through :class:`vigil.governance.hotlists.HotlistService`, the service behind
the API's ``/hotlists`` routes, over the same :class:`~vigil.storage.plates.PlateStore` and audit
chain, so the roles (supervisor or investigator), the refusals and the audit entries
(``hotlist.create``, ``hotlist.add_entry``, ``hotlist.remove_entry``, ``hotlist.delete``) are the
same from the shell as over HTTP. The arguments are checked by the API's own request models
(``HotlistIn``, ``EntryIn`` and the reason header) before the database is opened, so a priority,
retention, reason or plate pattern the API refuses is refused here by the same rule, with exit 2
(an entry with too few fixed characters, ``?*`` say, is refused by the service's
``require_specific``, the rule the API and the console reach too).

``--actor`` names the user account on whose behalf a change is made; the account must exist, be
enabled and hold a role the service requires, and the audit chain records that user. Trade-off:
the CLI runs on a host that already holds the database credentials, so it does not ask for the
user's password (and ``list``/``show`` need no actor); whoever can run it could also read and
write the database directly. Use the API where people must authenticate.

Exit codes follow ``vigil``'s: 2 invalid input (the field and the rule are printed), 4 refused by
role, 1 unknown user, hotlist or entry, or an entry the list already holds.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vigil import logs
from vigil.cli.options import parse_optional_when
from vigil.config import load_config
from vigil.errors import ValidationError

if TYPE_CHECKING:
    from pydantic import BaseModel

    from vigil.governance.actors import Actor
    from vigil.governance.hotlists import HotlistService
    from vigil.storage import Repository

app = typer.Typer(help="Licence-plate hotlists and their entries (audited).", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")
ACTOR = typer.Option(..., "--actor", help="Username the change is made for (needs the role).")
REASON = typer.Option(..., "--reason", help="Why (written to the audit chain).")
EXPIRES = typer.Option(None, "--expires-at", help="When it lapses (ISO 8601; UTC if no offset).")
HOTLIST = typer.Argument(..., help="Hotlist id (see `vigil hotlists list`).")
# API field name -> the option that carries it here, for error messages.
OPTIONS = {"retention_days": "retention-days", "expires_at": "expires-at"}


def _checked(model: type[BaseModel], **values: Any) -> Any:
    """``values`` validated by the API's request model ``model``; :class:`ValidationError` naming
    the option and the rule otherwise."""
    import pydantic

    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0])
        info = model.model_fields.get(field)
        raise ValidationError(
            f"--{OPTIONS.get(field, field)}: {err['msg']}, got {err.get('input')!r}",
            hint=info.description if info is not None else None,
        ) from None


def _reason(reason: str) -> str:
    """A delete's reason, checked like the API's ``X-Vigil-Reason`` header."""
    import pydantic

    from vigil.api.routes.plates import ReasonHeader

    try:
        return str(pydantic.TypeAdapter(ReasonHeader).validate_python(reason))
    except pydantic.ValidationError as exc:
        raise ValidationError(f"--reason: {exc.errors()[0]['msg']}, got {reason!r}") from None


def _open(config_path: Path | None) -> tuple[Repository, HotlistService]:
    """The repository and the hotlist service, wired as the API's services wire them."""
    from vigil.governance.audit import AuditLog
    from vigil.governance.hotlists import HotlistService
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config
    from vigil.storage.plates import PlateStore

    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
    entry_min = config.plates.entry_min_literals
    return repo, HotlistService(PlateStore(repo.db), audit, min_literals=entry_min)


def _actor(repo: Repository, username: str) -> Actor:
    from vigil.governance.actors import Actor

    return Actor.from_user(repo.get_user(username=username))


def _date(ts: datetime | None) -> str:
    return ts.isoformat() if ts else "-"


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Short name of the list."),
    priority: int = typer.Option(
        ..., "--priority", help="0-100; the most urgent list wins when a plate is on several."
    ),
    retention_days: float = typer.Option(
        ..., "--retention-days", help="How long reads that hit this list are kept (days)."
    ),
    expires_at: str | None = EXPIRES,
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Create an empty hotlist owned by --actor."""
    from vigil.api.routes.plates import HotlistIn

    body = _checked(
        HotlistIn,
        name=name,
        priority=priority,
        reason=reason,
        retention_days=retention_days,
        expires_at=parse_optional_when(expires_at, "expires-at"),
    )
    repo, svc = _open(config_path)
    row = svc.create(
        _actor(repo, actor),
        name=body.name,
        priority=body.priority,
        reason=body.reason,
        retention_days=body.retention_days,
        expires_at=body.expires_at,
    )
    typer.echo(
        f"created hotlist {row.id} (priority {row.priority}, hits kept {row.retention_days:g} days)"
    )


@app.command("list")
def list_hotlists(config_path: Path | None = CONFIG) -> None:
    """List hotlists, most urgent first: id, name, priority, entries, expiry, retention."""
    _, svc = _open(config_path)
    for h in svc.store.list_hotlists():
        n = len(svc.store.list_entries(h.id))
        typer.echo(
            f"{h.id}\t{h.name}\tpriority {h.priority}\t{n} entr{'y' if n == 1 else 'ies'}"
            f"\t{_date(h.expires_at)}\t{h.retention_days:g} days"
        )


@app.command("show")
def show(hotlist_id: str = HOTLIST, config_path: Path | None = CONFIG) -> None:
    """One hotlist with its entries: id, pattern, reason, expiry."""
    _, svc = _open(config_path)
    h = svc.store.get_hotlist(hotlist_id)
    typer.echo(f"{h.id}  {h.name}  (priority {h.priority})")
    typer.echo(f"  reason: {h.reason}")
    typer.echo(f"  owner: {h.owner_id}  created: {h.created_at.isoformat()}")
    typer.echo(f"  expires: {_date(h.expires_at)}  hits kept {h.retention_days:g} days")
    for e in svc.store.list_entries(hotlist_id):
        typer.echo(f"  entry {e.id}\t{e.pattern}\t{e.reason}\t{_date(e.expires_at)}")


@app.command("add")
def add(
    hotlist_id: str = HOTLIST,
    pattern: str = typer.Option(
        ...,
        "--pattern",
        "--plate",
        help="Exact plate or wildcard: '?' one character, '*' any run (e.g. 'AB?12*').",
    ),
    expires_at: str | None = EXPIRES,
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Add an exact or wildcard plate to a hotlist (exit 1 if the list already holds it)."""
    from vigil.api.routes.plates import EntryIn

    body = _checked(
        EntryIn,
        pattern=pattern,
        reason=reason,
        expires_at=parse_optional_when(expires_at, "expires-at"),
    )
    repo, svc = _open(config_path)
    e = svc.add_entry(
        _actor(repo, actor), hotlist_id, body.pattern, body.reason, expires_at=body.expires_at
    )
    typer.echo(f"added entry {e.id} ({e.pattern}) to hotlist {hotlist_id}")


@app.command("remove-entry")
def remove_entry(
    hotlist_id: str = HOTLIST,
    entry_id: str = typer.Argument(..., help="Entry id (see `vigil hotlists show`)."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Remove one entry from a hotlist."""
    why = _reason(reason)
    repo, svc = _open(config_path)
    svc.remove_entry(_actor(repo, actor), hotlist_id, entry_id, why)
    typer.echo(f"removed entry {entry_id} from hotlist {hotlist_id}")


@app.command("delete")
def delete(
    hotlist_id: str = HOTLIST,
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Delete a hotlist and its entries; its hits fall back to the plain read retention."""
    why = _reason(reason)
    repo, svc = _open(config_path)
    svc.delete(_actor(repo, actor), hotlist_id, why)
    typer.echo(f"deleted hotlist {hotlist_id}")
