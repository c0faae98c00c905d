"""Cluster mode against the embedded mode on the same footage: throughput per worker-node count.

N cameras of real footage (OpenCV's vtest.avi, looped) are analysed for a fixed wall time three
ways in one run: the embedded system (one process; the baseline), a Ray cluster on this machine
with one worker node, and with two worker nodes (the machine's cores split between them). The
figure is analysed frames per second summed over the cameras (read from each camera's
``frames_analysed`` before and after the window, so start-up is excluded), and each cluster
figure is reported beside the embedded one as a ratio.

Cameras analyse people (NanoDet + ByteTrack, ``analytics: [persons]``) at ``fps`` sampled frames
per second from files read as fast as possible (``realtime: false``), so the machine is
saturated and the figure is capacity, not the cameras' own rate.

What it can show on a 2-core machine: the overhead of the Ray path (actors, one model copy per
camera actor instead of one shared detector) at equal cores; not scaling, since two "nodes" here
share the same two cores. The issue's scaling targets (≥ 1.8× from 1 to 2 nodes, ≥ 3.2× from 1 to
4) need a multi-core machine; ``python -m bench.bench_cluster --nodes 1 2 4 --cores N`` runs there.

``--inference local pooled`` adds, per node count, the same cameras with ``cluster.inference:
pooled`` (one shared detector actor that batches the cameras' frames, ``pool.cpus: 0`` so it
takes no camera's place on the node) beside the local-inference figure of the same run, with the
pool's mean batch size.

**Per-frame latency** (``--latency``): one camera, the same footage read at its own rate, analysed
in the embedded system and then as a Ray actor in the same run; each reports the p50/p95 of its
frames' time from decoding to analysis done (queueing included, measured inside the running
pipeline, :class:`vigil.system.analysis.CameraStats`), and the Ray figures are given as ratios
to the embedded ones. Today the Ray path decodes and analyses inside the actor, so what it adds
is the cost of running beside Ray's own processes, not a hop per frame.

Usage: ``python -m bench --only cluster`` (part of ``make bench``),
``python -m bench.bench_cluster --cameras 4 --seconds 60 --nodes 1 2 [--inference local pooled]``,
or
``python -m bench.bench_cluster --latency --fps 5 --seconds 40 --json FILE``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback-only test cluster

FOOTAGE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "opencv_vtest"


def _config(
    cameras: int,
    fps: float,
    data_dir: Path,
    db_url: str,
    address: str | None,
    *,
    inference: str = "local",
    realtime: bool = False,
) -> Any:
    from vigil.config.settings import VigilConfig

    cluster: dict[str, Any] = {"engine": "embedded"}
    if address is not None:
        cluster = {"engine": "ray", "address": address, "camera_cpus": 0.5}
        cluster |= {"inference": inference, "pool": {"cpus": 0, "max_batch": 8}}
    return VigilConfig.model_validate(
        {
            "system": {"data_dir": str(data_dir)},
            "storage": {"url": db_url},
            "cluster": cluster,
            "cameras": [
                {
                    "id": f"cam-{i}",
                    "url": str((FOOTAGE / "vtest.avi").resolve()),
                    "loop": True,
                    "realtime": realtime,
                    "fps": fps,
                    "analytics": ["persons"],
                }
                for i in range(cameras)
            ],
        }
    )


def _frames(rows: list[dict[str, Any]]) -> int:
    return sum(int(r.get("frames_analysed") or 0) for r in rows)


def embedded_fps(cameras: int, fps: float, seconds: float, db_url: str, tmp: Path) -> float:
    """Analysed frames per second of the embedded system (every camera in one process)."""
    from vigil.system.assembly import assemble

    built = assemble(_config(cameras, fps, tmp / "embedded", db_url, None))
    system = built.system
    assert system is not None
    system.start()
    try:
        time.sleep(min(20.0, seconds / 2))  # warm-up: models loaded, queues flowing
        n0, t0 = _frames(system.camera_view()), time.monotonic()
        time.sleep(seconds)
        return (_frames(system.camera_view()) - n0) / (time.monotonic() - t0)
    finally:
        system.stop()
        built.services.repo.db.dispose()


def cluster_fps(
    cameras: int,
    fps: float,
    seconds: float,
    db_url: str,
    tmp: Path,
    *,
    nodes: int,
    cores: int,
    inference: str = "local",
    pool_stats: dict[str, Any] | None = None,
) -> float:
    """Analysed frames per second with ``nodes`` worker nodes sharing ``cores`` logical CPUs;
    with ``inference: pooled`` the pool's statistics are copied into ``pool_stats``."""
    import ray
    from ray.cluster_utils import Cluster

    from vigil.cluster.runner import ClusterRunner

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(nodes):
        cluster.add_node(num_cpus=max(1, cores // nodes))
    cluster.wait_for_nodes()
    data = tmp / f"ray{nodes}-{inference}"
    runner = ClusterRunner(
        _config(cameras, fps, data, db_url, cluster.address, inference=inference)
    )
    try:
        runner.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            rows = list(runner.poll(timeout=10).values())
            if len(rows) == cameras and all((r.get("frames_analysed") or 0) > 0 for r in rows):
                break
        time.sleep(min(20.0, seconds / 2))
        n0, t0 = _frames(list(runner.poll(timeout=10).values())), time.monotonic()
        time.sleep(seconds)
        n1 = _frames(list(runner.poll(timeout=10).values()))
        elapsed = time.monotonic() - t0
        if pool_stats is not None and runner.pool.get("objects"):
            pool_stats.update(ray.get(runner.pool["objects"][0].stats.remote(), timeout=30))
        return (n1 - n0) / elapsed
    finally:
        runner.stop()
        ray.shutdown()
        cluster.shutdown()


def _latency(row: dict[str, Any]) -> dict[str, float | None]:
    return {"p50_ms": row.get("latency_ms_p50"), "p95_ms": row.get("latency_ms_p95")}


def embedded_latency(fps: float, seconds: float, db_url: str, tmp: Path) -> dict[str, Any]:
    """One camera in the embedded system: per-frame latency over its last frames."""
    from vigil.system.assembly import assemble

    built = assemble(_config(1, fps, tmp / "lat-embedded", db_url, None, realtime=True))
    system = built.system
    assert system is not None
    system.start()
    try:
        time.sleep(seconds)  # the status summarises the last LATENCY_FRAMES frames only
        (row,) = system.camera_view()
        return {**_latency(row), "frames": row["frames_analysed"], "dropped": row["dropped_frames"]}
    finally:
        system.stop()
        built.services.repo.db.dispose()


def cluster_latency(fps: float, seconds: float, db_url: str, tmp: Path) -> dict[str, Any]:
    """The same camera as a Ray actor on one worker node (every core of this machine)."""
    import ray
    from ray.cluster_utils import Cluster

    from vigil.cluster.runner import ClusterRunner

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    cluster.add_node(num_cpus=os.cpu_count() or 2)
    cluster.wait_for_nodes()
    runner = ClusterRunner(_config(1, fps, tmp / "lat-ray", db_url, cluster.address, realtime=True))
    try:
        runner.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # the actor is built (models loaded) and analysing
            (row,) = runner.poll(timeout=10).values()
            if (row.get("frames_analysed") or 0) > 0:
                break
            time.sleep(0.5)
        time.sleep(seconds)
        (row,) = runner.poll(timeout=10).values()
        return {**_latency(row), "frames": row["frames_analysed"], "dropped": row["dropped_frames"]}
    finally:
        runner.stop()
        ray.shutdown()
        cluster.shutdown()


def measure_latency(fps: float, seconds: float) -> dict[str, object]:
    """Per-frame latency (decoded → analysed) of one camera, embedded vs Ray, in one run.

    The camera reads vtest.avi at its own rate (``realtime``) and analyses people at ``fps``
    sampled frames per second, so the machine is not saturated and the figure is the time a
    frame takes, queueing included, not a capacity. Each mode runs ``seconds`` after start-up;
    each camera's status summarises its last 120 frames, so ``seconds * fps`` should be at
    least 120 to exclude the warm-up.
    """
    import tempfile

    from vigil.system.analysis import LATENCY_FRAMES

    if not (FOOTAGE / "vtest.avi").is_file():
        return {"skipped": f"needs {FOOTAGE / 'vtest.avi'}"}
    url, drop = _database()
    out: dict[str, Any] = {"cameras": 1, "fps": fps, "window_s": seconds}
    out["frames_summarised"] = min(LATENCY_FRAMES, int(seconds * fps))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out["embedded"] = embedded_latency(fps, seconds, url, Path(tmp))
            out["ray"] = cluster_latency(fps, seconds, url, Path(tmp))
    finally:
        drop()
    for q in ("p50_ms", "p95_ms"):
        base, ray_ms = out["embedded"][q], out["ray"][q]
        out[f"ray_vs_embedded_{q[:3]}_ratio"] = round(ray_ms / base, 3) if base and ray_ms else None
    return out


def _database() -> tuple[str, Any]:
    """A fresh PostgreSQL database for the run (cluster mode needs PostgreSQL); dropped after."""
    import uuid

    import psycopg

    from vigil.storage import Database

    name = f"vigil_bench_{uuid.uuid4().hex[:10]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    db = Database(url)
    db.migrate()
    db.dispose()

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def measure(
    cameras: int,
    fps: float,
    seconds: float,
    nodes: list[int],
    cores: int,
    *,
    inference: tuple[str, ...] = ("local",),
) -> dict[str, object]:
    import tempfile

    if not (FOOTAGE / "vtest.avi").is_file():
        return {"skipped": f"needs {FOOTAGE / 'vtest.avi'}"}
    url, drop = _database()
    out: dict[str, object] = {"cameras": cameras, "fps_per_camera": fps, "window_s": seconds}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = embedded_fps(cameras, fps, seconds, url, Path(tmp))
            out["embedded_frames_per_s"] = round(base, 2)
            for n in nodes:
                local = None
                for mode in inference:
                    stats: dict[str, Any] = {}
                    value = cluster_fps(
                        cameras, fps, seconds, url, Path(tmp), nodes=n, cores=cores,
                        inference=mode, pool_stats=stats,
                    )  # fmt: skip
                    key = f"ray_{n}_nodes" + ("" if mode == "local" else f"_{mode}")
                    out[f"{key}_frames_per_s"] = round(value, 2)
                    out[f"{key}_vs_embedded_ratio"] = round(value / base, 3) if base else None
                    if mode == "local":
                        local = value
                    elif local:
                        out[f"{key}_vs_local_ratio"] = round(value / local, 3)
                    if stats:
                        out[f"{key}_mean_batch"] = stats["mean_batch"]
                        out[f"{key}_wait_ms"] = stats["wait_ms"]
    finally:
        drop()
    return out


def run(quick: bool) -> dict[str, object]:
    cores = os.cpu_count() or 2
    out = measure(2 if quick else 4, 2.0, 20.0 if quick else 60.0, [1, 2], cores)
    out["latency"] = measure_latency(5.0, 24.0 if quick else 40.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--inference", nargs="+", choices=["local", "pooled"], default=["local"],
        help="camera actors' inference: their own models, a shared batching pool, or both",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument(
        "--latency",
        action="store_true",
        help="measure per-frame latency of one camera instead (embedded vs Ray; --fps and "
        "--seconds apply, e.g. --fps 5 --seconds 40)",
    )
    args = parser.parse_args()
    if args.latency:
        result = measure_latency(args.fps, args.seconds)
    else:
        result = measure(
            args.cameras,
            args.fps,
            args.seconds,
            args.nodes,
            args.cores,
            inference=tuple(args.inference),
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
