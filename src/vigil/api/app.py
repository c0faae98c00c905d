"""FastAPI application factory.

Collaborators (configuration, model directory, the running system and the :class:`Services`
over the repository, media store, audit log and governance services) are passed in, never
imported as globals, so tests build an app over their own stores and the same factory serves the
embedded default and cluster mode. The services come from the composition root
(:func:`vigil.system.assembly.assemble`).

Secure by default: every route needs authentication unless it is listed in
:data:`vigil.api.deps.PUBLIC_ROUTES` (a test enumerates the routes), CORS sends no headers unless
origins are configured, bodies are size-limited and every error is the one envelope.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from vigil import __version__
from vigil.api.deps import access
from vigil.api.errors import ERROR_RESPONSES, install_error_handlers
from vigil.api.live import LiveRegistry
from vigil.api.middleware import SecurityMiddleware
from vigil.api.routes.alerts import alerts
from vigil.api.routes.audit import audit, reports
from vigil.api.routes.auth import auth, users
from vigil.api.routes.cameras import cameras
from vigil.api.routes.case_lifecycle import case_steps
from vigil.api.routes.cases import cases
from vigil.api.routes.console import console
from vigil.api.routes.console_data import (
    audit_pages,
    crowd_charts,
    report_pages,
    watchlist_tools,
)
from vigil.api.routes.deployments import deployments
from vigil.api.routes.events import events
from vigil.api.routes.investigations import investigations
from vigil.api.routes.plates import hotlists, plate_searches
from vigil.api.routes.recordings import recordings
from vigil.api.routes.searches import searches
from vigil.api.routes.sightings import sightings
from vigil.api.routes.system import system as system_routes
from vigil.api.routes.trajectories import trajectories
from vigil.api.routes.video import video
from vigil.api.routes.watchlists import watchlists
from vigil.config import VigilConfig
from vigil.core.domain import Role
from vigil.governance.accounts import Principal
from vigil.models import CATALOG
from vigil.models.installer import status
from vigil.system.services import Services

if TYPE_CHECKING:
    from vigil.system.embedded import EmbeddedSystem


def _is_upload(path: str) -> bool:
    enrolment = path.startswith("/api/v1/watchlists/") and path.endswith("/subjects")
    check = path == "/api/v1/watchlists/check-photo"
    return enrolment or check or path == "/api/v1/searches/faces"


def create_app(
    config: VigilConfig,
    *,
    model_dir: Path | None = None,
    services: Services,
    system: EmbeddedSystem | None = None,
    start_background: bool = True,
) -> FastAPI:
    """Build the API app over ``services`` (made by :func:`vigil.system.assembly.assemble`;
    ``system``: the running pipelines, if any, for the camera views).

    ``start_background``: start the services' background tasks (event watcher, webhook and MQTT
    senders) with the app's lifespan and stop them after; ``vigil run`` starts them with the
    rest of the assembly instead.
    """
    svc = services

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start_background:
            svc.start()
        try:
            yield
        finally:
            live.stop()  # open sockets close with 1001 before the services they read stop
            if start_background:
                svc.stop()

    app = FastAPI(
        title="Vigil API",
        version=__version__,
        description="City-scale video analytics with safeguards built in. Every route needs a "
        "bearer token, an API key or a session cookie (with X-CSRF-Token on unsafe methods) "
        'unless marked public; errors are always `{"error": {"code", "message", '
        '"detail"}}`.',
        lifespan=lifespan,
        # No interactive docs: FastAPI's /docs and /redoc pages load Swagger UI and ReDoc from
        # a CDN, and Vigil must work (and leak nothing) offline. The PyPI packages that bundle
        # Swagger UI lag its security releases, so none is served; the contract is
        # /openapi.json, readable by any OpenAPI viewer the operator trusts.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    # Open live connections, re-checked against the database (vigil.api.live); per process.
    live = LiveRegistry(
        svc.accounts,
        svc.audit,
        recheck_s=config.api.live_recheck_s,
        max_connections=config.api.live_max_connections,
        clock=svc.clock,
    )
    app.state.live = live
    app.state.config = config
    app.state.services = svc
    app.state.audit = svc.audit
    app.state.system = system
    app.add_middleware(
        SecurityMiddleware,
        max_body=config.api.max_body_bytes,
        max_upload=config.api.max_upload_bytes + 64 * 1024,
        is_upload=_is_upload,
    )
    if config.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.api.cors_origins),
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Vigil-Reason"],
        )

    @app.get("/api/v1/health", tags=["system"], responses=ERROR_RESPONSES)
    def health() -> dict[str, Any]:
        """Public liveness: the process answers and knows its version."""
        return {"status": "ok", "version": __version__}

    @app.get("/api/v1/models", tags=["system"], responses=ERROR_RESPONSES)
    def models(_: Principal = access(Role.ADMIN)) -> list[dict[str, Any]]:
        """Installed state of every registered model (no weights, only metadata)."""
        return [dataclasses.asdict(status(s, model_dir)) for s in CATALOG.values()]

    for router in (
        auth,
        users,
        cameras,
        recordings,
        deployments,
        watchlists,
        alerts,
        sightings,
        searches,
        plate_searches,
        trajectories,
        investigations,
        hotlists,
        cases,
        case_steps,
        system_routes,
        audit,
        reports,
        events,
        video,
        crowd_charts,
        audit_pages,
        report_pages,
        watchlist_tools,
        console,
    ):
        # Mounted flat (not include_router, which newer FastAPI keeps as a nested lazy
        # router): the routes already carry their prefix, tags and error responses, and a flat
        # list lets the route-enumeration test see every served route directly.
        app.router.routes.extend(router.routes)
    return app
