"""Pooled inference on a real Ray cluster: cameras on one node share a detector actor on another.

One Ray cluster of two worker nodes on this machine: the cameras' node, and an "inference" node
(a custom resource only it has, as a GPU node would be marked) that holds the pool actor. Real
footage (vtest.avi), the real NanoDet model, real PostgreSQL.

1. Four cameras reading as fast as they can share one pool actor: batches of more than one frame
   form, and the pool's detections on frames sent by this test equal a local detector's.
2. A saturated pool (a queue of one, one frame per batch, two tile grids so every frame costs
   five network runs): the camera with crowd-alert zones (high priority) loses no frame to the
   pool, while the three normal cameras do and count it. Rates are printed, not asserted.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.polling import wait_for
from tests.support.storage import truncate_all
from vigil.cluster.runner import ClusterRunner
from vigil.config.settings import VigilConfig
from vigil.storage import Database

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

ZONE = {"name": "plaza", "polygon": [[0, 0], [768, 0], [768, 576], [0, 576]]}


def _config(
    tmp_path: Path, pg_url: str, address: str, cameras: list[dict[str, Any]], **pool: Any
) -> VigilConfig:
    return VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path)},
            "storage": {"url": pg_url},
            "people": {"tile_grids": pool.pop("tile_grids", [1])},
            "cluster": {
                "engine": "ray",
                "address": address,
                "camera_cpus": 0.5,
                "inference": "pooled",
                "pool": {"resources": {"inference": 1}, "cpus": 1, **pool},
            },
            "cameras": cameras,
        }
    )


def _camera(cid: str, video: Path, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "url": str(video), "loop": True, "analytics": ["persons"], **extra}


def _frames(video: Path, n: int) -> list[np.ndarray]:
    import av

    out = []
    with av.open(str(video)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % 20 == 0:
                out.append(f.to_ndarray(format="bgr24"))
            if len(out) == n:
                break
    return out


def _shared_pool(tmp_path: Path, pg_url: str, video: Path, cluster: Any, nodes: Any) -> None:
    cam_node, pool_node = nodes
    cams = [_camera(f"cam-{i}", video, realtime=False, fps=5) for i in range(4)]
    config = _config(tmp_path, pg_url, cluster.address, cams, max_batch=4, max_wait_ms=40)
    runner = ClusterRunner(config)
    try:
        runner.start()

        def analysing() -> bool:
            rows = runner.poll(timeout=5).values()
            return all((r.get("frames_analysed") or 0) >= 5 for r in rows)

        wait_for("every camera analysing through the pool", analysing, 150)
        stats = ray.get(runner.pool["objects"][0].stats.remote(), timeout=30)
        rows = runner.statuses()
        print(f"\nshared pool: {stats}")
        assert stats["node"] == pool_node.node_id
        assert {r["node"] for r in rows.values()} == {cam_node.node_id}
        assert any(int(k) > 1 for k in stats["batch_sizes"]), stats["batch_sizes"]
        assert stats["failed"] == 0 and stats["dropped"] == 0

        # The same frames, through the pool (sent together so they batch) and locally.
        from vigil.perception.objects import NanoDetDetector

        frames = _frames(video, 6)
        server = runner.pool["objects"][0]
        pooled = ray.get([server.call.remote("detect", "probe", 0, f) for f in frames])
        local = NanoDetDetector(config.models.dir, score_threshold=0.1, tile_grids=(1,))
        for frame, got in zip(frames, pooled, strict=True):
            want = local.detect(frame)
            assert len(want) > 0
            np.testing.assert_array_equal(got.xyxy, want.xyxy)
            np.testing.assert_array_equal(got.confidence, want.confidence)
            np.testing.assert_array_equal(got.class_id, want.class_id)
    finally:
        runner.stop()


def _saturated(tmp_path: Path, pg_url: str, video: Path, cluster: Any) -> None:
    high = _camera("hi", video, fps=2, analytics=["crowd"], zones=[ZONE])
    normal = [_camera(f"lo-{i}", video, fps=5) for i in range(3)]
    config = _config(
        tmp_path,
        pg_url,
        cluster.address,
        [high, *normal],
        max_batch=1,
        max_wait_ms=0,
        queue=1,
        tile_grids=[1, 2],
    )
    runner = ClusterRunner(config)
    try:
        runner.start()

        def saturated() -> bool:
            rows = runner.poll(timeout=5)
            lows = sum(rows[f"lo-{i}"].get("saturation_drops") or 0 for i in range(3))
            return (rows["hi"].get("frames_analysed") or 0) >= 10 and lows >= 10

        wait_for("the pool saturating", saturated, 150)
        t0, before = time.monotonic(), runner.poll(timeout=5)
        time.sleep(5)
        after, dt = runner.poll(timeout=5), time.monotonic() - t0
        stats = ray.get(runner.pool["objects"][0].stats.remote(), timeout=30)
        print(f"\nsaturated pool: {stats}")
        for cid, row in after.items():
            rate = (row["frames_analysed"] - before[cid]["frames_analysed"]) / dt
            print(
                f"{cid}: priority={row['priority']} analysed {rate:.2f}/s "
                f"saturation_drops={row['saturation_drops']} queue_drops={row['dropped_frames']}"
            )
        assert after["hi"]["priority"] == "high"
        assert after["hi"]["saturation_drops"] == 0
        assert stats["drops"].get("hi") is None
        for i in range(3):
            assert after[f"lo-{i}"]["priority"] == "normal"
        assert sum(after[f"lo-{i}"]["saturation_drops"] for i in range(3)) > 0
        assert sum(d["normal"] for d in stats["drops"].values()) > 0
    finally:
        runner.stop()


@pytest.mark.timeout(300)
def test_cameras_share_a_batching_pool_that_keeps_high_priority_cameras_served(
    pg_url: str, vtest_video: Path, tmp_path: Path
) -> None:
    truncate_all(db := Database(pg_url))  # the session's database: earlier tests' rows out
    db.dispose()
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        cam_node = cluster.add_node(num_cpus=4)
        pool_node = cluster.add_node(num_cpus=1, resources={"inference": 1})
        cluster.wait_for_nodes()
        _shared_pool(tmp_path, pg_url, vtest_video, cluster, (cam_node, pool_node))
        _saturated(tmp_path, pg_url, vtest_video, cluster)
    finally:
        cluster.shutdown()
