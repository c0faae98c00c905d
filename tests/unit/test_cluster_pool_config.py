"""Cluster inference settings and a camera's priority class (no Ray, no models)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.cluster.batching import Priority
from vigil.cluster.inference import CameraPriority, pool_for
from vigil.config.cluster import ClusterConfig
from vigil.config.settings import CameraConfig


def test_local_inference_stays_the_default() -> None:
    config = ClusterConfig()
    assert config.inference == "local"
    assert config.pool.max_batch >= 1 and config.pool.queue >= config.pool.max_batch


@pytest.mark.parametrize(
    "pool",
    [{"max_batch": 0}, {"queue": 0}, {"max_wait_ms": -1}, {"gpus": 9}, {"batch": 4}],
)
def test_bad_pool_settings_are_refused(pool: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClusterConfig.model_validate({"inference": "pooled", "pool": pool})


def test_an_unknown_inference_mode_is_refused() -> None:
    with pytest.raises(ValidationError, match="inference"):
        ClusterConfig.model_validate({"inference": "remote"})


def _camera(**extra: object) -> CameraConfig:
    return CameraConfig.model_validate({"id": "cam-1", "url": "/dev/null", **extra})


def test_crowd_alert_zones_make_a_camera_high_priority() -> None:
    zone = {"name": "z", "polygon": [[0, 0], [10, 0], [10, 10]]}
    assert CameraPriority(_camera(analytics=["crowd"], zones=[zone]))() is Priority.HIGH
    assert CameraPriority(_camera(analytics=["persons"], zones=[zone]))() is Priority.NORMAL
    assert CameraPriority(_camera(analytics=["crowd"]))() is Priority.NORMAL


def test_a_camera_always_uses_the_same_pool_actor() -> None:
    picks = {pool_for(f"cam-{i}", 4) for i in range(100)}
    assert picks == {0, 1, 2, 3}
    assert pool_for("cam-7", 4) == pool_for("cam-7", 4)
