"""Waiting for something a background system does: poll until it holds, fail with what it was."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_for(what: str, check: Callable[[], object], timeout: float, period: float = 0.25) -> float:
    """Poll ``check()`` every ``period`` seconds until it is true; returns the seconds it took.

    Fails the test, naming ``what``, after ``timeout`` seconds. The time is measured, never
    asserted by callers (the machine is shared): tests print it.
    """
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(period)
    return time.monotonic() - start
