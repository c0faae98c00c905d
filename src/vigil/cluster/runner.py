"""Runs the desired cameras as Ray actors, places them by measured cost, and watches them.

:class:`ClusterRunner` is what ``vigil run`` uses instead of the embedded pipelines when
``cluster.engine`` is ``ray``. Every ``cluster.failover_check_s`` it

1. asks every camera actor for its status (node, frames, measured CPU cost). An actor that does
   not answer (its node died, or Ray is re-creating it elsewhere) is ``restarting`` from that
   moment; when it answers again the time it was away is recorded as a gap (bounded history);
2. reads the *desired* cameras: those enabled in the database's ``cameras`` table that the config
   file also defines (the file holds the source URL; the table holds it redacted). A camera
   disabled in the table is stopped, one enabled again is started; one enabled in the table but
   missing from the file cannot run and is listed as such (``unrunnable``);
3. places new cameras with :func:`vigil.cluster.scheduler.place` on the alive node with the
   lowest load over capacity (Ray's node list and CPU resources), through a *soft*
   ``NodeAffinitySchedulingStrategy``, so Ray can still restart the actor elsewhere when that
   node dies;
4. rebalances (:func:`vigil.cluster.scheduler.rebalance`) at once when a node joins, or when
   the load has been skewed beyond ``cluster.rebalance_ratio`` for ``cluster.rebalance_after_s``;
   a moved camera is stopped and started on its new node (a gap of a few seconds), and is not
   moved again for ``cluster.move_cooldown_s``. Every move, with its reason, is kept (bounded).

Camera actors are *detached* named actors in the cluster's namespace: they outlive the process
that created them. A restarted ``vigil run`` (or one run after the Ray head came back) finds them
by name and re-attaches instead of starting them again. :meth:`ClusterRunner.stop` stops and
kills them; :meth:`ClusterRunner.detach` leaves them running (for a planned restart of the head
process). A re-attached actor keeps the configuration it was started with until it is moved or
restarted; a changed camera needs a disable/enable (or ``vigil run`` with the old actors
stopped).

With ``cluster.inference: pooled`` it first creates the shared model actors of each pooled kind
(:func:`vigil.cluster.inference.start_pool`), which the camera actors find by name.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from vigil.cluster.scheduler import Move, loads, place, rebalance, skew, utilisation
from vigil.config.cluster import PoolKind
from vigil.config.settings import VigilConfig
from vigil.governance.audit import utc_now
from vigil.storage import Repository
from vigil.system.assembly import sync_cameras

log = logging.getLogger(__name__)

ACTOR_PREFIX = "vigil-camera-"
MAX_GAPS = 20
MAX_MOVES_KEPT = 20
POOL_ASK_S = 60.0  # how long placement waits for a pool actor to say where it runs
COST_SMOOTHING = 0.3  # weight of a new measurement in the camera's cost (exponential average)


@dataclass
class CameraWatch:
    """What the runner knows of one camera: its actor, its last status, gaps, cost and moves."""

    camera_id: str
    actor: Any
    planned: str | None = None  # node the scheduler asked for (until the actor answers)
    last: dict[str, Any] = field(default_factory=dict)
    down_since: float | None = None
    seen_at: float = 0.0
    gaps: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=MAX_GAPS))
    moves: int = 0
    cost: float | None = None  # CPU cores, smoothed; None before the first measurement
    moved_at: float = 0.0
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_MOVES_KEPT))

    def node(self) -> str | None:
        return self.last.get("node") or self.planned


class ClusterRunner:
    """Camera actors on Ray for one config (see the module docstring)."""

    def __init__(self, config: VigilConfig, repo: Repository | None = None) -> None:
        if config.cluster.engine != "ray":
            raise ValueError("ClusterRunner needs cluster.engine: ray")
        self.config = config
        self.cameras: dict[str, CameraWatch] = {}
        self.unrunnable: list[str] = []
        self.desired_error: str | None = None
        self.nodes: dict[str, float] = {}  # alive nodes that can take a camera: id -> CPUs
        self._repo = repo
        self._owns_repo = repo is None
        self._known_nodes: set[str] | None = None
        self._skewed_since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._owns_ray = False
        self.pool: dict[PoolKind, list[Any]] = {}  # shared model actors per kind (pooled)
        self._pool_nodes: dict[tuple[str, int], str] = {}  # (kind, index) -> node last seen
        self._pool_asked: set[tuple[str, int]] = set()
        self._actor_class: Any = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Join Ray, re-attach to running camera actors, place the rest, start watching."""
        import ray

        from vigil.cluster.actor import remote_class
        from vigil.storage.factory import open_database_from_config

        cluster = self.config.cluster
        if not ray.is_initialized():
            ray.init(address=cluster.address, namespace=cluster.namespace, log_to_driver=False)
            self._owns_ray = True
        if cluster.inference == "pooled":
            from vigil.cluster.inference import start_pool

            self.pool = start_pool(self.config)
        if self._repo is None:
            self._repo = Repository(open_database_from_config(self.config))
        # As the head's assembly does: the file's cameras into the table (its enabled flags
        # re-applied, except that a camera a person switched off stays off); from here on the
        # table decides which cameras run.
        sync_cameras(self._repo, self.config, utc_now())
        self._actor_class = remote_class()
        self._attach()
        self.poll()
        self.schedule()
        self._thread = threading.Thread(target=self._watch, name="vigil-cluster", daemon=True)
        self._thread.start()
        log.info("cluster: %d camera actor(s) running or placed", len(self.cameras))

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every camera actor (they are detached: nothing else would) and leave Ray."""
        import ray

        self._halt(timeout)
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
        self._leave()

    def close(self, timeout: float = 10.0) -> None:
        """What ``vigil run`` does on exit: :meth:`stop` or :meth:`detach` (``cluster.on_exit``)."""
        if self.config.cluster.on_exit == "detach":
            self.detach(timeout)
        else:
            self.stop(timeout)

    def detach(self, timeout: float = 10.0) -> None:
        """Stop watching and leave Ray, with every camera actor left running.

        For a restart of the head process (an upgrade of ``vigil run``, a head machine being
        replaced): the next runner re-attaches to the same actors by name.
        """
        self._halt(timeout)
        log.info("cluster: detached from %d running camera actor(s)", len(self.cameras))
        self._leave()

    def _halt(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _leave(self) -> None:
        import ray

        if self._owns_repo and self._repo is not None:
            self._repo.db.dispose()
        if self._owns_ray:
            ray.shutdown()

    def _attach(self) -> None:
        """Take over the camera actors a previous runner left running (found by name)."""
        import ray

        namespace = self.config.cluster.namespace
        for entry in ray.util.list_named_actors(all_namespaces=True):
            name = str(entry.get("name", ""))
            if entry.get("namespace") != namespace or not name.startswith(ACTOR_PREFIX):
                continue
            try:
                actor = ray.get_actor(name, namespace=namespace)
            except ValueError:  # it died between the listing and now
                continue
            cid = name.removeprefix(ACTOR_PREFIX)
            self.cameras[cid] = CameraWatch(cid, actor)
            log.info("cluster: re-attached to the running actor of camera %s", cid)

    # -- watching -------------------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.config.cluster.failover_check_s):
            try:
                self.poll()
                self.schedule()
            except Exception:  # a pass that fails is logged; the next one starts afresh
                log.exception("cluster: a scheduling pass failed")

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
                try:
                    status = ray.get(ref, timeout=wait)
                except Exception:  # the node died or the actor is being re-created elsewhere
                    self._missed(cid)
                    continue
                self._answered(cid, status)
        return self.statuses()

    def _missed(self, cid: str) -> None:
        with self._lock:
            watch = self.cameras.get(cid)
            if watch is not None and watch.last and watch.down_since is None:
                watch.down_since = time.time()
                log.warning("cluster: camera %s is not answering (restarting)", cid)

    def _answered(self, cid: str, status: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            watch = self.cameras.get(cid)
            if watch is None:  # removed while the answer was on its way
                return
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
                if watch.moved_at < watch.seen_at:  # not a move of ours: Ray restarted it
                    watch.history.append(
                        _move_row(
                            now,
                            watch.last.get("node"),
                            status.get("node"),
                            "restarted by Ray (its node or process died)",
                        )
                    )
            measured = status.get("cost_cores")
            if isinstance(measured, (int, float)):
                watch.cost = (
                    float(measured)
                    if watch.cost is None
                    else (1 - COST_SMOOTHING) * watch.cost + COST_SMOOTHING * float(measured)
                )
            watch.last, watch.seen_at = status, now

    # -- scheduling -----------------------------------------------------------------------------

    def schedule(self) -> list[Move]:
        """One scheduling pass: stop undesired cameras, place new ones, rebalance; the moves."""
        desired = self._desired()
        self.nodes = self._alive_nodes()
        with self._poll_lock:
            if desired is not None:
                for cid in sorted(set(self.cameras) - desired):
                    self._remove(cid, "disabled in the database or gone from the config file")
                self._place_new(desired)
            moves = self._plan_moves()
            for move in moves:
                self._move(move)
        return moves

    def _desired(self) -> set[str] | None:
        """Cameras enabled in the database that the config file defines; None if unreadable."""
        assert self._repo is not None
        try:
            enabled = {c.id for c in self._repo.list_cameras() if c.enabled}
        except Exception as exc:  # keep what runs; say why nothing changes
            self.desired_error = f"cannot read the cameras table: {type(exc).__name__}"
            log.warning("cluster: %s; cameras left as they are", self.desired_error)
            return None
        self.desired_error = None
        defined = {c.id for c in self.config.cameras}
        unrunnable = sorted(enabled - defined)
        if unrunnable != self.unrunnable and unrunnable:
            log.warning(
                "cluster: enabled in the database but not in the config file: %s",
                ", ".join(unrunnable),
            )
        self.unrunnable = unrunnable
        return enabled & defined

    def _alive_nodes(self) -> dict[str, float]:
        import ray

        need = self.config.cluster.camera_cpus
        reserved = self._pool_reservations()
        out = {}
        for n in ray.nodes():  # type: ignore[no-untyped-call]
            node = str(n["NodeID"])
            cpus = float(n.get("Resources", {}).get("CPU", 0.0)) - reserved.get(node, 0.0)
            if n.get("Alive") and cpus >= need:
                out[node] = cpus
        return out

    def _pool_reservations(self) -> dict[str, float]:
        """CPUs the inference pool actors hold, per node.

        A camera placed on a node whose CPUs a pool actor holds would wait there for ever: soft
        node affinity falls back to another node only when the chosen one is dead or could
        never fit the actor, not when it is merely full. So the scheduler sees those nodes with
        the pool's CPUs taken out. Each pool actor is asked where it runs: the first time with
        a wait long enough for it to load its models, later briefly; one that does not answer
        (being re-created elsewhere) keeps its last known node.
        """
        import ray

        per_actor = self.config.cluster.pool.cpus
        if per_actor <= 0:
            return {}
        for kind, servers in self.pool.items():
            for i, actor in enumerate(servers):
                known = (kind, i) in self._pool_asked
                self._pool_asked.add((kind, i))
                try:  # the first time, wait for it to start; later, ask briefly
                    stats = ray.get(actor.stats.remote(), timeout=1.0 if known else POOL_ASK_S)
                    self._pool_nodes[(kind, i)] = str(stats["node"])
                except Exception:  # not answering now: keep where it was last seen
                    continue
        out: dict[str, float] = {}
        for node in self._pool_nodes.values():
            out[node] = out.get(node, 0.0) + per_actor
        return out

    def _costs(self) -> dict[str, float]:
        prior = self.config.cluster.camera_cost_prior
        return {cid: (w.cost if w.cost is not None else prior) for cid, w in self.cameras.items()}

    def _placement(self) -> dict[str, str]:
        return {cid: n for cid, w in self.cameras.items() if (n := w.node()) is not None}

    def _place_new(self, desired: set[str]) -> None:
        prior = self.config.cluster.camera_cost_prior
        new = dict.fromkeys(sorted(desired - set(self.cameras)), prior)
        if not new:
            return
        if not self.nodes:
            log.warning(
                "cluster: no alive node with %.2g CPU free for %d camera(s)",
                self.config.cluster.camera_cpus,
                len(new),
            )
            return
        for cid, node in place(new, self.nodes, self._placement(), self._costs()).items():
            self._create(cid, node, "placed")

    def _plan_moves(self) -> list[Move]:
        """Moves for this pass: at once when a node joined, else after a lasting skew."""
        cluster = self.config.cluster
        now = time.monotonic()
        joined = set(self.nodes) - self._known_nodes if self._known_nodes is not None else set()
        self._known_nodes = set(self.nodes)
        costs, placement = self._costs(), self._placement()
        ratio = skew(utilisation(costs, placement, self.nodes)) if self.nodes else 1.0
        if ratio > cluster.rebalance_ratio:
            self._skewed_since = self._skewed_since or now
        else:
            self._skewed_since = None
        lasting = self._skewed_since is not None and (
            now - self._skewed_since >= cluster.rebalance_after_s
        )
        if not (joined or lasting) or cluster.max_moves == 0:
            return []
        reason = f"node {sorted(joined)[0][:12]} joined" if joined else f"load skewed {ratio:.2g}x"
        wall = time.time()
        frozen = frozenset(
            cid
            for cid, w in self.cameras.items()
            if not w.last  # still starting
            or w.down_since is not None
            or wall - w.moved_at < cluster.move_cooldown_s
        )
        moves = rebalance(
            costs,
            self.nodes,
            placement,
            ratio=cluster.rebalance_ratio,
            max_moves=cluster.max_moves,
            frozen=frozen,
            reason=f"rebalance: {reason}",
        )
        self._skewed_since = None if moves else self._skewed_since
        return moves

    # -- acting on Ray --------------------------------------------------------------------------

    def _create(
        self, cid: str, node: str, reason: str, history: list[dict[str, Any]] | None = None
    ) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cluster = self.config.cluster
        cam = next(c for c in self.config.cameras if c.id == cid)
        # The actor gets its one camera, switched on: the database's flag decided it runs.
        config = self.config.model_copy(
            update={"cameras": [cam.model_copy(update={"enabled": True})]}
        )
        actor = self._actor_class.options(
            name=ACTOR_PREFIX + cid,
            namespace=cluster.namespace,
            lifetime="detached",
            get_if_exists=True,
            num_cpus=cluster.camera_cpus,
            max_restarts=-1,
            max_task_retries=-1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True),
        ).remote(config, cid, reason, history)
        watch = self.cameras.get(cid) or CameraWatch(cid, actor)
        watch.actor, watch.planned = actor, node
        with self._lock:
            self.cameras[cid] = watch
        log.info("cluster: camera %s %s on node %s", cid, reason, node[:12])

    def _remove(self, cid: str, reason: str, timeout: float = 10.0) -> CameraWatch:
        import ray

        watch = self.cameras[cid]
        try:
            ray.get(watch.actor.stop.remote(), timeout=timeout)
        except Exception:  # killed below all the same
            log.warning("cluster: camera %s did not stop cleanly", cid)
        ray.kill(watch.actor, no_restart=True)
        self._wait_name_free(ACTOR_PREFIX + cid, timeout)
        with self._lock:
            del self.cameras[cid]
        log.info("cluster: camera %s stopped (%s)", cid, reason)
        return watch

    def _wait_name_free(self, name: str, timeout: float) -> None:
        """Ray releases a killed actor's name asynchronously; a new actor needs it free."""
        import ray

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ray.get_actor(name, namespace=self.config.cluster.namespace)
            except ValueError:
                return
            time.sleep(0.1)
        raise RuntimeError(f"actor name {name} still taken {timeout:.0f} s after the kill")

    def _move(self, move: Move) -> None:
        old = self._remove(move.camera_id, move.reason)
        moved_at = time.time()
        old.history.append(_move_row(moved_at, move.source, move.target, move.reason))
        self._create(move.camera_id, move.target, move.reason, list(old.history))
        watch = self.cameras[move.camera_id]
        watch.gaps, watch.moves = old.gaps, old.moves
        watch.cost, watch.history, watch.moved_at = old.cost, old.history, moved_at
        # The stop-to-answer time of the new actor is the move's gap.
        watch.last, watch.down_since, watch.seen_at = dict(old.last), watch.moved_at, 0.0
        watch.last["started_at"] = None

    # -- reporting ------------------------------------------------------------------------------

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
                row["cost_cores"] = None if w.cost is None else round(w.cost, 3)
                row["move_log"] = list(w.history)
                out[cid] = row
        return out

    def report(self) -> dict[str, Any]:
        """Nodes with their load and capacity, cameras, and what cannot run (the CLI's view)."""
        load = loads(self._costs(), self._placement(), self.nodes)
        return {
            "nodes": [
                {"node": n, "cpus": cpus, "load_cores": round(load[n], 3)}
                for n, cpus in sorted(self.nodes.items())
            ],
            "cameras": self.statuses(),
            "unrunnable": list(self.unrunnable),
            "desired_error": self.desired_error,
        }

    def camera_view(self) -> list[dict[str, Any]]:
        """The rows of the live terminal view (the embedded system's shape, plus the node)."""
        rows = list(self.statuses().values())
        rows += [
            {
                "camera_id": cid,
                "state": "no config",
                "last_error": "enabled in the database but not defined in the config file",
            }
            for cid in self.unrunnable
        ]
        return rows


def _move_row(at: float, source: Any, target: Any, reason: str) -> dict[str, Any]:
    return {"at": round(at, 1), "from": source, "to": target, "reason": reason}
