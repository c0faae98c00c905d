"""``vigil cluster status``: the Ray cluster's nodes and where each camera runs, from any machine.

It joins the cluster named by ``cluster.address`` as a short-lived driver, lists the live nodes
(Ray's own view) and asks each of Vigil's named camera actors for its status, so it works while
``vigil run`` is running elsewhere (or not at all: the actors are detached). Per node: its CPUs
and the load of its cameras (their measured CPU cores, the configured prior for a camera not
measured yet); per camera: its measured cost, why it was placed where it is (``placed``, or the
rebalance that moved it), its scheduler moves (``move_log``, handed to each new actor) and
whether Ray re-created it since (``reconstructed``; a Ray restart on another node is in the
runner's own move log in ``vigil run``, not here).
Output is a table, or JSON with ``--json``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

import typer

from vigil.config import load_config
from vigil.errors import ConfigError

app = typer.Typer(help="Cluster mode on Ray.", no_args_is_help=True)
CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use.")


def cluster_status(
    address: str | None, namespace: str, timeout: float = 5.0, prior: float = 0.5
) -> dict[str, Any]:
    """Nodes and camera actors of a running Vigil cluster (Ray must be reachable)."""
    import ray

    from vigil.cluster.inference import POOL_PREFIX
    from vigil.cluster.runner import ACTOR_PREFIX

    ray.init(address=address or "auto", namespace=namespace, log_to_driver=False)
    try:
        nodes = [
            {
                "node": n["NodeID"],
                "host": n.get("NodeManagerHostname", ""),
                "alive": bool(n.get("Alive")),
                "cpus": n.get("Resources", {}).get("CPU", 0.0),
                "gpus": n.get("Resources", {}).get("GPU", 0.0),
            }
            for n in ray.nodes()  # type: ignore[no-untyped-call]
        ]
        # In the current namespace Ray lists the names alone.
        all_names = ray.util.list_named_actors()
        names = sorted(str(n) for n in all_names if str(n).startswith(ACTOR_PREFIX))
        cameras: list[dict[str, Any]] = []
        for name in names:
            try:
                actor = ray.get_actor(name, namespace=namespace)
                row = cast(dict[str, Any], ray.get(actor.status.remote(), timeout=timeout))
                cameras.append(row)
            except Exception as exc:  # an actor being re-created elsewhere does not answer
                cameras.append(
                    {"camera_id": name.removeprefix(ACTOR_PREFIX), "state": str(exc)[:80]}
                )
        for node in nodes:
            costs = [c.get("cost_cores") for c in cameras if c.get("node") == node["node"]]
            node["load_cores"] = round(sum(prior if v is None else float(v) for v in costs), 3)
        pools: list[dict[str, Any]] = []
        for name in sorted(str(n) for n in all_names if str(n).startswith(POOL_PREFIX)):
            try:
                actor = ray.get_actor(name, namespace=namespace)
                row = cast(dict[str, Any], ray.get(actor.stats.remote(), timeout=timeout))
                pools.append({"name": name, **row})
            except Exception as exc:
                pools.append({"name": name, "state": str(exc)[:80]})
        return {"nodes": nodes, "cameras": cameras, "pools": pools, "kinds": pool_kinds(pools)}
    finally:
        ray.shutdown()


def pool_kinds(pools: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per pooled kind: its actors (answering / all), requests/s, queued, dropped, failed."""
    from vigil.cluster.inference import POOL_PREFIX

    out: dict[str, dict[str, Any]] = {}
    for row in pools:
        kind = str(row.get("kind") or row["name"].removeprefix(POOL_PREFIX).rsplit("-", 1)[0])
        agg = out.setdefault(
            kind,
            {
                "actors": 0,
                "answering": 0,
                "requests_per_s": 0.0,
                "queued": 0,
                "dropped": 0,
                "failed": 0,
            },
        )
        agg["actors"] += 1
        if "queue_depth" in row:
            agg["answering"] += 1
            agg["requests_per_s"] = round(agg["requests_per_s"] + row["requests_per_s"], 2)
            agg["queued"] += row["queue_depth"]
            agg["dropped"] += row["dropped"]
            agg["failed"] += row["failed"]
    return out


@app.command("status")
def status(
    config_path: Path | None = CONFIG, as_json: bool = typer.Option(False, "--json")
) -> None:
    """Nodes, cameras per node, analysed frames, drops and state of each camera, and the
    inference pool actors' queue depth, mean batch size, requests/s and drops."""
    config = load_config(config_path)
    if config.cluster.engine != "ray":
        raise ConfigError("cluster.engine is embedded: there is no cluster to show")
    doc = cluster_status(
        config.cluster.address, config.cluster.namespace, prior=config.cluster.camera_cost_prior
    )
    if as_json:
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    per_node: dict[str, list[str]] = defaultdict(list)
    for cam in doc["cameras"]:
        per_node[str(cam.get("node", "?"))].append(str(cam.get("camera_id")))
    for n in doc["nodes"]:
        state = "alive" if n["alive"] else "dead"
        cams = ", ".join(per_node.get(n["node"], [])) or "-"
        typer.echo(
            f"node {n['node'][:12]} {n['host']} {state} cpus={n['cpus']:g} "
            f"load={n['load_cores']:g}: {cams}"
        )
    for cam in doc["cameras"]:
        cost = cam.get("cost_cores")
        typer.echo(
            f"camera {cam.get('camera_id')}: {cam.get('state')} "
            f"frames={cam.get('frames_analysed', '-')} fps={cam.get('analysed_fps') or '-'} "
            f"drops={cam.get('dropped_frames', '-')} "
            f"saturation_drops={cam.get('saturation_drops', '-')} "
            f"priority={cam.get('priority') or '-'} "
            f"recorder_lag_s={_lag(cam.get('recorder_lag_s'))} "
            f"pending={cam.get('recorder_pending', '-')} "
            f"cost={'-' if cost is None else f'{cost:g}'} moves={len(cam.get('move_log') or [])} "
            f"placed={cam.get('placed', '-')}"
            f"{' (re-created by Ray)' if cam.get('reconstructed') else ''}"
        )
    for kind, agg in doc.get("kinds", {}).items():
        typer.echo(
            f"pool kind {kind}: actors={agg['answering']}/{agg['actors']} "
            f"req/s={agg['requests_per_s']} queued={agg['queued']} dropped={agg['dropped']} "
            f"failed={agg['failed']}"
        )
    for pool in doc.get("pools", []):
        typer.echo(
            f"pool {pool['name']}: queue={pool.get('queue_depth', '-')} "
            f"mean_batch={pool.get('mean_batch', '-')} req/s={pool.get('requests_per_s', '-')} "
            f"dropped={pool.get('dropped', '-')} wait_ms={pool.get('wait_ms', '-')}"
        )


def _lag(value: object) -> str:
    """Recorder lag for the table: seconds the oldest unrecorded decision has waited."""
    return "-" if not isinstance(value, int | float) else f"{value:.1f}"
