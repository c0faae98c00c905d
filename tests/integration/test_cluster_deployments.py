"""Deployment changes reach a camera node while it runs: a revocation stops matching there.

A camera actor on a Ray worker node loops the end-to-end scene (another photo of an enrolled
person walking across real footage), inside an approved deployment; a second camera on the same
node, not in the deployment, loops the same scene. The head (this process) revokes the deployment
through the real DeploymentService as an authorising officer. Checked: the node reports the
deployment and its gallery while it is in force, then no deployment and no gallery in memory
within the snapshot refresh (the time is printed), and raises no further alert while the person
walks across again; the camera outside the deployment never loads the gallery.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import deploy_on, files_under, media_path, node_config
from tests.support.governance_world import OFFICER
from tests.support.scenes import N_FRAMES, lfw_people, scene_video
from tests.support.storage import truncate_all
from vigil.cluster.runner import ClusterRunner
from vigil.config.settings import VigilConfig
from vigil.storage import Database
from vigil.storage.governance import GovernanceStore
from vigil.system.assembly import assemble

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback-only test cluster
ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [pytest.mark.models, pytest.mark.data]


def _camera(cam_id: str, video: Path) -> dict[str, Any]:
    return {
        "id": cam_id,
        "url": str(video),
        "fps": 2,
        "realtime": True,
        "loop": True,  # the person walks across every N_FRAMES / 2 seconds
        "queue_size": 32,
        "analytics": ["faces"],
    }


class Watch:
    """Polls the runner and keeps what the test asserts about the whole run."""

    def __init__(self, runner: ClusterRunner) -> None:
        self.runner = runner
        self.outside_galleries: set[object] = set()  # what cam-2 ever reported
        self.rows: dict[str, dict[str, Any]] = {}

    def poll(self) -> dict[str, dict[str, Any]]:
        self.rows = self.runner.poll(timeout=10)
        ident = self.rows["cam-2"].get("identification")
        if ident is not None:
            self.outside_galleries.add(ident["galleries_loaded"])
            assert ident["deployments"] == [], ident
        return self.rows

    def until(
        self, what: str, check: Callable[[dict[str, dict[str, Any]]], bool], s: float
    ) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < s:
            if check(self.poll()):
                return time.monotonic() - t0
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}: {self.rows}")


def _ident(rows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return rows["cam-1"].get("identification") or {"deployments": None, "galleries_loaded": None}


@pytest.mark.timeout(600)
def test_a_revoked_deployment_stops_matching_on_the_node_and_its_gallery_leaves(
    pg_url: str, lfw_dir: Path, vtest_video: Path, tmp_path: Path
) -> None:
    truncate_all(db := Database(pg_url))
    db.dispose()
    people = lfw_people(lfw_dir)
    video = scene_video(vtest_video, people[0][1], tmp_path / "scene.mp4")
    config = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path / "head")},
            "storage": {"url": pg_url},
            "cluster": {"engine": "ray", "camera_cpus": 1, "failover_check_s": 1},
            "cameras": [_camera("cam-1", video), _camera("cam-2", video)],
        }
    )
    svc = assemble(config, cameras=False).services
    _, dep = deploy_on(svc, people, "cam-1", "Court order 2026/8")
    store = GovernanceStore(svc.repo.db)

    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    node_dir = tmp_path / "node"
    runner = ClusterRunner(node_config(config, cluster.address, node_dir))
    watch = Watch(runner)
    try:
        runner.start()
        watch.until("the first alert", lambda rows: len(store.alerts()) >= 1, 300)
        assert _ident(watch.rows) == {"deployments": [dep], "galleries_loaded": 1}

        svc.deployments.revoke(OFFICER, dep, "suspect found: no longer necessary")
        gone = watch.until(
            "the node to drop the deployment",
            lambda rows: _ident(rows) == {"deployments": [], "galleries_loaded": 0},
            60,
        )
        seen_at = time.monotonic()
        print(f"\nrevocation seen by the camera node after {gone:.2f} s (snapshot refresh 5 s)")
        alerts = len(store.alerts())
        frames = watch.rows["cam-1"]["frames_analysed"]
        closed = watch.rows["cam-1"]["face_tracks_closed"]
        # The person walks across at least once more (a whole loop of the clip); no alert.
        watch.until(
            "another pass of the person",
            lambda rows: (
                rows["cam-1"]["frames_analysed"] >= frames + N_FRAMES + 4
                and rows["cam-1"]["face_tracks_closed"] > closed
            ),
            120,
        )
        assert len(store.alerts()) == alerts, "an alert was raised after the revocation"
        assert _ident(watch.rows) == {"deployments": [], "galleries_loaded": 0}
        print(f"watched {time.monotonic() - seen_at:.1f} s more; alerts stayed at {alerts}")
    finally:
        runner.stop()
        cluster.shutdown()

    assert watch.outside_galleries == {0}  # cam-2 never held the gallery
    # On the node's own folder: the probe crops of the alerts raised before the revocation,
    # nothing else (no crop, template or index of anybody who matched nothing).
    probes = sorted(media_path(a.probe_key) for a in store.alerts() if a.probe_key)
    assert files_under(node_dir) == probes
    assert all(a.deployment_id == dep for a in store.alerts())
    svc.repo.db.dispose()
