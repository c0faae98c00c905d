"""Pooled inference: shared model actors that batch requests from many cameras.

With ``cluster.inference: pooled`` the runner starts, for each pooled kind
(``cluster.pool.kinds`` that some enabled camera uses), ``cluster.pool.actors`` (or
``kind_actors[kind]``) named :class:`PoolServer` actors (``vigil-pool-<kind>-<i>``) before the
cameras, asking Ray for ``pool.cpus`` / ``pool.gpus`` / ``pool.resources`` each, so they can sit
on GPU nodes while camera actors run on CPU-only nodes. The kinds, and what a camera sends
(:mod:`vigil.cluster.models` holds the served models and the clients):

* ``objects``: frames → person/vehicle :class:`~vigil.core.Detections` (NanoDet);
* ``faces``: frames → face detections with landmarks; aligned crops → templates of the
  configured (possibly fused) embedder. Alignment and the quality gate stay in the camera;
* ``plates``: a vehicle's crop (or a dedicated plate camera's frame) → plate reads (PP-OCR).

Each request waits in the server's :class:`~vigil.cluster.batching.BatchQueue` for a batch
(``max_batch`` requests or ``max_wait_ms``), and the answer comes back by value.

Priority: a camera is HIGH while a live deployment is in force on it or when it has crowd-alert
zones (the ``crowd`` analytic with zones), else NORMAL (:class:`CameraPriority`, re-read from the
database every ``refresh_s``). It is sent with every request, so it changes when a deployment
starts or ends. A refused request raises :class:`~vigil.errors.InferenceSaturatedError` in the
camera, whose analysis pool drops that frame and counts it (``saturation_drops``).

Batching and the models: NanoDet's and YuNet's ONNX graphs fix their batch dimension at 1, and
the plate reader's work depends on what its detector finds, so the server runs the requests of a
batch one after another in one thread. What batching buys today is one queue hop and one wake-up
per batch, and a place where a model with a free batch dimension (or a GPU) would run the batch in
one call; it does not make the CPU arithmetic cheaper. Results are exactly those of the local
models with the same settings (the same code runs on the same pixels; tested).

This module imports Ray only inside functions, so the embedded mode never needs it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from vigil.cluster.batching import BatchQueue, Dropped, Priority, Ticket
from vigil.config.analytics import PEOPLE_ANALYTICS
from vigil.config.cluster import POOL_KINDS, PoolKind
from vigil.config.settings import CameraConfig, VigilConfig
from vigil.errors import InferenceSaturatedError
from vigil.governance.deployments import DeploymentKind, DeploymentService

log = logging.getLogger(__name__)

POOL_PREFIX = "vigil-pool-"
INLINE_LIMIT = int(os.environ.get("RAY_max_direct_call_object_size", "102400"))  # noqa: SIM112
"""Ray keeps call arguments and return values up to this size in the caller's and the worker's
memory (inlined in the RPC), never in the shared-memory object store, so they can never be
spilled to disk. Biometric payloads (face crops, templates) are kept under it (see
:mod:`vigil.cluster.models`)."""


def pool_actor_name(kind: str, index: int) -> str:
    return f"{POOL_PREFIX}{kind}-{index}"


class ServedModel(Protocol):
    """What a pool actor serves: named operations run on a batch of payloads, in order."""

    @property
    def kind(self) -> str: ...

    @property
    def providers(self) -> list[str]: ...

    def run(self, op: str, payloads: list[Any]) -> list[Any]: ...

    def info(self) -> dict[str, Any]: ...


class PoolServer:
    """One pooled model actor: a batch queue and one model thread (see the module docstring).

    Ray runs it as a threaded actor whose ``call`` calls block in Ray's threads until answered;
    ``max_concurrency`` is the queue bound plus a batch plus a margin, so Ray itself never holds
    more waiting calls than the queue allows plus those already refused. Requests of a batch are
    grouped by operation (a face pool serves ``detect`` and ``embed``) and answered in order.
    """

    def __init__(self, kind: PoolKind, config: VigilConfig, *, gpu: bool | None = None) -> None:
        from vigil.cluster.models import build_model
        from vigil.perception.runtime import providers_for

        self.gpu = _gpu_assigned() if gpu is None else gpu
        self.model: ServedModel = build_model(kind, config, providers_for(self.gpu))
        pool = config.cluster.pool
        self.queue: BatchQueue[tuple[str, Any]] = BatchQueue(
            pool.queue, pool.max_batch, pool.max_wait_ms / 1000
        )
        self.timeout_s = pool.timeout_s
        self.started_at = time.time()
        self.model_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"vigil-pool-{kind}", daemon=True)
        self._thread.start()

    def call(self, op: str, camera_id: str, priority: int, payload: Any) -> Any:
        """The model's answer for one request, or ``None`` when the saturated pool dropped it
        (no operation answers ``None`` itself)."""
        ticket = self.queue.submit(camera_id, Priority(priority), (op, payload))
        try:
            return ticket.wait(self.timeout_s)
        except Dropped:
            return None

    def info(self) -> dict[str, Any]:
        """What the model is (names, dimensions) for the clients."""
        return self.model.info()

    def _serve(self) -> None:
        while not self._stop.is_set():
            batch = self.queue.take(timeout=0.5)
            if batch:
                self.run_batch(batch)

    def run_batch(self, batch: list[Ticket[tuple[str, Any]]]) -> None:
        """Run the model on a batch, one group per operation; a failure answers every request
        of the batch with the error (the cameras count it)."""
        t0 = time.perf_counter()
        results: list[Any] = [None] * len(batch)
        groups: dict[str, list[int]] = {}
        for i, ticket in enumerate(batch):
            groups.setdefault(ticket.payload[0], []).append(i)
        try:
            for op, rows in groups.items():
                outs = self.model.run(op, [batch[i].payload[1] for i in rows])
                for i, out in zip(rows, outs, strict=True):
                    results[i] = out
        except Exception as exc:
            log.exception("pooled %s model failed on a batch of %d", self.model.kind, len(batch))
            self.queue.fail(batch, exc)
            return
        finally:
            self.model_s += time.perf_counter() - t0
        self.queue.complete(batch, results)

    def stats(self) -> dict[str, Any]:
        """Queue depth, batch sizes, waits, requests/s and drops per camera (JSON-ready)."""
        return {
            **self.queue.snapshot(),
            "kind": self.model.kind,
            "providers": self.model.providers,
            "model_busy": round(self.model_s / max(time.time() - self.started_at, 1e-9), 3),
            "node": _node_id(),
            "pid": os.getpid(),
            "started_at": self.started_at,
        }

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()
        self._thread.join(2.0)


class CameraPriority:
    """A camera's priority class, re-read every ``refresh_s`` (see the module docstring).

    Deployments are read from the database (the live deployments in force now whose cameras
    include this one) without taking handles: priority only orders work, it authorises nothing.
    """

    def __init__(
        self,
        camera: CameraConfig,
        deployments: DeploymentService | None = None,
        *,
        refresh_s: float = 5.0,
    ) -> None:
        self.camera_id = camera.id
        self.crowd_zones = "crowd" in camera.analytics and bool(camera.zones)
        self.deployments = deployments
        self.refresh_s = refresh_s
        self._cached: tuple[float, Priority] | None = None

    def __call__(self) -> Priority:
        if self.crowd_zones:
            return Priority.HIGH
        if self.deployments is None:
            return Priority.NORMAL
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.refresh_s:
            return self._cached[1]
        try:
            level = Priority.HIGH if self._in_deployment() else Priority.NORMAL
        except Exception:  # the database is away: keep the last answer, try again next time
            log.exception("camera %s: deployment state unreadable", self.camera_id)
            level = self._cached[1] if self._cached else Priority.NORMAL
        self._cached = (now, level)
        return level

    def _in_deployment(self) -> bool:
        assert self.deployments is not None
        now = self.deployments.clock()
        for dep in self.deployments.repo.list_deployments(active_at=now):
            if dep.kind == DeploymentKind.LIVE.value and self.camera_id in (
                self.deployments.cameras_of(dep)
            ):
                return True
        return False


class PoolClient:
    """A camera's side of one pool actor: sends requests with the camera's priority now.

    Raises :class:`~vigil.errors.InferenceSaturatedError` when the pool dropped a request
    (counted here too, in ``dropped``); the camera's analysis pool drops the frame and counts it.
    """

    def __init__(
        self,
        camera_id: str,
        server: Any,
        priority: Callable[[], Priority],
        timeout_s: float,
    ) -> None:
        self.camera_id = camera_id
        self.server = server
        self.priority = priority
        self.timeout_s = timeout_s
        self.dropped = 0

    def submit(self, op: str, payload: Any) -> Any:
        """Send one request; returns its Ray reference (for several requests in flight)."""
        return self.server.call.remote(op, self.camera_id, int(self.priority()), payload)

    def answers(self, refs: list[Any]) -> list[Any]:
        """The answers of requests sent with :meth:`submit`; raises if any was dropped."""
        import ray

        results: list[Any] = ray.get(refs, timeout=self.timeout_s)
        if any(r is None for r in results):
            self.dropped += 1
            raise InferenceSaturatedError(f"camera {self.camera_id}: inference pool saturated")
        return results

    def ask(self, op: str, payload: Any) -> Any:
        return self.answers([self.submit(op, payload)])[0]


def pool_for(camera_id: str, actors: int) -> int:
    """The pool actor a camera always uses (a stable hash: the same on every node and run)."""
    return zlib.crc32(camera_id.encode()) % actors


def find_server(config: VigilConfig, kind: PoolKind, camera_id: str, wait_s: float = 60.0) -> Any:
    """The named pool actor of this kind for this camera (waits for the runner to create it)."""
    import ray

    name = pool_actor_name(kind, pool_for(camera_id, config.cluster.pool.actors_of(kind)))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return ray.get_actor(name, namespace=config.cluster.namespace)
        except ValueError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def pooled_kinds(config: VigilConfig) -> list[PoolKind]:
    """The kinds served by pools: those configured (``cluster.pool.kinds``) that an enabled
    camera uses (no face pool without face cameras: its models would load for nothing)."""
    if config.cluster.inference != "pooled":
        return []
    used: set[str] = set()
    for cam in config.cameras:
        if cam.enabled:
            analytics = set(cam.analytics)
            if analytics & (PEOPLE_ANALYTICS | {"plates"}):
                used.add("objects")
            if "faces" in analytics:
                used.add("faces")
            if "plates" in analytics:
                used.add("plates")
    return [k for k in POOL_KINDS if k in config.cluster.pool.kinds and k in used]


def start_pool(config: VigilConfig) -> dict[PoolKind, list[Any]]:
    """Create the named pool actors of every pooled kind (restarted by Ray wherever there is
    room if a node dies). Pool actors get the config without its cameras (no source URLs).

    Detached, like the camera actors, and found by name when they exist: the camera actors that
    a runner leaves running (``cluster.on_exit: detach``, a head restart) keep their pools, and
    the next runner re-attaches to both."""
    import ray

    pool, cluster = config.cluster.pool, config.cluster
    cls = ray.remote(PoolServer)
    served = config.model_copy(update={"cameras": []})
    return {
        kind: [
            cls.options(
                name=pool_actor_name(kind, i),
                namespace=cluster.namespace,
                num_cpus=pool.cpus,
                num_gpus=pool.gpus,
                resources=dict(pool.resources),
                max_concurrency=pool.queue + pool.max_batch + 4,
                max_restarts=-1,
                max_task_retries=0,  # a lost frame is dropped, not re-run late
                lifetime="detached",
                get_if_exists=True,
            ).remote(kind, served)
            for i in range(pool.actors_of(kind))
        ]
        for kind in pooled_kinds(config)
    }


def _gpu_assigned() -> bool:
    try:
        import ray

        return ray.is_initialized() and bool(ray.get_gpu_ids())
    except Exception:
        return False


def _node_id() -> str:
    try:
        import ray

        return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else ""
    except Exception:
        return ""
