"""One camera as a Ray actor: the embedded pipeline of that camera on whichever node Ray picks.

The actor builds, for its one camera, what the embedded mode builds for all of them
(:func:`vigil.system.assembly.assemble` with ``head=False``): capture and decoding, perception,
the per-camera stages and their sinks, which write each decision with its audit entry to the
shared PostgreSQL in one transaction. Non-match faces never leave the actor's memory (the pure
identifier drops them at track close), and deployment snapshots are read by the actor itself, so
galleries reach only the nodes whose cameras a deployment covers.

Failover is Ray's: the runner creates every camera actor with unlimited restarts, so when a node
dies Ray re-creates its actors on the nodes left, which re-runs this constructor (the camera
starts again from its source). What a crash loses is what was in memory: frames in the queue and
face tracks still open (their decisions were not made yet); every decision already recorded is in
the database exactly once.

This module imports Ray only inside :func:`remote_class`, so the embedded mode never needs it.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from typing import Any

from vigil.cluster.inference import CameraPriority, pooled_kinds
from vigil.cluster.models import PoolClients, camera_models
from vigil.config.settings import VigilConfig
from vigil.system.assembly import Assembly, assemble


class CameraActor:
    """The pipeline of one camera (see the module docstring); Ray wraps it as a remote class.

    Its decisions go through its own outbox (``vigil.system.outbox``): while PostgreSQL is away
    they wait in memory and then in a disk spool under the node's ``system.data_dir``, and are
    replayed when it returns; a re-created actor replays what its predecessor spooled on that
    node, and idempotency keys make the repeats of a file camera's restart harmless.
    """

    def __init__(
        self,
        config: VigilConfig,
        camera_id: str,
        placed: str = "start",
        moves: list[dict[str, Any]] | None = None,
    ) -> None:
        cams = [c for c in config.cameras if c.id == camera_id]
        if not cams:
            raise ValueError(f"camera {camera_id!r} is not in the configuration")
        self.camera_id = camera_id
        self.started_at = time.time()
        # Why the scheduler put it here and its earlier moves, for `vigil cluster status` from
        # any machine (a Ray restart re-runs this constructor with the same arguments).
        self.placed, self.moves = placed, list(moves or [])[-20:]
        self._cost, self._fps = _RateMeter(), _RateMeter()
        self.priority: CameraPriority | None = None
        mine = config.model_copy(update={"cameras": cams})
        models = None
        kinds = pooled_kinds(mine)
        if kinds:  # clients of the shared pools, all sending this camera's priority
            self.priority = CameraPriority(cams[0])
            models = camera_models(kinds, PoolClients(config, self.priority))
        self.built: Assembly = assemble(mine, head=False, models=models)
        if self.priority is not None:  # deployments are read through the services just built
            self.priority.deployments = self.built.services.deployments
        self.built.start()

    def status(self) -> dict[str, Any]:
        """Where the camera runs and how it is doing (no URL, no biometric data)."""
        system = self.built.system
        rows = [] if system is None else system.camera_view()
        row = rows[0] if rows else {"camera_id": self.camera_id, "state": "unknown"}
        ident = None if system is None else system.analysis.identifiers.get(self.camera_id)
        return {
            **row,
            "priority": None if self.priority is None else self.priority().name.lower(),
            # The actor's outbox: written, replayed, duplicates, spooled, refused, lag_s.
            "recorder": None if system is None else system.recorder_status(),
            "identification": None if ident is None else ident.state(),
            "node": _node_id(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "placed": self.placed,
            "move_log": self.moves,
            "reconstructed": _reconstructed(),
            "cost_cores": self._cost.rate(time.process_time()),
            "analysed_fps": self._fps.rate(float(row.get("frames_analysed") or 0)),
        }

    def stop(self) -> None:
        self.built.stop()
        self.built.services.repo.db.dispose()


class _RateMeter:
    """A counter's rate per wall second, between the oldest and newest of a few readings.

    Used for the camera's measured cost (its actor process's CPU seconds per wall second: one
    process runs one camera, capture, decoding, perception and its stages, so the process's CPU
    time is the camera's) and its analysed frames per second. Readings are taken at status
    calls at least ``window_s`` apart (bounded), so a burst does not swing the scheduler and
    several callers polling at once do not shorten the window; ``None`` until the readings span
    a second. Work done for the camera in other processes (a pooled inference actor) is not in
    the cost.
    """

    def __init__(self, window_s: float = 10.0, keep: int = 6) -> None:
        self.window_s = window_s
        self.readings: deque[tuple[float, float]] = deque(maxlen=keep)

    def rate(self, value: float) -> float | None:
        now = time.monotonic()
        if not self.readings or now - self.readings[-1][0] >= self.window_s:
            self.readings.append((now, value))
        t0, v0 = self.readings[0]
        return round((value - v0) / (now - t0), 3) if now - t0 >= 1.0 else None


def _reconstructed() -> bool:
    import ray

    return bool(ray.get_runtime_context().was_current_actor_reconstructed)


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


def remote_class() -> Any:
    """:class:`CameraActor` as a Ray remote class (imports Ray)."""
    import ray

    return ray.remote(CameraActor)
