"""Places camera actors on a Ray cluster, watches them, and records each camera's gaps.

:class:`ClusterRunner` is what ``vigil run`` uses instead of the embedded pipelines when
``cluster.engine`` is ``ray``. It joins the cluster (``cluster.address``, or a Ray runtime local to
this machine), creates one named actor per enabled camera with the SPREAD strategy (cameras go
to different nodes while resources allow) and unlimited restarts, and asks every actor for its
status every ``cluster.failover_check_s``. An actor that does not answer (its node died, or it is
being re-created elsewhere by Ray) is marked ``restarting`` from that moment; when it answers
again, the time it was away is recorded as a gap of that camera (bounded history).

With ``cluster.inference: pooled`` it first creates the shared model actors of each pooled kind
(:func:`vigil.cluster.inference.start_pool`), which the camera actors find by name.

What it does not do yet (see docs/cluster.md): balance cameras by their measured cost, move
cameras when a node joins, or buffer records while PostgreSQL is away (each actor's writes
retry for ``storage.write_retry_s``, then the decision is lost and logged).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from vigil.config.cluster import PoolKind
from vigil.config.settings import VigilConfig

log = logging.getLogger(__name__)

ACTOR_PREFIX = "vigil-camera-"
MAX_GAPS = 20


@dataclass
class CameraWatch:
    """What the runner knows of one camera: its actor, its last status, its gaps."""

    camera_id: str
    actor: Any
    last: dict[str, Any] = field(default_factory=dict)
    down_since: float | None = None
    seen_at: float = 0.0
    gaps: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=MAX_GAPS))
    moves: int = 0


class ClusterRunner:
    """Camera actors on Ray for one config (see the module docstring)."""

    def __init__(self, config: VigilConfig) -> None:
        if config.cluster.engine != "ray":
            raise ValueError("ClusterRunner needs cluster.engine: ray")
        self.config = config
        self.cameras: dict[str, CameraWatch] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._owns_ray = False
        self.pool: dict[
            PoolKind, list[Any]
        ] = {}  # shared model actors per kind (inference: pooled)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        import ray

        from vigil.cluster.actor import remote_class

        cluster = self.config.cluster
        if not ray.is_initialized():
            ray.init(address=cluster.address, namespace=cluster.namespace, log_to_driver=False)
            self._owns_ray = True
        if cluster.inference == "pooled":
            from vigil.cluster.inference import start_pool

            self.pool = start_pool(self.config)
        actor_class = remote_class()
        for cam in self.config.cameras:
            if not cam.enabled:
                continue
            actor = actor_class.options(
                name=ACTOR_PREFIX + cam.id,
                namespace=cluster.namespace,
                num_cpus=cluster.camera_cpus,
                max_restarts=-1,
                max_task_retries=-1,
                scheduling_strategy="SPREAD",
            ).remote(self.config, cam.id)
            self.cameras[cam.id] = CameraWatch(cam.id, actor)
        self._thread = threading.Thread(target=self._watch, name="vigil-cluster", daemon=True)
        self._thread.start()
        log.info("cluster: %d camera actor(s) placed", len(self.cameras))

    def stop(self, timeout: float = 10.0) -> None:
        import ray

        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        refs = [w.actor.stop.remote() for w in self.cameras.values()]
        try:
            ray.get(refs, timeout=timeout)
        except Exception:  # a camera that cannot stop cleanly is killed below all the same
            log.exception("cluster: not every camera stopped cleanly")
        for w in self.cameras.values():
            ray.kill(w.actor, no_restart=True)
        for servers in self.pool.values():  # after the cameras: nothing asks them any more
            for server in servers:
                ray.kill(server, no_restart=True)
        if self._owns_ray:
            ray.shutdown()

    # -- watching -------------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.config.cluster.failover_check_s):
            self.poll()

    def poll(self, timeout: float | None = None) -> dict[str, dict[str, Any]]:
        """Ask every camera for its status now; returns the latest status of each.

        A camera that has never answered is ``starting`` (its actor is still being built), not
        down. A gap is recorded when a camera that answered before answers again after it
        stopped answering, or answers from a new incarnation of its actor (Ray re-created it
        between two polls): from its last answer (or the first missed one) to the new answer.
        Polls are serialised (the watch thread and a caller may both poll), and every time is
        taken when the answer arrives.
        """
        import ray

        wait = timeout if timeout is not None else self.config.cluster.failover_check_s
        with self._poll_lock:
            refs = {cid: w.actor.status.remote() for cid, w in self.cameras.items()}
            for cid, ref in refs.items():
                watch = self.cameras[cid]
                try:
                    status = ray.get(ref, timeout=wait)
                except Exception:  # the node died or the actor is being re-created elsewhere
                    with self._lock:
                        if watch.last and watch.down_since is None:
                            watch.down_since = time.time()
                            log.warning("cluster: camera %s is not answering (restarting)", cid)
                    continue
                now = time.time()
                with self._lock:
                    restarted = bool(watch.last) and (
                        watch.last.get("started_at") != status.get("started_at")
                    )
                    since = watch.down_since
                    if since is None and restarted:  # re-created between two polls
                        since = watch.seen_at
                    if since is not None:
                        watch.gaps.append((since, now))
                        log.warning("cluster: camera %s back after %.1f s", cid, now - since)
                        watch.down_since = None
                    if watch.last and watch.last.get("node") != status.get("node"):
                        watch.moves += 1
                    watch.last, watch.seen_at = status, now
        return self.statuses()

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Each camera's last status, with ``state: restarting`` while it is away."""
        out = {}
        with self._lock:
            for cid, w in self.cameras.items():
                row = dict(w.last) or {"camera_id": cid, "state": "starting"}
                if w.down_since is not None:
                    row["state"] = "restarting"
                row["gaps_s"] = [round(b - a, 2) for a, b in w.gaps]
                row["moves"] = w.moves
                out[cid] = row
        return out

    def camera_view(self) -> list[dict[str, Any]]:
        """The rows of the live terminal view (the embedded system's shape, plus the node)."""
        return list(self.statuses().values())
