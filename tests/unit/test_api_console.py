"""The web console's file routes: what they serve, with which headers, and nothing outside the
console folder. (The pages themselves are tested in a browser: tests/integration/test_console.py.)
"""

from __future__ import annotations

import re

import pytest

from tests.support.api_env import Env
from vigil.api.middleware import CONSOLE_CSP
from vigil.api.routes.console import CONSOLE_DIR


def test_front_page_redirects_to_the_console(env: Env) -> None:
    c = env.client()
    for path in ("/", "/console"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == "/console/"


def test_console_page_and_modules_are_served_with_the_console_csp(env: Env) -> None:
    c = env.client()
    page = c.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONSOLE_CSP.decode()
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    js = c.get("/console/js/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert c.get("/console/console.css").headers["content-type"].startswith("text/css")
    # the API keeps its own CSP that allows nothing
    assert "default-src 'none'" in c.get("/api/v1/health").headers["content-security-policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/missing.js",
        "/console/%2e%2e/routes/console.py",
        "/console/js/%2e%2e/%2e%2e/app.py",
        "/console/..%2f..%2fapp.py",
        "/console/%2fetc%2fpasswd",
        "/console/js",
    ],
)
def test_nothing_outside_the_console_folder_is_served(env: Env, path: str) -> None:
    r = env.client().get(path)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_console_files_load_nothing_from_elsewhere() -> None:
    """No CDN, no inline script (the CSP would block it), every module import is relative."""
    files = [p for p in CONSOLE_DIR.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} <= {".html", ".css", ".js"}
    for path in files:
        text = path.read_text()
        assert not re.search(r"(src|href)=\"https?://", text), path
        assert "@import" not in text and "url(http" not in text, path
        if path.suffix == ".html":
            assert not re.search(r"<script(?![^>]*\bsrc=)", text), f"inline script in {path}"
            assert not re.search(r"\son[a-z]+=", text), f"inline handler in {path}"
        if path.suffix == ".js":
            for spec in re.findall(r"^import .* from \"([^\"]+)\";", text, re.M):
                assert spec.startswith("./") or spec.startswith("../"), (path, spec)
            assert "innerHTML" not in text, f"{path}: set text, never parse server data as HTML"
