"""``vigil audit verify|head``: check the tamper-evident audit chain and print its anchor.

Also the CLI's one way to the chain for other commands: :func:`settings_auditor` is what
``vigil calibrate`` and ``vigil cameras add|remove`` hand the config writer, so every setting they
change is recorded (who, which file, which keys, old and new values; never a secret).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil import logs
from vigil.config import load_config

if TYPE_CHECKING:
    from vigil.config.writer import SettingChange
    from vigil.governance.audit import AuditLog

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")
ANCHOR = "audit-anchor.json"


def audit_log(config_path: Path | None, *, environ: Mapping[str, str] | None = None) -> AuditLog:
    """The audit log of the configured database, with its anchor file in ``data_dir``."""
    from vigil.governance.audit import AuditLog
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config

    config = load_config(config_path, environ=environ)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    return AuditLog(repo, anchor_path=config.system.data_dir / ANCHOR)


def settings_auditor(
    config_path: Path, *, actor: str, reason: str, command: str
) -> Callable[[Sequence[SettingChange]], None]:
    """An ``on_change`` callback for :mod:`vigil.config.writer` that appends one
    ``setting.change`` entry per edit to the chain of the database ``config_path`` configures.

    The database is opened before the file changes (the edit may move it), and the entry is
    written before the file is replaced, so an edit that cannot be audited is not made.
    """
    from vigil.config.writer import environ_for_checking
    from vigil.errors import ValidationError
    from vigil.governance.audit import AuditAction

    if not actor.strip():
        raise ValidationError("--actor must not be empty")
    # Only the storage URL matters here; an unset variable in it fails loudly (no audit, no edit).
    log = audit_log(config_path, environ=environ_for_checking(config_path.read_text()))
    why = reason.strip() or f"{command} (no reason given)"

    def record(changes: Sequence[SettingChange]) -> None:
        details = [("command", command)] + [
            (
                c.path[:120],
                f"{c.old if c.old is not None else '(absent)'} -> "
                f"{c.new if c.new is not None else '(absent)'}",
            )
            for c in changes
        ]
        log.append(actor, AuditAction.SETTING_CHANGE, f"config:{config_path.name}", why, details)

    return record


@app.command("verify")
def verify(
    config_path: Path | None = CONFIG,
    expect_head: list[str] = typer.Option(
        [],
        "--expect-head",
        help="SEQ:HASH kept elsewhere (as `vigil audit head` printed it); the entry at SEQ must "
        "still carry HASH. Repeat for several.",
    ),
) -> None:
    """Check every link of the chain, the anchor and any expected heads, and that every user,
    deployment, watchlist, case, hotlist, alert and decision has its entry; exit 1 if not."""
    from vigil.governance.accountability import find_gaps
    from vigil.governance.audit import iter_entries, parse_head
    from vigil.storage.repo_admin import accountable_records

    expected = [parse_head(text) for text in expect_head]
    log = audit_log(config_path)
    report = log.verify(expected)
    typer.echo(report.describe())
    store = log.store
    db = getattr(store, "db", None)
    gaps = None if db is None else find_gaps(iter_entries(store), accountable_records(db))
    if gaps is not None:
        typer.echo(gaps.describe())
    if not report.ok or (gaps is not None and not gaps.ok):
        raise typer.Exit(1)


@app.command("head")
def head(config_path: Path | None = CONFIG) -> None:
    """Print the newest link as SEQ:HASH. Hand it to an oversight body (or print it in a
    report): `vigil audit verify --expect-head SEQ:HASH` later proves the chain still holds it,
    which detects even a full rewrite with recomputed hashes and a forged anchor."""
    found = audit_log(config_path).head()
    typer.echo("empty" if found is None else f"{found.seq}:{found.entry_hash}")
