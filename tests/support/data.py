"""The shared data sets in ``../shared/data``: a path helper that skips cleanly when a set is
absent (the suite runs on machines without them), and fixtures for the sets many tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test with a clear message when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} (not present on this machine)")
    return path


@pytest.fixture(scope="session")
def lfw_dir() -> Path:
    return shared_data("lfw", "lfw-deepfunneled")


@pytest.fixture(scope="session")
def vtest_video() -> Path:
    return shared_data("opencv_vtest", "vtest.avi")
