"""Pooled inference: shared person/vehicle detector actors that batch frames from many cameras.

With ``cluster.inference: pooled`` the runner starts ``cluster.pool.actors`` named
:class:`DetectorServer` actors (``vigil-pool-objects-<i>``) before the cameras, asking Ray for
``pool.cpus`` / ``pool.gpus`` / ``pool.resources`` each, so they can sit on GPU nodes while camera
actors run on CPU-only nodes. Each camera actor's people stage then gets a
:class:`PooledDetector` instead of its own model: the frame travels through Ray's object store as
a numpy array, waits in the server's :class:`~vigil.cluster.batching.BatchQueue` for a batch
(``max_batch`` frames or ``max_wait_ms``), and the detections come back.

Priority: a camera is HIGH while a live deployment is in force on it or when it has crowd-alert
zones (the ``crowd`` analytic with zones), else NORMAL (:class:`CameraPriority`, re-read from the
database every ``refresh_s``). It is sent with every request, so it changes when a deployment
starts or ends. A refused frame raises :class:`~vigil.errors.InferenceSaturatedError` in the
camera, whose analysis pool drops it and counts it (``saturation_drops``).

Batching and the model: NanoDet's ONNX graph (converted from TF.js) fixes its batch dimension at
1, so the server runs the frames of a batch one after another in one thread. What batching buys
today is one queue hop and one wake-up per batch, and a place where a model with a free batch
dimension (or a GPU) would run the batch in one call; it does not make the CPU arithmetic cheaper.
Results are exactly those of a local :class:`~vigil.perception.objects.NanoDetDetector` with the
same settings (the same code runs on the same pixels; tested).

This module imports Ray only inside functions, so the embedded mode never needs it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.cluster.batching import BatchQueue, Dropped, Priority, Ticket
from vigil.config.cluster import InferencePoolConfig
from vigil.config.settings import CameraConfig, VigilConfig
from vigil.core import Detections
from vigil.errors import InferenceSaturatedError
from vigil.governance.deployments import DeploymentKind, DeploymentService

log = logging.getLogger(__name__)

POOL_PREFIX = "vigil-pool-objects-"
BGRImage = npt.NDArray[np.uint8]


def pool_actor_name(index: int) -> str:
    return f"{POOL_PREFIX}{index}"


class DetectorServer:
    """One pooled person/vehicle detector: a batch queue and one model thread (see the module
    docstring). Ray runs it as a threaded actor whose ``detect`` calls block in Ray's threads
    until answered; ``max_concurrency`` is the queue bound plus a batch plus a margin, so Ray
    itself never holds more waiting calls than the queue allows plus those already refused."""

    def __init__(
        self,
        pool: InferencePoolConfig,
        model_dir: Path | None,
        tile_grids: tuple[int, ...],
        *,
        gpu: bool | None = None,
    ) -> None:
        from vigil.perception.objects import NanoDetDetector
        from vigil.perception.runtime import providers_for

        self.gpu = _gpu_assigned() if gpu is None else gpu
        self.providers = providers_for(self.gpu)
        self.detector = NanoDetDetector(
            model_dir, score_threshold=0.1, tile_grids=tile_grids, providers=self.providers
        )
        self.queue: BatchQueue[BGRImage] = BatchQueue(
            pool.queue, pool.max_batch, pool.max_wait_ms / 1000
        )
        self.timeout_s = pool.timeout_s
        self.started_at = time.time()
        self.model_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vigil-pool", daemon=True)
        self._thread.start()

    def detect(self, camera_id: str, priority: int, image: BGRImage) -> Detections | None:
        """Detections for one frame, or ``None`` when the saturated pool dropped it."""
        ticket = self.queue.submit(camera_id, Priority(priority), image)
        try:
            result: Detections = ticket.wait(self.timeout_s)
        except Dropped:
            return None
        return result

    def _serve(self) -> None:
        while not self._stop.is_set():
            batch = self.queue.take(timeout=0.5)
            if batch:
                self.run_batch(batch)

    def run_batch(self, batch: list[Ticket[BGRImage]]) -> None:
        """Run the model on a batch (frame by frame: NanoDet's graph fixes batch 1); a failure
        answers every request of the batch with the error (the cameras count it)."""
        t0 = time.perf_counter()
        try:
            results = [self.detector.detect(t.payload) for t in batch]
        except Exception as exc:
            log.exception("pooled detector failed on a batch of %d", len(batch))
            self.queue.fail(batch, exc)
            return
        finally:
            self.model_s += time.perf_counter() - t0
        self.queue.complete(batch, results)

    def stats(self) -> dict[str, Any]:
        """Queue depth, batch sizes, waits, requests/s and drops per camera (JSON-ready)."""
        return {
            **self.queue.snapshot(),
            "kind": "objects",
            "providers": self.providers,
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


class PooledDetector:
    """A camera's client of the pool: an :class:`~vigil.perception.objects.detector.
    ObjectDetector` whose ``detect`` asks a :class:`DetectorServer` (see the module docstring).

    Raises :class:`~vigil.errors.InferenceSaturatedError` when the pool dropped the frame
    (counted here too, in ``dropped``).
    """

    name = "nanodet-pooled"

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

    def detect(self, image: BGRImage) -> Detections:
        import ray

        ref = self.server.detect.remote(self.camera_id, int(self.priority()), image)
        result: Detections | None = ray.get(ref, timeout=self.timeout_s)
        if result is None:
            self.dropped += 1
            raise InferenceSaturatedError(f"camera {self.camera_id}: inference pool saturated")
        return result


def pool_for(camera_id: str, actors: int) -> int:
    """The pool actor a camera always uses (a stable hash: the same on every node and run)."""
    return zlib.crc32(camera_id.encode()) % actors


def find_server(config: VigilConfig, camera_id: str, wait_s: float = 60.0) -> Any:
    """The named pool actor of this camera (waits for the runner to have created it)."""
    import ray

    name = pool_actor_name(pool_for(camera_id, config.cluster.pool.actors))
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return ray.get_actor(name, namespace=config.cluster.namespace)
        except ValueError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def server_class() -> Any:
    """:class:`DetectorServer` as a Ray remote class (imports Ray)."""
    import ray

    return ray.remote(DetectorServer)


def start_pool(config: VigilConfig) -> list[Any]:
    """Create the named pool actors (restarted by Ray wherever there is room if a node dies)."""
    pool, cluster = config.cluster.pool, config.cluster
    cls = server_class()
    return [
        cls.options(
            name=pool_actor_name(i),
            namespace=cluster.namespace,
            num_cpus=pool.cpus,
            num_gpus=pool.gpus,
            resources=dict(pool.resources),
            max_concurrency=pool.queue + pool.max_batch + 4,
            max_restarts=-1,
            max_task_retries=0,  # a lost frame is dropped, not re-run late
            lifetime=None,
        ).remote(pool, config.models.dir, tuple(config.people.tile_grids))
        for i in range(pool.actors)
    ]


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
