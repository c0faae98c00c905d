"""Configuration of the people stage: person/vehicle detection, tracking and crowd monitoring.

Kept apart from :mod:`vigil.config.settings` (which imports it) so that module stays readable; the
same rules hold: unknown keys are errors, every field has a title, a description and bounds.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from vigil.config.base import Strict

#: Camera analytics that run the people stage (detection, tracking, counting, crowd samples).
PEOPLE_ANALYTICS = frozenset({"persons", "vehicles", "crowd"})


class CrowdConfig(Strict):
    """When a camera's people count raises a crowd alert (see :mod:`vigil.analytics.crowd`)."""

    sample_every_s: float = Field(
        5.0,
        ge=1.0,
        le=3600.0,
        title="Sample interval",
        description="Seconds of capture time averaged into one stored crowd sample (the series "
        "served by the API and published over WebSocket/MQTT).",
    )
    overcrowd: float = Field(
        50.0, gt=0, title="Overcrowding", description="People count that is overcrowding."
    )
    sustain: int = Field(
        3,
        ge=1,
        le=100,
        title="Sustain",
        description="Consecutive samples at or above `overcrowd` before the alert is raised.",
    )
    surge_factor: float = Field(
        2.0,
        gt=1.0,
        le=100.0,
        title="Surge factor",
        description="A sample this many times the recent median (and `min_delta` more) is a "
        "sudden surge.",
    )
    dispersal_factor: float = Field(
        0.3,
        ge=0.0,
        lt=1.0,
        title="Dispersal factor",
        description="A sample at or below this share of the recent median is an abnormal "
        "dispersal (only when the median is at least `min_baseline`).",
    )
    min_delta: float = Field(
        10.0, ge=0, title="Minimum surge", description="People a surge must add at least."
    )
    min_baseline: float = Field(
        10.0,
        ge=0,
        title="Minimum baseline",
        description="Median count below which dispersal is not judged.",
    )
    baseline_s: float = Field(
        60.0,
        ge=1.0,
        le=86_400.0,
        title="Baseline window",
        description="Seconds of samples whose median is the baseline.",
    )
    cooldown_s: float = Field(
        300.0,
        ge=0,
        le=86_400.0,
        title="Cooldown",
        description="Seconds before the same kind of crowd alert can repeat on a camera.",
    )


class PeopleConfig(Strict):
    """Cameras with the `persons`, `vehicles` or `crowd` analytics run this stage."""

    score_threshold: float = Field(
        0.35,
        ge=0.05,
        le=0.95,
        title="Detection score",
        description="Minimum NanoDet class score for a person or vehicle box (0.35 balanced "
        "recall and precision on MOT17-mini).",
    )
    tile_grids: list[int] = Field(
        default_factory=lambda: [1],
        min_length=1,
        max_length=4,
        title="Tile grids",
        description="Detector passes: 1 = whole frame, 2 = 2x2 tiles, ...; each grid g costs g² "
        "network runs and finds smaller, more distant people.",
    )
    track_buffer: int = Field(
        30,
        ge=0,
        le=1000,
        title="Track buffer",
        description="Analysed frames a lost track is kept for re-association before it closes.",
    )
    crowd: CrowdConfig = Field(
        default_factory=CrowdConfig, title="Crowd", description="Crowd samples and alerts."
    )

    @field_validator("tile_grids")
    @classmethod
    def _grids(cls, v: list[int]) -> list[int]:
        if any(g < 1 or g > 4 for g in v) or len(set(v)) != len(v):
            raise ValueError("tile grids are distinct integers from 1 to 4")
        return sorted(v)


Point = tuple[float, float]


class ZoneConfig(Strict):
    """A named polygon on the ground plane of one camera's image (pixels)."""

    name: str = Field(
        ..., pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", title="Name", description="Zone id."
    )
    polygon: list[Point] = Field(
        ...,
        min_length=3,
        max_length=64,
        title="Polygon",
        description="Vertices `[x, y]` in image pixels; a person counts as inside when the "
        "bottom centre of their box (the feet) is.",
    )
    loiter_s: float = Field(
        120.0,
        gt=0,
        le=86_400,
        title="Loitering",
        description="Seconds a tracked person stays in the zone before it counts as loitering.",
    )


class LineConfig(Strict):
    """A named counting line; crossings are counted per direction."""

    name: str = Field(
        ..., pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", title="Name", description="Line id."
    )
    a: Point = Field(..., title="Start", description="`[x, y]` in image pixels.")
    b: Point = Field(
        ...,
        title="End",
        description="`[x, y]`; `in` is a crossing towards the left of the a→b direction as "
        "drawn (for a line drawn left to right, moving up the image).",
    )

    @model_validator(mode="after")
    def _distinct(self) -> LineConfig:
        if self.a == self.b:
            raise ValueError("a line's two ends must differ")
        return self
