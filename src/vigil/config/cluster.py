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
        description="How often the runner asks every camera actor for its status; an actor "
        "whose node died is restarted elsewhere by Ray, and the gap is recorded per camera.",
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
