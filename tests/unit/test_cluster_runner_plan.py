"""The runner's rebalancing trigger and hysteresis (no Ray: the plan is made from plain state)."""

from __future__ import annotations

import time

from vigil.cluster.runner import CameraWatch, ClusterRunner
from vigil.config.settings import VigilConfig


def _runner(after_s: float = 3600.0, cooldown_s: float = 300.0) -> ClusterRunner:
    config = VigilConfig.model_validate(
        {
            "storage": {"url": "postgresql+psycopg://u@h/db"},
            "cluster": {
                "engine": "ray",
                "rebalance_after_s": after_s,
                "move_cooldown_s": cooldown_s,
                "rebalance_ratio": 1.5,
            },
        }
    )
    runner = ClusterRunner(config)
    runner.nodes = {"a": 2.0, "b": 2.0}
    for i in range(4):
        cid = f"cam-{i}"
        runner.cameras[cid] = CameraWatch(
            cid, None, last={"node": "a", "started_at": 1.0}, cost=0.5
        )
    return runner


def test_a_joining_node_triggers_a_rebalance_at_once() -> None:
    runner = _runner()
    runner._known_nodes = {"a"}
    moves = runner._plan_moves()
    assert len(moves) == 2 and all(m.target == "b" for m in moves)
    assert all("node b joined" in m.reason for m in moves)


def test_a_skew_must_last_before_cameras_move() -> None:
    runner = _runner(after_s=3600)
    runner._known_nodes = {"a", "b"}  # nobody joined: only the skew can trigger
    assert runner._plan_moves() == []
    assert runner._skewed_since is not None  # the clock started
    runner.config.cluster.rebalance_after_s = 0.0
    moves = runner._plan_moves()
    assert len(moves) == 2 and all("load skewed" in m.reason for m in moves)


def test_a_balanced_cluster_resets_the_skew_clock() -> None:
    runner = _runner(after_s=0)
    runner._known_nodes = {"a", "b"}
    for cid in ("cam-2", "cam-3"):
        runner.cameras[cid].last["node"] = "b"
    assert runner._plan_moves() == [] and runner._skewed_since is None


def test_recently_moved_and_starting_cameras_stay_put() -> None:
    runner = _runner(after_s=0, cooldown_s=300)
    runner._known_nodes = {"a"}
    for cid in ("cam-0", "cam-1", "cam-2"):
        runner.cameras[cid].moved_at = time.time()
    runner.cameras["cam-3"].last = {}  # still starting: its node is the planned one
    runner.cameras["cam-3"].planned = "a"
    assert runner._plan_moves() == []
