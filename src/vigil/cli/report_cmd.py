"""``vigil report oversight --from --to``: the oversight report as JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vigil import logs
from vigil.cli.options import parse_when
from vigil.config import load_config
from vigil.errors import ValidationError

app = typer.Typer(help="Reports for oversight bodies (no biometric data).", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")


@app.command("oversight")
def oversight(
    start: str = typer.Option(..., "--from", help="Start (ISO 8601; UTC if no offset)."),
    end: str = typer.Option(..., "--to", help="End, exclusive (ISO 8601)."),
    out: Path = typer.Option(Path("oversight.json"), "--out", "-o", help="JSON file to write."),
    config_path: Path | None = CONFIG,
) -> None:
    """Deployments, faces scanned, alerts, confirmed, rejected, false-alert rates, purges."""
    from vigil.governance.audit import AuditAction, AuditLog
    from vigil.governance.report import build_oversight, to_markdown
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config

    t0, t1 = parse_when(start, "from"), parse_when(end, "to")
    if t1 <= t0:
        raise ValidationError("--to must be after --from")
    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    doc = build_oversight(repo, t0, t1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, allow_nan=False))
    md = out.with_suffix(".md")
    md.write_text(to_markdown(doc))
    AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json").append(
        "cli",
        AuditAction.EXPORT,
        "report:oversight",
        "oversight report",
        [("from", t0.isoformat()), ("to", t1.isoformat())],
    )
    typer.echo(f"wrote {out} and {md}")
