"""The Ray head dies and comes back: the worker node's cameras keep running throughout.

A real multi-process Ray cluster on this machine: a head started with ``ray start --head`` (a
free port, never 6379, where Redis is) with GCS fault tolerance on the local Redis
(``RAY_REDIS_ADDRESS=127.0.0.1:6379`` and a namespace of its own per run), and one worker node
(``ray start --address``) that the cameras run on. A runner (in a child process: a Ray driver
whose GCS goes away would end its process, here pytest) places three cameras of real footage
and detaches. Then every process of the head node is killed (as when the head machine dies),
the head is started again on the same port with the same Redis namespace, and a new runner
re-attaches.

Checked: during the outage the camera actors' processes are alive; afterwards each camera is
the same actor incarnation (same ``started_at``, same process, not reconstructed), on the same
node, with more frames analysed than before; the new runner re-attached to the three actors
instead of starting others. Measured and printed (not asserted): how long the head was away.

What the outage loses (also in docs/cluster.md): while the GCS is down no actor can be created,
restarted or killed, no node can join (Ray's GCS fault-tolerance documentation), and no driver
can connect, so ``vigil run``'s status polling, ``vigil cluster status`` and any placement wait
for the head; the head's own processes and drivers die with it (``vigil run`` on the head
machine must be started again; the camera actors are detached, so it re-attaches). The second
test shows the limit: the worker's raylet waits for the GCS only
``RAY_gcs_rpc_server_reconnect_timeout_s`` (60 s by default, 5 s there), then exits and its
cameras end with it: a head away longer than that loses the worker's cameras.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")

REPO = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)
CAMERAS = 3


def _redis(*args: str) -> bytes:
    """One Redis command over a raw socket (RESP), the reply's raw bytes."""
    wire = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
    with socket.create_connection(REDIS, timeout=2) as s:
        s.sendall(wire.encode())
        s.settimeout(2)
        return s.recv(1 << 20)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _marked(marker: str) -> list[int]:
    """Processes whose environment carries ``VIGIL_TEST_NODE=marker`` (this test's own)."""
    needle = f"VIGIL_TEST_NODE={marker}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            pids.append(int(entry.name))
    return pids


