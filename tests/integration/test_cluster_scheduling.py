"""The scheduler on a real Ray cluster over real PostgreSQL: join, disable, enable, re-attach.

Four cameras of real footage start on the only worker node. A second node joins: the runner
moves cameras onto it at once (each move recorded with its reason) and every camera analyses
frames again. A camera switched off through :class:`~vigil.governance.cameras.CameraService` (what
``PATCH /cameras/{id}`` and ``vigil cameras disable`` call) is stopped (its actor is gone); one
switched on again is started; one enabled in the table but missing from the config file
is reported as unable to run. A runner that detaches leaves the (detached) actors running, and
a new runner re-attaches to the same incarnations instead of starting them again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

import pytest

from tests.support.polling import wait_for
from tests.support.storage import truncate_all
from vigil.cluster.runner import ACTOR_PREFIX, ClusterRunner
from vigil.config.settings import VigilConfig
from vigil.core.domain import CameraRow, Role
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditLog, utc_now
from vigil.governance.cameras import CameraService
from vigil.storage import Database, Repository
from vigil.storage.factory import open_database_from_config

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # nodes on loopback

ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

CAMERAS = 4
ADMIN = Actor.of("root", Role.ADMIN)


def _analysing(runner: ClusterRunner, ids: set[str]) -> bool:
    rows = runner.poll(timeout=5)
    return set(rows) == ids and all(
        (r.get("frames_analysed") or 0) > 0 and r.get("state") != "restarting"
        for r in rows.values()
    )


def _set_enabled(repo: Repository, camera_id: str, enabled: bool) -> None:
    """The flag set at the SQL level (no audit entry): what a script or a DBA would do."""
    repo.upsert_camera(dataclasses.replace(repo.get_camera(camera_id), enabled=enabled))


def _switch(repo: Repository, camera_id: str, enabled: bool) -> None:
    """The flag set as people set it: the service behind the API and the CLI, audited."""
    service = CameraService(repo, AuditLog(repo))
    done = service.set_enabled(ADMIN, camera_id, enabled, "scheduling test")
    assert done.changed and done.camera.enabled is enabled


def _actor_exists(camera_id: str) -> bool:
    try:
        ray.get_actor(ACTOR_PREFIX + camera_id, namespace="vigil")
    except ValueError:
        return False
    return True


def _kill_leftovers() -> None:
    """Detached actors outlive their creator: end any this test left, even after a failure."""
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if str(entry.get("name", "")).startswith(ACTOR_PREFIX):
            with contextlib.suppress(ValueError):
                ray.kill(ray.get_actor(entry["name"], namespace=entry["namespace"]))


@pytest.mark.timeout(600)
def test_a_joining_node_takes_cameras_and_the_database_decides_what_runs(
    pg_url: str, vtest_video: Path, tmp_path: Path
) -> None:
    truncate_all(db := Database(pg_url))  # the session's database: earlier tests' rows out
    db.dispose()
    cluster = cluster_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    first = cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    config = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path)},
            "storage": {"url": pg_url},
            "cluster": {
                "engine": "ray",
                "address": cluster.address,
                "camera_cpus": 0.25,
                "failover_check_s": 0.5,
                "camera_cost_prior": 0.25,
            },
            "cameras": [
                {
                    "id": f"sch-{i}",
                    "url": str(vtest_video),
                    "loop": True,
                    "realtime": True,
                    "fps": 2,
                    "analytics": [],
                }
                for i in range(CAMERAS)
            ],
        }
    )
    ids = {f"sch-{i}" for i in range(CAMERAS)}  # the database is shared by the session
    repo = Repository(open_database_from_config(config))
    # This test is the Ray driver (so it can see and kill actors); the runners share its
    # connection instead of owning one.
    ray.init(address=cluster.address, namespace="vigil", log_to_driver=False)
    runner = ClusterRunner(config)
    second_runner: ClusterRunner | None = None
    try:
        runner.start()
        wait_for("all cameras analysing", lambda: _analysing(runner, ids), 240)
        assert {r["node"] for r in runner.statuses().values()} == {first.node_id}

        # A node joins: cameras move onto it at once, each move with its reason.
        second = cluster.add_node(num_cpus=2)
        cluster.wait_for_nodes()

        def moved() -> bool:
            rows = runner.poll(timeout=5)
            return any(r.get("node") == second.node_id for r in rows.values()) and _analysing(
                runner, ids
            )

        took = wait_for("cameras moving to the joined node", moved, 180)
        rows = runner.statuses()
        on_second = sorted(c for c, r in rows.items() if r["node"] == second.node_id)
        print(f"\nrebalance after the join: {on_second} moved in {took:.1f} s")
        assert 1 <= len(on_second) < CAMERAS
        for c in on_second:
            log = rows[c]["move_log"]
            assert len(log) == 1 and "joined" in log[0]["reason"], log
            assert log[0]["from"] == first.node_id and log[0]["to"] == second.node_id
            assert rows[c]["placed"].startswith("rebalance: node")
            assert rows[c]["gaps_s"], f"{c}: the move's gap was not recorded"
            # The actor itself carries its moves, for `vigil cluster status` on any machine.
            own = ray.get(ray.get_actor(ACTOR_PREFIX + c, namespace="vigil").status.remote())
            assert own["move_log"] == log and own["placed"] == log[0]["reason"]
        report = runner.report()
        assert {n["node"] for n in report["nodes"]} == {first.node_id, second.node_id}
        assert all(n["load_cores"] > 0 for n in report["nodes"])

        # The database decides: disabled stops, enabled starts, unknown is reported.
        _switch(repo, "sch-0", False)
        ghost = CameraRow("sch-ghost", "ghost", "rtsp://x/y", utc_now(), enabled=True)
        repo.upsert_camera(ghost)
        wait_for("sch-0 stopped", lambda: "sch-0" not in runner.statuses(), 60)
        assert not _actor_exists("sch-0")
        wait_for("ghost reported", lambda: "sch-ghost" in runner.unrunnable, 30)
        assert any(
            r["camera_id"] == "sch-ghost" and r["state"] == "no config"
            for r in runner.camera_view()
        )
        repo.upsert_camera(dataclasses.replace(ghost, enabled=False))
        _switch(repo, "sch-0", True)
        wait_for("sch-0 back", lambda: _analysing(runner, ids), 120)

        # Detach: the actors run on; a new runner re-attaches to the same incarnations.
        before = runner.poll(timeout=5)
        runner.detach()
        assert all(_actor_exists(c) for c in ids)
        second_runner = ClusterRunner(config)
        second_runner.start()
        after = second_runner.poll(timeout=5)
        assert set(after) == ids
        for c in ids:
            assert after[c]["started_at"] == before[c]["started_at"], f"{c} was started again"
            assert after[c]["frames_analysed"] >= before[c]["frames_analysed"]
        second_runner.stop()
        second_runner = None
        wait_for("actors gone after stop()", lambda: not any(_actor_exists(c) for c in ids), 30)
    finally:
        if second_runner is not None:
            second_runner.stop()
        runner.detach()  # its watch thread must not re-create what is killed next
        _kill_leftovers()
        ray.shutdown()
        repo.db.dispose()
        cluster.shutdown()


def test_camera_actors_keep_the_tables_flag_the_head_reapplies_the_files_but_a_switch_off(
    pg_url: str, tmp_path: Path
) -> None:
    from vigil.system.assembly import sync_cameras

    config = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path)},
            "storage": {"url": pg_url},
            "cameras": [{"id": "cam-a", "url": "file:///x.mp4"}, {"id": "cam-b", "url": "f.mp4"}],
        }
    )
    repo = Repository(open_database_from_config(config))
    try:
        sync_cameras(repo, config, utc_now())
        _set_enabled(repo, "cam-a", False)
        sync_cameras(repo, config, utc_now(), keep_enabled=True)  # what a (restarted) actor does
        assert not repo.get_camera("cam-a").enabled and repo.get_camera("cam-b").enabled
        sync_cameras(repo, config, utc_now())  # what the head does at start: the file's flag
        assert repo.get_camera("cam-a").enabled
        # ... except for a camera a person switched off (audited): a restart keeps it off.
        _switch(repo, "cam-b", False)
        sync_cameras(repo, config, utc_now())
        assert not repo.get_camera("cam-b").enabled and repo.get_camera("cam-a").enabled
    finally:
        repo.db.dispose()
