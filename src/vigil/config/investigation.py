"""Config of the investigator's tools: how fast a person or vehicle may plausibly travel between
cameras, and how much one trajectory request may gather.

The speed limits decide which hops of a trajectory are flagged as implausible (see
:mod:`vigil.governance.trajectory`). They are upper bounds, not typical speeds: set them too low
and honest hops are flagged (a cyclist, a car on an empty road); too high and a misread plate or
a look-alike on the far side of the city passes as the same person. A flagged hop is always shown,
never dropped, so the limits steer the investigator's attention, not what they may see.
"""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import Strict


class InvestigationConfig(Strict):
    """Trajectory bounds and travel-speed limits."""

    walking_speed_mps: float = Field(
        3.0,
        gt=0,
        le=15,
        title="Fastest plausible person",
        description="Metres per second a person may cover between cameras (3 m/s is a brisk "
        "run kept up for a while; raise it where people cycle or take transit).",
    )
    driving_speed_mps: float = Field(
        40.0,
        gt=0,
        le=100,
        title="Fastest plausible vehicle",
        description="Metres per second a vehicle may cover between cameras (40 m/s = 144 km/h; "
        "road distance is longer than the straight line, so this is generous).",
    )
    trajectory_max_window_s: float = Field(
        86_400.0,
        gt=0,
        le=30 * 86_400,
        title="Longest trajectory window",
        description="A trajectory request covers at most this many seconds either side of its "
        "anchor read (bounds the query and the personal data one request gathers).",
    )
    trajectory_max_points: int = Field(
        2000,
        ge=10,
        le=100_000,
        title="Most reads in one trajectory",
        description="Reads gathered per trajectory; past it the result says it is truncated.",
    )
    appearance_gap_s: float = Field(
        3.0,
        gt=0,
        le=600,
        title="Gap that ends an appearance",
        description="Hits of one footage-search job on one camera that follow each other within "
        "this many seconds are one appearance (one person or vehicle in view). Longer joins two "
        "visits into one; shorter splits one visit at every frame where the face turned away "
        "or the plate was unreadable.",
    )
    appearance_pad_s: float = Field(
        3.0,
        ge=0,
        le=60,
        title="Clip padding of an appearance",
        description="Seconds of footage before the first and after the last hit in an "
        "appearance's clip (context: where the person or vehicle came from and went).",
    )
