"""The console tests' browser: Debian's Chromium driven by Playwright, one per test module.

Registered as a pytest plugin (``tests/conftest.py``), so a console test asks for ``browser``
and gets a launched Chromium, or a skip that says how to get one: Playwright comes with the
``dev`` extra, Chromium from Debian (``.ci/run`` installs it) or wherever ``$VIGIL_CHROMIUM``
points. :func:`require_chromium` lets a module skip before it builds an expensive site.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("VIGIL_CHROMIUM", "/usr/bin/chromium"))  # Debian's package
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    """Skip the calling test unless Playwright and the Chromium binary are both here."""
    pytest.importorskip("playwright.sync_api", reason="needs playwright (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip(
            f"needs Chromium at {CHROMIUM} (Debian: apt-get install -y --no-install-recommends "
            "chromium; .ci/run installs it; or set VIGIL_CHROMIUM)"
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium for the module's tests, closed after the last one."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def signed_in(
    browser: Any,
    url: str,
    username: str,
    password: str,
    errors: list[str],
    *,
    timeout_ms: int = 15_000,
    console_errors: bool = False,
    timezone_id: str | None = None,
) -> Any:
    """A page in a fresh 1280 x 900 context, signed in to the console at ``url`` as ``username``.

    Page errors (and, with ``console_errors``, the console's error messages) are appended to
    ``errors`` for the test to assert on."""
    options: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
    if timezone_id is not None:
        options["timezone_id"] = timezone_id
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(timeout_ms)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    if console_errors:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Signed in as").wait_for()
    return page
