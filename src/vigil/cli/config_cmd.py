"""``vigil config check|show``: validate a config file and show the effective settings."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import typer

from vigil.config import ConfigFileError, VigilConfig, load_config
from vigil.errors import ConfigError
from vigil.logs import REDACTED, redact
from vigil.notify.webhooks import WebhookTargetError, resolve_target

app = typer.Typer(help="Validate and inspect the configuration file.", no_args_is_help=True)


@app.command("check")
def check(path: Path = typer.Argument(..., help="The YAML config file to validate.")) -> None:
    """Validate FILE; print each error with its YAML line and field; exit 2 if any.

    Beyond the schema, each webhook's host is resolved and every address it resolves to must be
    public (unless the webhook sets ``allow_private`` with a reason), as the sender checks it
    again before each delivery.
    """
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
    problems = []
    for i, hook in enumerate(config.notify.webhooks):
        try:
            resolve_target(hook.url, allow_private=hook.allow_private)
        except WebhookTargetError as exc:
            problems.append(f"{path}:?: notify.webhooks.{i}.url: {exc}")
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        typer.echo(f"{len(problems)} error(s) in {path}", err=True)
        raise typer.Exit(2)
    typer.echo(f"{path}: OK ({len(config.cameras)} camera(s))")


@app.command("show")
def show(path: Path = typer.Argument(..., help="The YAML config file.")) -> None:
    """Print the effective configuration as JSON (defaults filled in, secrets masked)."""
    typer.echo(json.dumps(masked(load_config(path)), indent=2))


def masked(config: VigilConfig) -> dict[str, object]:
    """The configuration as plain JSON with every secret masked: secret fields (camera and
    database URLs, keys, passwords) by pydantic, every other URL through the log redactor
    (user-info, secret query parameters), and webhook URLs down to scheme and host, since
    many services put the webhook's credential in its path (``/services/T0/B0/<token>``)."""
    doc = json.loads(config.model_dump_json())
    for hook in doc["notify"]["webhooks"]:
        hook["url"] = _webhook_url(hook["url"])
    result = _redact_strings(doc)
    assert isinstance(result, dict)
    return result


def _webhook_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    user = f"{REDACTED}@" if parts.username or parts.password else ""
    rest = f"/{REDACTED}" if parts.path.strip("/") or parts.query else "/"
    return f"{parts.scheme}://{user}{host}{port}{rest}"


def _redact_strings(value: object) -> object:
    if isinstance(value, str):
        return redact(value) if "://" in value else value
    if isinstance(value, list):
        return [_redact_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_strings(v) for k, v in value.items()}
    return value
