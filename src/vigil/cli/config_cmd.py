"""``vigil config check|show``: validate a config file and show the effective settings."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vigil.config import ConfigFileError, load_config
from vigil.errors import ConfigError

app = typer.Typer(help="Validate and inspect the configuration file.", no_args_is_help=True)


@app.command("check")
def check(path: Path = typer.Argument(..., help="The YAML config file to validate.")) -> None:
    """Validate FILE; print each error with its YAML line and field; exit 2 if any."""
    try:
        config = load_config(path)
    except ConfigFileError as exc:
        for issue in exc.issues:
            typer.echo(
                f"{path}:{issue.line or '?'}: {issue.field or '<root>'}: {issue.message}", err=True
            )
        typer.echo(f"{len(exc.issues)} error(s) in {path}", err=True)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{path}: OK ({len(config.cameras)} camera(s))")


@app.command("show")
def show(path: Path = typer.Argument(..., help="The YAML config file.")) -> None:
    """Print the effective configuration as JSON (defaults filled in, secrets masked)."""
    config = load_config(path)
    typer.echo(json.dumps(json.loads(config.model_dump_json()), indent=2))
