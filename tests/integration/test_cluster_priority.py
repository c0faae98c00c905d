"""A camera's pool priority follows its deployments in the database (both storage engines)."""

from __future__ import annotations

from pathlib import Path

from tests.support.governance_world import OFFICER, make_world, request, seed_watchlist, unit
from vigil.cluster.batching import Priority
from vigil.cluster.inference import CameraPriority
from vigil.config.settings import CameraConfig
from vigil.storage import Repository


def test_priority_is_high_while_a_live_deployment_covers_the_camera(
    repo: Repository, tmp_path: Path
) -> None:
    w = make_world(repo, tmp_path)
    cam = CameraConfig.model_validate({"id": "cam-1", "url": "/dev/null"})
    other = CameraConfig.model_validate({"id": "cam-2", "url": "/dev/null"})
    priority = CameraPriority(cam, w.deployments, refresh_s=0)
    elsewhere = CameraPriority(other, w.deployments, refresh_s=0)
    dep = request(w, seed_watchlist(w, unit(2)), cams=("cam-1",))
    assert priority() is Priority.NORMAL  # requested, not approved: not in force
    w.deployments.approve(OFFICER, dep, "court order checked")
    assert priority() is Priority.HIGH
    assert elsewhere() is Priority.NORMAL
    w.deployments.revoke(OFFICER, dep, "operation over")
    assert priority() is Priority.NORMAL


def test_the_answer_is_cached_for_refresh_s(repo: Repository, tmp_path: Path) -> None:
    w = make_world(repo, tmp_path)
    cam = CameraConfig.model_validate({"id": "cam-1", "url": "/dev/null"})
    priority = CameraPriority(cam, w.deployments, refresh_s=3600)
    assert priority() is Priority.NORMAL
    dep = request(w, seed_watchlist(w, unit(2)), cams=("cam-1",))
    w.deployments.approve(OFFICER, dep, "court order checked")
    assert priority() is Priority.NORMAL  # not re-read yet: priority orders work, never authorises