def _kill_all(marker: str) -> int:
    pids = _marked(marker)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Node:
    """``ray start`` for one node of the test cluster, its processes marked in their env."""

    def __init__(self, env: dict[str, str], args: list[str]) -> None:
        self.marker = f"{'head' if '--head' in args else 'worker'}-{uuid.uuid4().hex[:8]}"
        self.env = {**env, "VIGIL_TEST_NODE": self.marker}
        self.args = args

    def start(self) -> None:
        # Ray's own `ray start`, through a wrapper that keeps 127.0.0.1 (tests/support/ray_start)
        done = subprocess.run(
            [sys.executable, "-m", "tests.support.ray_start", "start", *self.args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def _driver(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.cluster_driver", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (done.stdout[-2000:], done.stderr[-3000:])
    doc: dict[str, Any] = json.loads(lines[-1])
    return doc


@dataclass
class HeadCluster:
    """A head and a worker node of this test, the drivers' environment and the config file."""

    head: Node
    worker: Node
    env: dict[str, str]
    config: Path
    temp: Path

    def place(self) -> dict[str, Any]:
        """Cameras placed by a runner that then detaches; their statuses by camera."""
        before = _driver(self.env, "place", str(self.config), str(CAMERAS))
        rows: dict[str, Any] = before["cameras"]
        assert len({r["node"] for r in rows.values()}) == 1, f"not all on the worker: {rows}"
        return rows

    def kill_head(self) -> None:
        assert _kill_all(self.head.marker) > 0, "no head process found to kill"

    def restart_head(self) -> None:
        # `ray start --head` refuses a port that a local process names as its GCS (the worker's
        # raylet does) when it is also the last cluster started from this temp dir: forget it.
        (self.temp / "ray_current_cluster").unlink(missing_ok=True)
        self.head.start()  # same port, same Redis namespace: the GCS reloads from Redis


@contextmanager
def _cluster(
    pg_url: str, vtest_video: Path, worker_env: dict[str, str] | None = None
) -> Iterator[HeadCluster]:
    """A head with GCS fault tolerance on the local Redis and one worker with 2 CPUs; every
    process of both killed and the Redis namespace deleted at the end, whatever happened."""
    try:
        assert _redis("PING").startswith(b"+PONG")
    except (OSError, AssertionError):
        pytest.skip("needs Redis on 127.0.0.1:6379 for Ray's GCS fault tolerance")
    storage_ns = f"vigil-test-{uuid.uuid4().hex[:12]}"
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="vr", dir="/tmp"))  # short: socket paths have a limit
    env = {
        **os.environ,
        "RAY_REDIS_ADDRESS": f"{REDIS[0]}:{REDIS[1]}",
        "RAY_external_storage_namespace": storage_ns,
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # drivers take 127.0.0.1 as their address
        "RAY_USAGE_STATS_ENABLED": "0",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
    }
    # The nodes: `ray start` refuses to join a cluster with the variable above set to 0.
    nodes = {k: v for k, v in env.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    common = ["--node-ip-address=127.0.0.1", "--disable-usage-stats", f"--temp-dir={temp}"]
    head = Node(
        nodes,
        [
            "--head",
            f"--port={port}",
            "--num-cpus=0",  # cameras go to the worker only
            "--include-dashboard=false",
            f"--dashboard-agent-listen-port={_free_port()}",
            *common,
        ],
    )
    worker = Node(
        {**nodes, **(worker_env or {})},
        [
            f"--address=127.0.0.1:{port}",
            "--num-cpus=2",
            f"--dashboard-agent-listen-port={_free_port()}",
            *common,
        ],
    )
    config = temp / "vigil.yaml"
    cams = ", ".join(
        f"{{id: cam-{i}, url: '{vtest_video}', loop: true, realtime: true, fps: 2, analytics: []}}"
        for i in range(CAMERAS)
    )
    config.write_text(
        f"system: {{data_dir: {temp}/data}}\n"
        f"storage: {{url: '{pg_url}'}}\n"
        f"cluster: {{engine: ray, address: '127.0.0.1:{port}', failover_check_s: 1}}\n"
        f"cameras: [{cams}]\n"
    )
    try:
        head.start()
        worker.start()
        yield HeadCluster(head, worker, env, config, temp)
    finally:
        for node in (worker, head):
            _kill_all(node.marker)
        from ray._private.gcs_utils import cleanup_redis_storage

        cleanup_redis_storage(REDIS[0], REDIS[1], "", False, storage_ns)
        shutil.rmtree(temp, ignore_errors=True)  # the nodes' session logs
    left = _redis("KEYS", f"*{storage_ns}*")
    assert left.startswith(b"*0\r\n"), f"Redis keys of {storage_ns} left: {left[:200]!r}"


def _wait_dead(pids: dict[str, int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return not any(_alive(p) for p in pids.values())


@pytest.mark.timeout(900)
def test_cameras_on_a_worker_keep_running_while_the_head_restarts(
    pg_url: str, vtest_video: Path
) -> None:
    with _cluster(pg_url, vtest_video) as tc:
        before = tc.place()
        pids = {cid: r["pid"] for cid, r in before.items()}
        killed_at = time.monotonic()
        tc.kill_head()
        time.sleep(3)  # the head is gone: the worker's cameras go on
        assert not _marked(tc.head.marker), "a head process survived SIGKILL"
        assert all(_alive(p) for p in pids.values()), "a camera process died with the head"
        restart = time.monotonic()
        tc.restart_head()
        restart_s = time.monotonic() - restart
        after = _driver(tc.env, "attach", str(tc.config), str(CAMERAS))
        head_away_s = time.monotonic() - killed_at
        print(
            f"\nhead_away_s={head_away_s:.1f} (kill to a new driver re-attached: 3 s down on "
            f"purpose, `ray start --head` {restart_s:.1f} s, the new runner's start "
            f"{after['attached_s']:.1f} s); at 2 fps a camera that never paused analyses about "
            f"{2 * head_away_s:.0f} frames in that time"
        )
        for cid, row in before.items():
            new = after["cameras"][cid]
            assert new["started_at"] == row["started_at"], f"{cid} was started again"
            assert new["pid"] == row["pid"] and not new["reconstructed"]
            assert new["node"] == row["node"]
            assert new["frames_analysed"] > row["frames_analysed"], (cid, row, new)
            print(f"{cid}: frames {row['frames_analysed']} -> {new['frames_analysed']}")
        assert set(after["cameras"]) == set(before)
        _driver(tc.env, "stop", str(tc.config))  # the runner's stop() ends the detached actors
        assert _wait_dead(pids, 30), "a stopped camera's process lives on"


@pytest.mark.timeout(600)
def test_a_head_away_longer_than_the_reconnect_timeout_loses_the_workers_cameras(
    pg_url: str, vtest_video: Path
) -> None:
    """What is lost when the head stays away: the worker gives up on the GCS and its cameras
    end with it. The timeout is shortened to 5 s here (Ray's default is 60 s)."""
    timeout = {"RAY_gcs_rpc_server_reconnect_timeout_s": "5"}
    with _cluster(pg_url, vtest_video, worker_env=timeout) as tc:
        pids = {cid: r["pid"] for cid, r in tc.place().items()}
        killed_at = time.monotonic()
        tc.kill_head()
        assert _wait_dead(pids, 120), "the worker's cameras outlived the reconnect timeout"
        lost_s = time.monotonic() - killed_at
        print(f"\ncameras ended {lost_s:.1f} s after the head died (reconnect timeout 5 s)")
        raylets = {str(p): p for p in _marked(tc.worker.marker) if "raylet" in _cmdline(p)}
        assert _wait_dead(raylets, 60), "the worker's raylet outlived the reconnect timeout"
        rest = [_cmdline(p)[:60] for p in _marked(tc.worker.marker)]
        print(f"worker processes left (killed by the test's clean-up): {rest}")
