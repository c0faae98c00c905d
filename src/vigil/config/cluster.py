"""Configuration of cluster mode: where the Ray cluster is and how cameras are placed on it.

Kept apart from :mod:`vigil.config.settings` (which imports it); the same rules hold: unknown keys
are errors, every field has a title, a description and bounds, and validation does no I/O. The
embedded mode (``engine: embedded``) stays the default; ``engine: ray`` needs PostgreSQL (checked
by :class:`vigil.config.settings.VigilConfig`: every node writes to the same system of record).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from vigil.config.base import Strict

PoolKind = Literal["objects", "faces", "plates"]
POOL_KINDS: tuple[PoolKind, ...] = ("objects", "faces", "plates")


class InferencePoolConfig(Strict):
    """``cluster.pool:``: the shared model actors (``inference: pooled``): person/vehicle
    detector, face detector and embedder(s), plate reader, per ``kinds``.

    Batching trades latency for throughput: a request waits at most ``max_wait_ms`` for
    ``max_batch`` others. ``queue`` bounds memory and latency under saturation; when it is full,
    frames of normal-priority cameras are dropped (and counted per camera) first.
    """

    kinds: list[PoolKind] = Field(
        default_factory=lambda: list(POOL_KINDS),
        min_length=1,
        max_length=3,
        title="Pooled kinds",
        description="Which models the pool serves: objects (person/vehicle detector), faces "
        "(face detector and embedder), plates (plate reader). A kind not listed runs in each "
        "camera actor; a listed kind no enabled camera uses starts no actor.",
    )
    actors: int = Field(
        1,
        ge=1,
        le=256,
        title="Pool actors",
        description="How many actors serve each pooled kind (unless `kind_actors` says); each "
        "camera always uses the same one (chosen by a hash of its id).",
    )
    kind_actors: dict[PoolKind, int] = Field(
        default_factory=dict,
        max_length=3,
        title="Actors per kind",
        description="Actors of one kind, overriding `actors` (e.g. `{faces: 4}` where faces "
        "are the expensive model).",
    )
    cpus: float = Field(
        1.0,
        ge=0,
        le=64,
        title="CPUs per pool actor",
        description="Ray CPU resource each pool actor asks for (its ONNX Runtime threads).",
    )
    gpus: float = Field(
        0.0,
        ge=0,
        le=8,
        title="GPUs per pool actor",
        description="Ray GPU resource each pool actor asks for; with a GPU assigned the actor "
        "runs ONNX Runtime's TensorRT/CUDA providers where installed, else the CPU.",
    )
    resources: dict[str, float] = Field(
        default_factory=dict,
        max_length=8,
        title="Custom resources",
        description="Ray custom resources a pool actor needs (e.g. `{inference: 1}` to keep the "
        "pool on nodes started with `--resources '{\"inference\": 4}'`).",
    )
    max_batch: int = Field(
        8, ge=1, le=256, title="Largest batch", description="Most frames run in one batch."
    )
    max_wait_ms: float = Field(
        10.0,
        ge=0,
        le=1000,
        title="Batch wait",
        description="Longest a frame waits for its batch to fill (the added latency bound).",
    )
    queue: int = Field(
        64,
        ge=1,
        le=4096,
        title="Queue bound",
        description="Most frames waiting in one pool actor; when full, normal-priority frames "
        "are refused and high-priority ones evict queued normal ones.",
    )
    timeout_s: float = Field(
        30.0,
        gt=0,
        le=600,
        title="Request timeout",
        description="Longest a camera waits for the pool's answer before the frame counts as "
        "an analysis failure (a pool actor being restarted elsewhere).",
    )

    @field_validator("kinds")
    @classmethod
    def _unique_kinds(cls, kinds: list[PoolKind]) -> list[PoolKind]:
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"kinds must not repeat, got {kinds}")
        return kinds

    @field_validator("kind_actors")
    @classmethod
    def _actor_counts(cls, counts: dict[PoolKind, int]) -> dict[PoolKind, int]:
        bad = {k: n for k, n in counts.items() if not 1 <= n <= 256}
        if bad:
            raise ValueError(f"actors per kind must be 1-256, got {bad}")
        return counts

    def actors_of(self, kind: str) -> int:
        """How many actors serve ``kind``."""
        for k, n in self.kind_actors.items():
            if k == kind:
                return n
        return self.actors


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
    inference: Literal["local", "pooled"] = Field(
        "local",
        title="Inference",
        description="local: each camera actor runs its own models (the default); pooled: "
        "camera actors send frames and crops to shared model actors that batch them (`pool`, "
        "`pool.kinds`), with priority for cameras in active deployments or with crowd-alert "
        "zones when the pool is saturated.",
    )
    pool: InferencePoolConfig = Field(
        default_factory=InferencePoolConfig,
        title="Inference pool",
        description="Kinds, size, batching and queue bounds of the pooled model actors.",
    )
    leader_check_s: float = Field(
        2.0,
        ge=0.1,
        le=60,
        title="Leader check",
        description="Several processes on one PostgreSQL (API-only processes, the head): how "
        "often each asks for the database's leader lock. The leader alone sends webhooks and "
        "MQTT messages and runs the housekeeper; when it dies, another takes over within "
        "about this long. Shorter: faster takeover, one cheap query per process per period.",
    )
