"""The end-to-end face alert in cluster mode: the safeguards hold on a camera node.

The same scene as the embedded end-to-end test (vtest frames with another photo of an enrolled
person walking across them) is written to a video file and analysed by a camera actor on a Ray
worker node, while the head (this process, over the same PostgreSQL) enrols three people,
requests a deployment and has a different officer approve it. Checked afterwards, from the
database and every data folder: one alert for the right person, pending two-person verification,
with its probe crop and calibrated false-alert rate; no template or crop of anybody else anywhere;
and an audit chain that verifies, with the camera node's entries linked into the head's chain.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.support.cluster import deploy_on, files_under, media_path, node_config
from tests.support.scenes import N_FRAMES, lfw_people, scene_video
from tests.support.storage import truncate_all
from vigil.cluster.runner import ClusterRunner
from vigil.config.settings import VigilConfig
from vigil.core.records import AlertKind, AlertStatus
from vigil.governance.audit import iter_entries
from vigil.storage import Database
from vigil.storage.governance import GovernanceStore
from vigil.system.assembly import assemble

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback-only test cluster
ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [pytest.mark.models, pytest.mark.data]


@pytest.mark.timeout(600)
def test_a_face_alert_raised_on_a_camera_node_and_nothing_else_kept(
    pg_url: str, lfw_dir: Path, vtest_video: Path, tmp_path: Path
) -> None:
    truncate_all(db := Database(pg_url))
    db.dispose()
    people = lfw_people(lfw_dir)
    video = scene_video(vtest_video, people[0][1], tmp_path / "scene.mp4")
    config = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path / "data")},
            "storage": {"url": pg_url},
            "cluster": {"engine": "ray", "camera_cpus": 1, "failover_check_s": 1},
            "cameras": [
                {
                    "id": "cam-1",
                    "url": str(video),
                    "fps": 2,
                    "realtime": True,
                    "queue_size": 32,  # holds the whole clip: a loaded machine drops nothing
                    "analytics": ["faces"],
                }
            ],
        }
    )
    head = assemble(config, cameras=False)
    svc = head.services
    wl, dep = deploy_on(svc, people, "cam-1", "Court order 2026/7")

    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    worker = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    # The camera node gets its own data folder (as on its own machine), so what it writes
    # locally can be told apart from what the head writes.
    node_dir = tmp_path / "node"
    runner = ClusterRunner(node_config(config, cluster.address, node_dir))
    try:
        runner.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            row = runner.poll(timeout=10)["cam-1"]
            seen = (row.get("frames_analysed") or 0) + (row.get("dropped_frames") or 0)
            if seen >= N_FRAMES:  # the queue holds the whole clip: nothing is dropped
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the camera node did not analyse the {N_FRAMES} frames: {row}")
        assert row["node"] == worker.node_id and row["dropped_frames"] == 0, row
    finally:
        runner.stop()  # closes the open face tracks on the node: they are matched or dropped
        cluster.shutdown()

    alerts = GovernanceStore(svc.repo.db).alerts()
    assert len(alerts) == 1, alerts
    a = svc.repo.get_alert(alerts[0].id)
    subjects = {s.label: s.id for s in svc.repo.list_subjects(wl)}
    assert a.kind is AlertKind.FACE_MATCH and a.deployment_id == dep
    assert a.subject_id == subjects["person 0"] and a.status is AlertStatus.PENDING
    assert a.false_alert_rate is not None and 0 < a.false_alert_rate < 0.05
    # Nothing of anybody else: one crop (the alert's), no archived template, the 3 enrolled.
    counts = GovernanceStore(svc.repo.db).biometric_counts()
    assert counts == {
        "sighting_embeddings": 0,
        "sighting_crops": 1,
        "templates": 3,
        "alert_probes": 1,
    }
    # Every file on every node: the head holds the 3 enrolment photos, the camera node the one
    # probe crop of the alert and nothing else (no crop, template or index of a non-match).
    head_files = files_under(tmp_path / "data")
    node_files = files_under(node_dir)
    assert len([f for f in head_files if f.startswith("media/")]) == 3, head_files
    assert node_files == [media_path(alerts[0].probe_key or "")], node_files
    raised = [e for e in iter_entries(svc.repo) if e.action == "alert.raise"]
    assert [e.target for e in raised] == [f"alert:{a.id}"]
    scans = [e for e in iter_entries(svc.repo) if e.action == "deployment.scan_summary"]
    assert scans and int(dict(scans[-1].details)["faces_scanned"]) >= 1  # written by the node
    assert svc.audit.verify().ok  # the node's entries are links of the head's one chain
    svc.repo.db.dispose()
