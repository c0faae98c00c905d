"""Configuration of cluster mode: where the Ray cluster is and how cameras are placed on it.

Kept apart from :mod:`vigil.config.settings` (which imports it); the same rules hold: unknown keys
are errors, every field has a title, a description and bounds, and validation does no I/O. The
embedded mode (``engine: embedded``) stays the default; ``engine: ray`` needs PostgreSQL (checked
by :class:`vigil.config.settings.VigilConfig`: every node writes to the same system of record).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vigil.config.base import Strict


class ClusterConfig(Strict):
    """``cluster:``: one process (embedded) or one Vigil over a Ray cluster."""

    engine: Literal["embedded", "ray"] = Field(
        "embedded",
        title="Engine",
        description="embedded: every stage in one process (the default); ray: cameras run as "
        "Ray actors across the nodes of a Ray cluster, the API and the housekeeping on the "
        "machine that runs `vigil run`.",
    )
    address: str | None = Field(
        None,
        max_length=200,
        title="Ray address",
        description="The Ray cluster to join (`auto`, `HOST:6379` or `ray://HOST:10001`); unset: "
        "a Ray runtime local to this machine is started (one-machine trial).",
    )
    namespace: str = Field(
        "vigil",
        pattern=r"^[a-z][a-z0-9_-]{0,31}$",
        title="Namespace",
        description="Ray namespace of Vigil's named actors (two Vigils on one cluster need two).",
    )
    camera_cpus: float = Field(
        0.5,
        gt=0,
        le=64,
        title="CPUs per camera",
        description="Ray CPU resource each camera actor asks for (capture, decoding and its "
        "per-camera stages); the scheduler places cameras where that much is free.",
    )
    failover_check_s: float = Field(
        2.0,
        gt=0,
        le=60,
        title="Failover check",
        description="How often the runner asks every camera actor for its status (an actor "
        "whose node died is restarted elsewhere by Ray, and the gap is recorded per camera) and "
        "re-reads the cameras enabled in the database to start, stop and rebalance them.",
    )
    camera_cost_prior: float = Field(
        0.5,
        gt=0,
        le=64,
        title="Camera cost prior",
        description="CPU cores a camera is assumed to use until its actor has reported a "
        "measurement (its process's CPU seconds per second); only the scheduler reads it.",
    )
    rebalance_ratio: float = Field(
        1.5,
        ge=1,
        le=100,
        title="Rebalance ratio",
        description="Cameras are moved when the most utilised node (load over CPUs) is more "
        "than this many times as busy as the least; lower evens the load out more, at the price "
        "of more moves (each move restarts a camera: a gap of a few seconds).",
    )
    rebalance_after_s: float = Field(
        60.0,
        ge=0,
        le=3600,
        title="Rebalance after",
        description="How long a skew must last before cameras are moved (a node joining "
        "triggers a rebalance at once); hysteresis against measurement noise.",
    )
    move_cooldown_s: float = Field(
        300.0,
        ge=0,
        le=86400,
        title="Move cool-down",
        description="A camera moved by the scheduler is not moved again for this long, so "
        "cameras do not flap between nodes.",
    )
    max_moves: int = Field(
        4,
        ge=0,
        le=1000,
        title="Moves per pass",
        description="At most this many cameras are moved in one scheduling pass (0: never "
        "rebalance, only place new cameras).",
    )
    on_exit: Literal["stop", "detach"] = Field(
        "stop",
        title="On exit",
        description="What `vigil run` does with the camera actors when it exits normally: stop "
        "them, or leave them running (they are detached Ray actors) for the next `vigil run` to "
        "re-attach to, e.g. across an upgrade of the head process. A killed `vigil run` always "
        "leaves them running.",
    )
