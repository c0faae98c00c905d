"""Registers the shared fixtures of ``tests/support`` for every test.

The helpers are plain modules (``tests.support.*``), imported by name where a test needs more
than a fixture. Their ``assert`` statements are rewritten like those in test files, so a failing
helper reports its operands; that needs registering the package before anything imports it,
which is why this file imports nothing from it itself.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.data",
    "tests.support.storage",
    "tests.support.api_env",
    "tests.support.browser",
]
