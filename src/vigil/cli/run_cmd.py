"""``vigil run``: start the embedded system (API server now; pipelines as they land)."""

from __future__ import annotations

from pathlib import Path

import typer

from vigil import logs
from vigil.config import load_config


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config_path: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml to use."),
        host: str | None = typer.Option(None, help="Override api.host."),
        port: int | None = typer.Option(None, help="Override api.port."),
    ) -> None:
        """Start Vigil on the embedded default: API server and the configured pipelines."""
        import uvicorn

        from vigil.api.app import create_app

        config = load_config(config_path)
        logs.configure(config.system.log_level, json_lines=config.system.log_json)
        api_app = create_app(config, model_dir=config.models.dir)
        bind_host = host or config.api.host
        bind_port = port or config.api.port
        typer.echo(f"Vigil API on http://{bind_host}:{bind_port}/docs  (Ctrl-C to stop)")
        uvicorn.run(api_app, host=bind_host, port=bind_port, log_level="warning")
