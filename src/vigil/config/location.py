"""Where a camera is: WGS84 lat/lon or a site-plan point in metres, and its named zone.

Its own module to keep :mod:`vigil.config.settings` under the size the style asks for. Positions
feed the travel-time check of trajectories (:mod:`vigil.governance.trajectory`) and the console
map; a camera without one still works, its hops are "unknown".
"""

from __future__ import annotations

from pydantic import Field, model_validator

from vigil.config.base import Strict


class CameraLocation(Strict):
    lat: float | None = Field(None, ge=-90, le=90, title="Latitude", description="WGS84 degrees.")
    lon: float | None = Field(
        None, ge=-180, le=180, title="Longitude", description="WGS84 degrees."
    )
    zone: str | None = Field(
        None, max_length=100, title="Zone", description="Named area used by deployments."
    )
    x: float | None = Field(
        None, ge=-1e6, le=1e6, title="Site-plan x", description="Metres east on a site plan."
    )
    y: float | None = Field(
        None, ge=-1e6, le=1e6, title="Site-plan y", description="Metres south on a site plan."
    )

    @model_validator(mode="after")
    def _pairs(self) -> CameraLocation:
        # A half position (lat without lon) would silently make every hop "unknown".
        for a, b in (("lat", "lon"), ("x", "y")):
            if (getattr(self, a) is None) != (getattr(self, b) is None):
                raise ValueError(f"location.{a} and location.{b} go together: give both or none")
        return self
