"""``vigil watchlists create|list|show|enrol|remove-subject|versions`` on the configured database.

Every command goes through :class:`vigil.governance.watchlists.WatchlistService`, the service the
API's ``/watchlists`` routes use (built by :func:`vigil.system.governance.watchlist_factory`), so
the roles, the refusals (no face, several faces, below the quality bar, harvested from the camera
archive, over the size limit) and the audit entries are the same from the shell as over HTTP.

``--actor`` names the user account on whose behalf a change is made; the account must exist, be
enabled and hold a role the service requires (supervisor or investigator), and the audit chain
records that user. Trade-off: the CLI runs on a host that already holds the database credentials,
so it does not ask for the user's password; whoever can run it could also write to the database
directly. Use the API where people must authenticate.

Exit codes follow ``vigil``'s: 2 invalid input or a refused photo (the reason is printed),
3 no calibration or models, 4 refused by policy or role, 1 unknown watchlist or subject.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil import logs
from vigil.cli.options import parse_optional_when
from vigil.config import load_config
from vigil.errors import InputError, ModelError

if TYPE_CHECKING:
    from vigil.governance.actors import Actor
    from vigil.governance.watchlists import WatchlistService
    from vigil.storage import Repository

app = typer.Typer(help="Watchlists and their subjects (audited).", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")
ACTOR = typer.Option(..., "--actor", help="Username the change is made for (needs the role).")
REASON = typer.Option(..., "--reason", help="Why (written to the audit chain).")
MAX_PHOTOS = 5  # as the API's enrolment route


def _open(config_path: Path | None) -> tuple[Repository, WatchlistService]:
    """The repository and the watchlist service, wired as ``vigil run`` wires them."""
    from vigil.governance.audit import AuditLog
    from vigil.storage import Repository
    from vigil.storage.factory import media_store_from_config, open_database_from_config
    from vigil.system.governance import watchlist_factory

    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
    make = watchlist_factory(config, repo, media_store_from_config(config), audit)
    if make is None:
        raise ModelError(
            "watchlists are unavailable: no face calibration is configured",
            hint="run `vigil calibrate` and set faces.identification.calibration_file",
        )
    return repo, make()


def _actor(repo: Repository, username: str) -> Actor:
    from vigil.governance.actors import Actor

    return Actor.from_user(repo.get_user(username=username))


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Short name of the list."),
    category: str = typer.Option(
        ...,
        "--category",
        help="wanted_by_court | serious_offence_suspect | missing_or_vulnerable.",
    ),
    expires_at: str = typer.Option(
        ..., "--expires-at", help="When the list lapses (ISO 8601; UTC if no offset)."
    ),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Create an empty watchlist owned by --actor; an expiry is mandatory."""
    from vigil.governance.watchlists import Category

    try:
        cat = Category(category)
    except ValueError:
        raise InputError(
            f"--category must be one of {', '.join(c.value for c in Category)}, got {category!r}"
        ) from None
    expiry = parse_optional_when(expires_at, "expires-at")
    assert expiry is not None
    repo, svc = _open(config_path)
    wid = svc.create(_actor(repo, actor), name=name, category=cat, reason=reason, expires_at=expiry)
    typer.echo(f"created watchlist {wid} ({cat.value}, limit {repo.get_watchlist(wid).max_size})")


@app.command("list")
def list_watchlists(config_path: Path | None = CONFIG) -> None:
    """List watchlists: id, name, category, version, subjects, expiry."""
    repo, _ = _open(config_path)
    for w in repo.list_watchlists():
        n = len(repo.list_subjects(w.id))
        expiry = w.expires_at.isoformat() if w.expires_at else "-"
        typer.echo(f"{w.id}\t{w.name}\t{w.category}\tv{w.version}\t{n} subject(s)\t{expiry}")


@app.command("show")
def show(
    watchlist_id: str = typer.Argument(..., help="Watchlist id."),
    config_path: Path | None = CONFIG,
) -> None:
    """One watchlist with its subjects (labels and provenance; never templates or photos)."""
    repo, _ = _open(config_path)
    w = repo.get_watchlist(watchlist_id)
    typer.echo(f"{w.id}  {w.name}  ({w.category})")
    typer.echo(f"  reason: {w.reason}")
    typer.echo(f"  owner: {w.owner_id}  created: {w.created_at.isoformat()}")
    typer.echo(f"  expires: {w.expires_at.isoformat() if w.expires_at else '-'}")
    typer.echo(f"  version {w.version}  hash {w.version_hash or '-'}  limit {w.max_size}")
    templates = repo.templates_for_watchlist(watchlist_id)
    for s in repo.list_subjects(watchlist_id):
        mine = [t for t in templates if t.subject_id == s.id]
        sources = "; ".join(sorted({t.provenance for t in mine}))
        typer.echo(f"  subject {s.id}\t{s.label}\t{len(mine)} photo(s)\tfrom: {sources}")


@app.command("enrol")
def enrol(
    watchlist_id: str = typer.Argument(..., help="Watchlist id."),
    label: str = typer.Option(..., "--label", help="Who the subject is (name or case label)."),
    photo: list[Path] = typer.Option(
        ..., "--photo", help="Photo of the subject alone (repeat for several, at most 5)."
    ),
    provenance: str = typer.Option(
        ..., "--provenance", help="Where the photos come from (e.g. a court file reference)."
    ),
    captured_at: str | None = typer.Option(
        None, "--captured-at", help="When the photos were taken (ISO 8601)."
    ),
    expires_at: str | None = typer.Option(
        None, "--expires-at", help="When this subject lapses (ISO 8601)."
    ),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Enrol one subject from photos; each must show one face above the quality bar."""
    from vigil.governance.watchlists import EnrolmentPhoto

    if not 1 <= len(photo) <= MAX_PHOTOS:
        raise InputError(f"give 1 to {MAX_PHOTOS} --photo, got {len(photo)}")
    taken = parse_optional_when(captured_at, "captured-at")
    photos = []
    for path in photo:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read --photo {path}: {exc.strerror}") from exc
        photos.append(EnrolmentPhoto(data, provenance, taken))
    repo, svc = _open(config_path)
    who = _actor(repo, actor)
    sid = svc.enrol(
        who,
        watchlist_id,
        label=label,
        photos=photos,
        reason=reason,
        expires_at=parse_optional_when(expires_at, "expires-at"),
    )
    w = repo.get_watchlist(watchlist_id)
    typer.echo(f"enrolled subject {sid} in {watchlist_id}: version {w.version} {w.version_hash}")


@app.command("remove-subject")
def remove_subject(
    watchlist_id: str = typer.Argument(..., help="Watchlist id."),
    subject_id: str = typer.Argument(..., help="Subject id (see `vigil watchlists show`)."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Remove a subject with their templates and photos (makes a new version)."""
    repo, svc = _open(config_path)
    svc.remove_subject(_actor(repo, actor), watchlist_id, subject_id, reason)
    w = repo.get_watchlist(watchlist_id)
    typer.echo(f"removed subject {subject_id}: version {w.version} {w.version_hash or '(empty)'}")


@app.command("versions")
def versions(
    watchlist_id: str = typer.Argument(..., help="Watchlist id."),
    config_path: Path | None = CONFIG,
) -> None:
    """Every change of a watchlist from the audit chain: seq, time, who, what, version hash."""
    _, svc = _open(config_path)
    for e in svc.history(watchlist_id):
        details = dict(e.details)
        version = details.get("version", "-")
        typer.echo(f"{e.seq}\t{e.at.isoformat()}\t{e.actor}\t{e.action}\t{version}\t{e.reason}")
