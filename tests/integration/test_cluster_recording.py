"""Cluster mode records: a camera actor on a Ray worker node tees its stream to a segment
recorder, indexes each segment in PostgreSQL, reports recording health in the cluster camera
status, and the head plays a clip back when it can reach the files.

The node gets its own data folder (as on its own machine). Two layouts of ``recording.dir``:
``shared``, an absolute path both head and node see (what docs/cluster.md asks of a multi-node
cluster), where the head plays back what the node recorded; and ``local``, the default relative
``recordings`` under each machine's own data folder, where the segments land on the node's disk
and the head's playback answers 404 with the reason. The camera runs no analytics (recording
does not depend on models) on the intel H.264 clip, read faster than real time.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.cluster import files_under, node_config
from tests.support.polling import wait_for
from tests.support.recording import intel_clip
from tests.support.storage import truncate_all
from vigil.api.app import create_app
from vigil.config import VigilConfig
from vigil.core.domain import Role
from vigil.storage import Database
from vigil.system.assembly import assemble

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback-only test cluster
ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [pytest.mark.data]

FAR = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("layout", ["shared", "local"])
def test_a_camera_actor_records_indexed_gapless_segments_the_head_plays_back(
    pg_url: str, tmp_path: Path, layout: str
) -> None:
    truncate_all(db := Database(pg_url))
    db.dispose()
    node_dir = tmp_path / "node"
    shared = tmp_path / "shared-recordings"
    written = shared if layout == "shared" else node_dir / "recordings"
    recording: dict[str, Any] = {"segment_s": 10}
    if layout == "shared":
        recording["dir"] = str(shared)
    config = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path / "head")},
            "storage": {"url": pg_url},
            "api": {"secret_key": "test-secret-key"},
            "recording": recording,
            "cluster": {"engine": "ray", "camera_cpus": 1, "failover_check_s": 1},
            "cameras": [
                {
                    "id": "door",
                    "url": str(intel_clip()),
                    "analytics": [],
                    "fps": 1.0,
                    "realtime": False,
                    "record": "continuous",
                }
            ],
        }
    )
    head = assemble(config, cameras=False)
    svc = head.services
    assert svc.recordings is not None

    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    from vigil.cluster.runner import ClusterRunner

    runner = ClusterRunner(node_config(config, cluster.address, node_dir))
    seen: dict[str, Any] = {}
    try:
        runner.start()

        def clip_recorded() -> bool:
            row = runner.poll(timeout=10).get("door", {})
            seen.update(row)
            return (
                row.get("last_error") == "end of file"
                and (row.get("recording_segments") or 0) >= 10
                and row.get("recording_index_pending") == 0
            )

        wait_for("the clip recorded by the camera actor", clip_recorded, 180)
    finally:
        runner.stop()  # the actor's stop ends (and indexes) the open segment
        cluster.shutdown()

    # Health in the cluster camera status, as `vigil cluster status` shows it.
    assert seen["recording"] == "recording", seen
    assert seen["recording_errors"] == 0 and seen["recording_dropped_packets"] == 0, seen
    assert seen["node"] and seen["pid"] != os.getpid()

    try:
        rows = svc.recordings.index.window("door", *FAR)
        assert len(rows) >= seen["recording_segments"] >= 10  # 139 s in ~10 s segments
        print(
            f"\n{layout}: {len(rows)} segments, {sum(r.bytes for r in rows)} bytes, by pid "
            f"{seen['pid']} on node {seen['node'][:8]}; status {seen['recording_segments']}"
        )
        for r in rows:  # written by the actor where configured, hashed as indexed
            path = written / r.path
            assert hashlib.sha256(path.read_bytes()).hexdigest() == r.sha256, r.path
            assert path.stat().st_size == r.bytes
        assert sorted(files_under(written)) == sorted(r.path for r in rows)
        assert svc.recordings.index.store.gaps("door", *FAR) == []
        assert files_under(tmp_path / "head" / "recordings") == []

        user = svc.accounts.create_user("op", "a long enough password 1", [Role.OPERATOR])
        token, _ = svc.accounts.start_session(user)
        app = create_app(config, services=svc, system=None, start_background=False)
        client = TestClient(app, base_url="https://testserver")
        auth = {"Authorization": f"Bearer {token}"}
        start = rows[2].started_at
        clip = client.get(
            "/api/v1/cameras/door/clips",
            params={
                "start": start.isoformat(),
                "end": (start + timedelta(seconds=15)).isoformat(),
                "reason": "checking the door",
            },
            headers=auth,
        )
        if layout == "shared":
            assert clip.status_code == 200, clip.text
            assert clip.content[4:8] == b"ftyp" and len(clip.content) > 10_000
        else:  # the files are on the node's disk: the head says so, it serves nothing
            assert clip.status_code == 404, clip.text
            assert "shared by every node" in clip.json()["error"]["message"], clip.text
        bad = client.get(
            "/api/v1/cameras/door/clips",
            params={"start": start.isoformat(), "end": start.isoformat(), "reason": "x"},
            headers=auth,
        )
        assert bad.status_code in (400, 422) and "error" in bad.json(), bad.text
    finally:
        svc.repo.db.dispose()
