"""Shared fixtures: paths to ../shared/data (skipping cleanly when absent) and the model cache."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
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
