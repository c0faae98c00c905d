"""``vigil db migrate|status|backup|restore``: schema migrations and backups of the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil import logs
from vigil.config import load_config

if TYPE_CHECKING:
    from vigil.storage.database import Database

app = typer.Typer(help="Database schema and backups.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")


def _db(config_path: Path | None, *, migrate: bool = False) -> Database:
    from vigil.storage.factory import open_database_from_config

    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    return open_database_from_config(config, migrate=migrate)


@app.command("migrate")
def migrate(
    config_path: Path | None = CONFIG,
    revision: str = typer.Option("head", help="Target revision (default: newest)."),
) -> None:
    """Create or upgrade the schema to the newest revision shipped with this version."""
    db = _db(config_path)
    before = db.current_revision()
    after = db.migrate(revision)
    typer.echo(f"{db.dialect}: schema {before or '(empty)'} -> {after}")


@app.command("status")
def status(config_path: Path | None = CONFIG) -> None:
    """Show the schema revision in the database and the newest one available."""
    db = _db(config_path)
    current, head = db.current_revision(), db.head_revision()
    note = "up to date" if current == head else "run `vigil db migrate`"
    typer.echo(f"{db.dialect}: schema {current or '(empty)'}, newest {head} ({note})")


@app.command("backup")
def backup(
    dest: Path = typer.Argument(..., help="File to write the backup to."),
    config_path: Path | None = CONFIG,
) -> None:
    """Write a consistent backup (SQLite online backup API, PostgreSQL pg_dump -Fc)."""
    from vigil.storage.backup import backup as do_backup

    db = _db(config_path)
    do_backup(db, dest)
    typer.echo(f"backup written to {dest}")


@app.command("restore")
def restore(
    src: Path = typer.Argument(..., help="A backup written by `vigil db backup`."),
    config_path: Path | None = CONFIG,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Replace the database's contents with a backup, then migrate it to the newest schema.
    Stop the running service first."""
    from vigil.storage.backup import restore as do_restore

    db = _db(config_path)
    if not yes:
        typer.confirm(f"Replace the {db.dialect} database with {src}?", abort=True)
    do_restore(db, src)
    db.migrate()
    typer.echo(f"restored from {src}")
