"""``vigil sightings search``: attribute search from the command line, under the API's rules.

The same service as ``GET /api/v1/sightings/search``
(:class:`vigil.governance.attribute_search.AttributeSearch`): a query naming a protected
characteristic - in ``--q``, a colour option or an extra ``--field name=value`` - is refused
(exit 2, one clear message) and the refusal is audited as ``search.refused`` under ``--actor``;
a search is audited as ``search.run``. ``--actor`` must be an enabled supervisor or
investigator; an actor limited to some cameras searches only those.
"""

from __future__ import annotations

from pathlib import Path

import typer

from vigil import logs
from vigil.cli.options import parse_optional_when
from vigil.config import load_config
from vigil.errors import PermissionDeniedError, ValidationError

app = typer.Typer(help="Search stored sightings by appearance (audited).", no_args_is_help=True)


@app.command("search")
def search(
    q: str | None = typer.Option(None, "--q", help="Strict free text, e.g. 'white van'."),
    cls: str | None = typer.Option(None, "--class", help="person or a vehicle type."),
    upper: str | None = typer.Option(None, "--upper", help="Top colour (persons)."),
    lower: str | None = typer.Option(None, "--lower", help="Trousers colour (persons)."),
    colour: str | None = typer.Option(None, "--colour", help="Body colour (vehicles)."),
    field: list[str] = typer.Option(
        [], "--field", help="Any other field as name=value (checked and refused like the API)."
    ),
    cameras: str | None = typer.Option(None, "--cameras", help="Comma-separated camera ids."),
    since: str | None = typer.Option(None, "--since", help="ISO 8601 time with zone."),
    until: str | None = typer.Option(None, "--until", help="ISO 8601 time with zone."),
    limit: int = typer.Option(20, "--limit", min=1, max=500),
    actor: str = typer.Option(..., "--actor", help="Username of the investigator."),
    reason: str = typer.Option(..., "--reason", help="Why (written to the audit chain)."),
    config_path: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml"),
) -> None:
    """Ranked sightings: id, class, camera, start, top, trousers, vehicle colour, match."""
    from vigil.core.domain import Role
    from vigil.governance.attribute_search import AttributeSearch, SearchRequest, build_query
    from vigil.governance.audit import AuditLog
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config

    params = {k: v for k, v in {"q": q, "class": cls, "upper": upper, "lower": lower}.items() if v}
    if colour:
        params["colour"] = colour
    for item in field:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValidationError(f"--field must be name=value, got {item!r}")
        params[name.strip()] = value
    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
    user = repo.get_user(username=actor)
    if user.disabled or not {Role.SUPERVISOR, Role.INVESTIGATOR} & set(user.roles):
        raise PermissionDeniedError(f"{actor} is not an enabled supervisor or investigator")
    svc = AttributeSearch(repo.db, audit)
    svc.refuse_protected(user.id, params.items(), reason)
    wanted = frozenset(c.strip() for c in (cameras or "").split(",") if c.strip())
    allowed = frozenset(user.cameras) if user.cameras is not None else None
    if allowed is not None and wanted - allowed:
        raise ValidationError(f"unknown camera(s) {', '.join(sorted(wanted - allowed))}")
    scope = wanted or allowed
    query = build_query({k: v for k, v in params.items() if k not in ("cameras",)})
    when = (parse_optional_when(since, "since"), parse_optional_when(until, "until"))
    req = SearchRequest(query, scope, *when)
    rows = svc.run(user.id, params, req, reason=reason, limit=limit, offset=0)
    for s in rows[:limit]:
        typer.echo(
            f"{s.id}\t{s.object_class.value}\t{s.camera_id}\t{s.started_at.isoformat()}"
            f"\t{s.upper_colour or '-'}\t{s.lower_colour or '-'}\t{s.body_colour or '-'}"
            f"\t{s.colour_score if s.colour_score is not None else '-'}"
        )
