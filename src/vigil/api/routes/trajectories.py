"""``/trajectories``: the cross-camera path of a vehicle (from one of its plate reads) or a
person (from a sighting with a stored face template).

A thin handler over :class:`vigil.governance.trajectory.TrajectoryService`: an investigator
names a stored plate read (the id plate search returns), a window and a reason; the answer lists
the visits in time order and every hop with its travel-time verdict (implausible hops flagged,
not dropped). The anchor read must be on one of the caller's cameras (else 404, as for a read
that does not exist), and only the caller's cameras are searched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from vigil.api import scope
from vigil.api.deps import access, services
from vigil.api.routes.common import router
from vigil.core.domain import Role
from vigil.errors import ModelError
from vigil.governance.accounts import Principal
from vigil.governance.trajectory import Trajectory
from vigil.identification.calibration import RateEstimate

trajectories = router("/trajectories", "trajectories")


class PlateTrajectoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    read_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The anchor plate read.")
    reason: str = Field(min_length=3, max_length=2000)
    window_s: float = Field(
        3600.0, gt=0, description="Seconds either side of the anchor (config bounds it)."
    )


class FaceTrajectoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sighting_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The anchor sighting.")
    authorisation_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="An approved post-event authorisation."
    )
    reason: str = Field(min_length=3, max_length=2000)
    min_score: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Cosine score a sighting needs to count as the same person. Default: the "
        "calibrated threshold of the face model in use; lower gives more false hops (their "
        "false-match rates show it).",
    )
    k: int = Field(100, ge=1, le=1000, description="Archive hits examined.")


class PositionOut(BaseModel):
    frame: Literal["geo", "plan"] = Field(description="geo: lat/lon degrees; plan: x/y metres.")
    a: float = Field(description="lat or x")
    b: float = Field(description="lon or y")


class RatedOut(BaseModel):
    score: float | None = Field(
        None,
        description="Face trajectories: the best score of a visit's sightings against the "
        "anchor (the anchor's own left out), or a hop's weaker end; null for plates.",
    )
    false_match_rate: float | None = Field(
        None, description="Calibrated false-match rate of one comparison at `score` (point)."
    )
    false_match_rate_upper: float | None = Field(
        None, description="Its 95% upper confidence bound (what to rely on)."
    )


class VisitOut(RatedOut):
    camera_id: str
    first: datetime
    last: datetime
    read_ids: list[str]


class HopOut(RatedOut):
    index: int = Field(description="From visit index to index + 1.")
    from_camera: str
    to_camera: str
    seconds: float = Field(description="Gap from last seen at one camera to first at the next.")
    distance_m: float | None = Field(description="Straight line; null without both positions.")
    min_seconds: float | None = Field(description="Distance over the configured speed limit.")
    check: Literal["plausible", "implausible", "unknown"]


class TrajectoryOut(BaseModel):
    anchor: str
    plate: str = Field(description="The folded canonical plate followed.")
    since: datetime
    until: datetime
    visits: list[VisitOut]
    hops: list[HopOut]
    positions: dict[str, PositionOut | None]
    flagged: int = Field(description="Implausible hops (shown, not dropped).")
    truncated: bool = Field(description="The read bound stopped before the window's end.")
    scores: dict[str, float] = Field(
        default_factory=dict,
        description="Face trajectories: each sighting's score against the anchor's template.",
    )
    min_score: float | None = Field(
        None, description="Face trajectories: the score a sighting needed (as asked or default)."
    )


@trajectories.post("/plates", response_model=TrajectoryOut)
def plate_trajectory(
    body: PlateTrajectoryIn, request: Request, p: Principal = access(Role.INVESTIGATOR)
) -> TrajectoryOut:
    """The visits of one vehicle across the caller's cameras around one of its plate reads,
    each hop checked against travel time (audited as ``search.run``, kind ``trajectory``)."""
    svc = services(request)
    if svc.trajectories is None:
        raise ModelError("trajectories are not configured on this server")
    scope.require(svc, p, "plate_read", body.read_id, write=False)
    t = svc.trajectories.for_plate(
        p.actor, body.read_id, reason=body.reason, window_s=body.window_s, allowed=p.cameras
    )
    return _out(t)


@trajectories.post("/faces", response_model=TrajectoryOut)
def face_trajectory(
    body: FaceTrajectoryIn, request: Request, p: Principal = access(Role.INVESTIGATOR)
) -> TrajectoryOut:
    """The visits of one person across the authorisation's (and the caller's) cameras, from a
    sighting whose face template is stored; needs an approved post-event authorisation (the
    archive search behind it is audited, refusals too). ``read_ids`` are sighting ids here."""
    svc = services(request)
    if svc.trajectories is None:
        raise ModelError("trajectories are not configured on this server")
    scope.require(svc, p, "sighting", body.sighting_id, write=False)
    if svc.archive_search is not None:
        svc.archive_search.admit(p.actor)  # the per-user face search rate
    t = svc.trajectories.for_face(
        p.actor,
        body.sighting_id,
        authorisation_id=body.authorisation_id,
        reason=body.reason,
        min_score=body.min_score,
        k=body.k,
        allowed=p.cameras,
    )
    return _out(t)


def _rated(score: float | None, rate: RateEstimate | None) -> dict[str, float | None]:
    return {
        "score": score,
        "false_match_rate": None if rate is None else rate.point,
        "false_match_rate_upper": None if rate is None else rate.upper,
    }


def _out(t: Trajectory) -> TrajectoryOut:
    return TrajectoryOut(
        anchor=t.anchor,
        plate=t.plate,
        since=t.since,
        until=t.until,
        visits=[
            VisitOut(
                camera_id=v.camera_id,
                first=v.first,
                last=v.last,
                read_ids=list(v.refs),
                **_rated(v.score, v.rate),
            )
            for v in t.visits
        ],
        hops=[
            HopOut(
                index=h.index,
                from_camera=h.from_camera,
                to_camera=h.to_camera,
                seconds=h.seconds,
                distance_m=h.distance_m,
                min_seconds=h.min_seconds,
                check=h.check.value,
                **_rated(h.score, h.rate),
            )
            for h in t.hops
        ],
        positions={
            cam: None if pos is None else PositionOut(frame=pos.frame, a=pos.a, b=pos.b)
            for cam, pos in t.positions.items()
        },
        flagged=t.flagged,
        truncated=t.truncated,
        scores=t.scores,
        min_score=t.min_score,
    )
