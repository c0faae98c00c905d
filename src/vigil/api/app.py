"""FastAPI application factory.

Collaborators (configuration, model directory, later the repositories and services) are passed
in, never imported as globals, so tests build an app over their own stores and the same factory
serves the embedded default and cluster mode.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

from vigil import __version__
from vigil.api.errors import install_error_handlers
from vigil.config import VigilConfig
from vigil.models import CATALOG
from vigil.models.installer import status

if TYPE_CHECKING:
    from vigil.system.embedded import EmbeddedSystem


def create_app(
    config: VigilConfig, *, model_dir: Path | None = None, system: EmbeddedSystem | None = None
) -> FastAPI:
    """Build the API app for ``config`` (``system``: the running pipelines, if any)."""
    app = FastAPI(
        title="Vigil API",
        version=__version__,
        description="City-scale video analytics with safeguards built in.",
    )
    install_error_handlers(app)
    app.state.config = config

    @app.get("/api/v1/health", tags=["system"])
    def health() -> dict[str, Any]:
        """Liveness: the process answers and knows its version and camera count."""
        return {"status": "ok", "version": __version__, "cameras": len(config.cameras)}

    @app.get("/api/v1/models", tags=["system"])
    def models() -> list[dict[str, Any]]:
        """Installed state of every registered model (no weights, only metadata)."""
        return [dataclasses.asdict(status(s, model_dir)) for s in CATALOG.values()]

    @app.get("/api/v1/cameras/status", tags=["cameras"])
    def camera_status() -> list[dict[str, Any]]:
        """Health and analysis totals per camera (never the source URL)."""
        return system.camera_view() if system is not None else []

    return app
