"""``vigil users add|list|disable|cameras|roles``: manage accounts on the configured database.

The password is read from ``--password-stdin`` or prompted for (never a command-line argument,
which would land in shell history and ``ps``). Every change is written to the audit chain as the
local operator ``cli``.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer

from vigil.config import load_config
from vigil.core.domain import Role

app = typer.Typer(help="User accounts and roles.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")


def _services(config_path: Path | None):  # type: ignore[no-untyped-def]
    from vigil.governance.accounts import AccountService
    from vigil.governance.audit import AuditLog
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config
    from vigil.system.assembly import AUDIT_ANCHOR, sync_cameras

    config = load_config(config_path)
    repo = Repository(open_database_from_config(config))
    # Cameras of the config file are known before the system first runs (assignments check ids).
    sync_cameras(repo, config, datetime.now(UTC), keep_enabled=True)
    audit = AuditLog(repo, anchor_path=config.system.data_dir / AUDIT_ANCHOR)
    return repo, audit, AccountService(repo, secret=b"cli", audit=audit)


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name (lower case)."),
    role: list[Role] = typer.Option(..., "--role", "-r", help="Role (repeat for several)."),
    display_name: str = typer.Option("", help="Full name shown in the console."),
    camera: list[str] = typer.Option(
        [], "--camera", help="A camera the person may see (repeat); none given: every camera."
    ),
    password_stdin: bool = typer.Option(False, help="Read the password from stdin."),
    config_path: Path | None = CONFIG,
) -> None:
    """Create an account with one or more roles (optionally limited to some cameras)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _, _, accounts = _services(config_path)
    user = accounts.create_user(
        username,
        password,
        role,
        display_name,
        camera or None,
        by="cli",
        reason="created with vigil users add",
    )
    typer.echo(
        f"created {user.username} ({user.id}) with roles {', '.join(user.roles)}; "
        f"cameras: {_cameras_text(user.cameras)}"
    )


def _cameras_text(cameras: tuple[str, ...] | None) -> str:
    return "*" if cameras is None else ",".join(cameras)


@app.command("list")
def list_users(config_path: Path | None = CONFIG) -> None:
    """List accounts (never their password hashes)."""
    repo, _, _ = _services(config_path)
    for u in repo.list_users():
        state = "disabled" if u.disabled else "active"
        typer.echo(
            f"{u.username}\t{u.id}\t{','.join(u.roles)}\t{state}\t{_cameras_text(u.cameras)}"
        )


@app.command("disable")
def disable(
    username: str = typer.Argument(..., help="Login name."),
    reason: str = typer.Option(..., help="Why (written to the audit chain)."),
    config_path: Path | None = CONFIG,
) -> None:
    """Disable an account and revoke all its sessions and API keys."""
    repo, _, accounts = _services(config_path)
    user = repo.get_user(username=username)
    revoked = accounts.disable(user.id, by="cli", reason=reason)
    typer.echo(f"disabled {username}; revoked {revoked} session(s)/key(s)")


@app.command("cameras")
def cameras(
    username: str = typer.Argument(..., help="Login name."),
    camera: list[str] = typer.Option([], "--camera", help="A camera the person may see (repeat)."),
    all_cameras: bool = typer.Option(False, "--all", help="Every camera (no limit)."),
    reason: str = typer.Option(..., help="Why (written to the audit chain)."),
    config_path: Path | None = CONFIG,
) -> None:
    """Set the cameras a person may see (others' alerts, sightings and events are hidden).

    Takes effect on their next request.
    """
    if all_cameras == bool(camera):
        raise typer.BadParameter("give either --all or one or more --camera")
    repo, _, accounts = _services(config_path)
    user = repo.get_user(username=username)
    user = accounts.assign_cameras(
        user.id, None if all_cameras else camera, by="cli", reason=reason
    )
    typer.echo(f"{username} now sees cameras: {_cameras_text(user.cameras)}")


@app.command("roles")
def roles(
    username: str = typer.Argument(..., help="Login name."),
    role: list[Role] = typer.Option(..., "--role", "-r", help="Role (repeat for several)."),
    reason: str = typer.Option(..., help="Why (written to the audit chain)."),
    config_path: Path | None = CONFIG,
) -> None:
    """Replace a person's roles. Takes effect on their next request; their open live
    connections are narrowed or closed within the API's `live_recheck_s`."""
    repo, _, accounts = _services(config_path)
    user = repo.get_user(username=username)
    user = accounts.set_roles(user.id, role, by="cli", reason=reason)
    typer.echo(f"{username} now has roles: {', '.join(user.roles)}")
