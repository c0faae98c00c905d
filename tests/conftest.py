"""Registers the shared fixtures of ``tests/support`` for every test.

The helpers are plain modules (``tests.support.*``), imported by name where a test needs more
than a fixture. Their ``assert`` statements are rewritten like those in test files, so a failing
helper reports its operands; that needs registering the package before anything imports it,
which is why this file imports nothing from it itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.data",
    "tests.support.storage",
    "tests.support.api_env",
    "tests.support.browser",
]


@pytest.fixture(autouse=True)
def _secrets_stay_in_their_test() -> Iterator[None]:
    """A secret a test registers with the log redactor (a camera password read from a config) is
    forgotten after it: the registry is process-wide, and a word such as ``admin`` registered by
    one test would otherwise be redacted in another test's expected messages."""
    from vigil.logs import scoped_secrets

    with scoped_secrets():
        yield
