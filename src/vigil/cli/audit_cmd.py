"""``vigil audit verify|head``: check the tamper-evident audit chain and print its anchor."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil import logs
from vigil.config import load_config

if TYPE_CHECKING:
    from vigil.governance.audit import AuditLog

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")
ANCHOR = "audit-anchor.json"


def audit_log(config_path: Path | None) -> AuditLog:
    """The audit log of the configured database, with its anchor file in ``data_dir``."""
    from vigil.governance.audit import AuditLog
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config

    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    return AuditLog(repo, anchor_path=config.system.data_dir / ANCHOR)


@app.command("verify")
def verify(config_path: Path | None = CONFIG) -> None:
    """Check every link of the chain (and the anchor); exit 1 at the first broken link."""
    report = audit_log(config_path).verify()
    typer.echo(report.describe())
    if not report.ok:
        raise typer.Exit(1)


@app.command("head")
def head(config_path: Path | None = CONFIG) -> None:
    """Print the newest link (seq and hash): keep a copy elsewhere to detect a cut tail."""
    entry = audit_log(config_path).store.last_audit()
    typer.echo("empty" if entry is None else f"{entry.seq} {entry.entry_hash}")
