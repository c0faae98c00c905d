"""``vigil cluster status``: the Ray cluster's nodes and where each camera runs, from any machine.

It joins the cluster named by ``cluster.address`` as a short-lived driver, lists the live nodes
(Ray's own view) and asks each of Vigil's named camera actors for its status, so it works while
``vigil run`` is running elsewhere. Output is a table, or JSON with ``--json``.
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


def cluster_status(address: str | None, namespace: str, timeout: float = 5.0) -> dict[str, Any]:
    """Nodes and camera actors of a running Vigil cluster (Ray must be reachable)."""
    import ray

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
        names = sorted(
            str(n) for n in ray.util.list_named_actors() if str(n).startswith(ACTOR_PREFIX)
        )
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
        return {"nodes": nodes, "cameras": cameras}
    finally:
        ray.shutdown()


@app.command("status")
def status(
    config_path: Path | None = CONFIG, as_json: bool = typer.Option(False, "--json")
) -> None:
    """Nodes, cameras per node, analysed frames, drops and state of each camera."""
    config = load_config(config_path)
    if config.cluster.engine != "ray":
        raise ConfigError("cluster.engine is embedded: there is no cluster to show")
    doc = cluster_status(config.cluster.address, config.cluster.namespace)
    if as_json:
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    per_node: dict[str, list[str]] = defaultdict(list)
    for cam in doc["cameras"]:
        per_node[str(cam.get("node", "?"))].append(str(cam.get("camera_id")))
    for n in doc["nodes"]:
        state = "alive" if n["alive"] else "dead"
        cams = ", ".join(per_node.get(n["node"], [])) or "-"
        typer.echo(f"node {n['node'][:12]} {n['host']} {state} cpus={n['cpus']:g}: {cams}")
    for cam in doc["cameras"]:
        typer.echo(
            f"camera {cam.get('camera_id')}: {cam.get('state')} "
            f"frames={cam.get('frames_analysed', '-')} drops={cam.get('dropped_frames', '-')} "
            f"recorder_lag_s={_lag(cam.get('recorder_lag_s'))} "
            f"pending={cam.get('recorder_pending', '-')}"
        )


def _lag(value: object) -> str:
    """Recorder lag for the table: seconds the oldest unrecorded decision has waited."""
    return "-" if not isinstance(value, int | float) else f"{value:.1f}"
