"""Cluster mode: PostgreSQL stopped for 30 s while a camera actor on a Ray worker node counts
people; nothing is lost or doubled once it returns.

The same camera and footage as tests/integration/test_recorder_outage.py, run once in the
embedded mode into SQLite as the reference, then as a camera actor (``vigil.cluster``) on a Ray
worker node writing to a PostgreSQL cluster of the test's own, which is stopped after the first
records and started again 30 s later. The actor's outbox buffers and spools meanwhile; its
recorder lag is read through the runner's status (what ``vigil cluster status`` shows). Afterwards
the database holds the reference's records exactly once.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.outage import config, records, run
from tests.support.pg_cluster import private_pg
from tests.support.polling import wait_for
from vigil.storage import Database, Repository
from vigil.system.assembly import assemble

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = [pytest.mark.models, pytest.mark.data]

OUTAGE_S = 30.0


@pytest.mark.timeout(600)
def test_a_camera_actor_loses_and_doubles_nothing_over_a_30_s_postgresql_outage(
    tmp_path: Path, vtest_video: Path
) -> None:
    from vigil.cluster.runner import ClusterRunner

    reference = run(assemble(config(tmp_path / "ref", f"sqlite:///{tmp_path}/ref.db", vtest_video)))
    timeline: dict[str, Any] = {}
    with private_pg() as pg:
        cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
        cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()
        cfg = config(
            tmp_path / "node",
            pg.url,
            vtest_video,
            cluster={"engine": "ray", "address": cluster.address, "camera_cpus": 1},
        )
        runner = ClusterRunner(cfg)
        try:
            runner.start()

            def row() -> dict[str, Any]:
                return runner.poll(timeout=10).get("street", {})

            def recorded(n: int) -> bool:
                rec = row().get("recorder") or {}
                return rec.get("written", 0) >= n

            wait_for("first records written by the actor", lambda: recorded(2), 300)
            pg.stop("fast")
            t0 = time.monotonic()
            wait_for(
                "records spooled by the actor",
                lambda: (row().get("recorder") or {}).get("spooled", 0) > 0,
                OUTAGE_S,
            )
            time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - t0)))
            before = row()
            timeline.update(
                lag_at_restart_s=before.get("recorder_lag_s"),
                pending_at_restart=before.get("recorder_pending"),
            )
            pg.start()
            timeline["replay_s"] = wait_for(
                "the actor's backlog replayed", lambda: row().get("recorder_pending") == 0, 180
            )

            def done() -> bool:
                r = row()
                return (
                    r.get("last_error") == "end of file"
                    and r.get("frames_analysed", 0) >= r.get("frames_captured", 1)
                    and r.get("recorder_pending") == 0
                )

            wait_for("the clip analysed and recorded", done, 300)
            final = row()
            timeline["recorder"] = final.get("recorder")
        finally:
            runner.stop()
            cluster.shutdown()
        db = Database(pg.url)
        try:
            got = records(Repository(db))
        finally:
            db.dispose()
    print("cluster outage:", timeline)
    assert (timeline["pending_at_restart"] or 0) > 0
    rec = timeline["recorder"]
    assert rec["refused"] == 0 and rec["failed"] == 0 and rec["spooled"] > 0
    assert final["dropped_frames"] == 0 and final["analysis_failures"] == 0, final
    assert sorted(got["keys"]) == sorted(reference["keys"])
    assert got["series"] == reference["series"]
    assert got["alerts"] == reference["alerts"]
