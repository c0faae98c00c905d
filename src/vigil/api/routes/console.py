"""The web console: static HTML, CSS and JavaScript modules shipped inside the package.

The console is a client of the public API and nothing more: it logs in with the cookie session
(plus the CSRF token from the login answer), reads and decides through the same routes as any
other client, and listens on the same WebSocket. So these routes serve files only, hold no data
and need no authentication (they are listed in :data:`vigil.api.deps.PUBLIC_ROUTES`); every
authorisation decision stays with the API routes the pages call.

Files come from ``vigil/api/console/`` and nowhere else: a requested name is resolved and must
stay inside that folder with a known suffix, so ``..`` or an absolute path answers 404. There is
no build step and nothing is fetched from a CDN (a control room may have no internet).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse

from vigil.api.input_guard import reject_control_characters
from vigil.errors import NotFoundError

CONSOLE_DIR = Path(__file__).resolve().parents[1] / "console"
CONSOLE_PATH = "/console/"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}

# Not made by routes.common.router (no /api/v1 prefix, not in the spec), so the control
# character guard is named here: a NUL in a file name would reach the file system.
console = APIRouter(include_in_schema=False, dependencies=[Depends(reject_control_characters)])


def console_file(name: str) -> Path:
    """The file ``name`` under the console folder, or :class:`NotFoundError`."""
    root = CONSOLE_DIR.resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or path.suffix not in MEDIA_TYPES or not path.is_file():
        raise NotFoundError(f"no console file {name[:100]!r}")
    return path


def _file(name: str) -> FileResponse:
    path = console_file(name)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix])


@console.get("/")
def root() -> RedirectResponse:
    """The console is the front page."""
    return RedirectResponse(CONSOLE_PATH, status_code=307)


@console.get("/console")
def console_bare() -> RedirectResponse:
    return RedirectResponse(CONSOLE_PATH, status_code=307)


@console.get(CONSOLE_PATH)
def console_index() -> FileResponse:
    """The single page; views are chosen by the URL fragment (``#/alerts``, ...)."""
    return _file("index.html")


@console.get("/console/{name:path}")
def console_asset(name: str) -> FileResponse:
    return _file(name)
