"""The hop check of trajectories (pure): visits in time order, each hop judged against the
straight-line travel time, implausible hops flagged and never dropped."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.config import VigilConfig
from vigil.errors import ValidationError
from vigil.governance.trajectory import (
    HopCheck,
    Position,
    Sighted,
    distance_m,
    visits_and_hops,
)

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CAMS = ["a", "b", "c", "d"]
geo = st.builds(
    lambda la, lo: Position("geo", la, lo),
    st.floats(-89, 89, allow_nan=False),
    st.floats(-179, 179, allow_nan=False),
)
plan = st.builds(
    lambda x, y: Position("plan", x, y),
    st.floats(-5000, 5000, allow_nan=False),
    st.floats(-5000, 5000, allow_nan=False),
)
sightings = st.lists(
    st.builds(
        lambda cam, s, ref: Sighted(cam, T0 + timedelta(seconds=s), ref),
        st.sampled_from(CAMS),
        st.integers(0, 7200),
        st.text("xyz0123", min_size=1, max_size=4),
    ),
    max_size=30,
)


def test_one_degree_of_latitude_is_about_111_km() -> None:
    d = distance_m(Position("geo", 51.0, 0.0), Position("geo", 52.0, 0.0))
    assert d is not None and 110_000 < d < 112_500
    assert distance_m(Position("plan", 0, 0), Position("plan", 3, 4)) == 5.0
    assert distance_m(Position("geo", 0, 0), Position("plan", 0, 0)) is None


@pytest.mark.parametrize(
    ("frame", "a", "b"), [("geo", 91, 0), ("geo", 0, 181), ("utm", 0, 0), ("plan", float("nan"), 0)]
)
def test_a_bad_position_is_refused(frame: str, a: float, b: float) -> None:
    with pytest.raises(ValidationError):
        Position(frame, a, b)


@given(geo, geo)
def test_distance_is_symmetric_and_never_negative(p: Position, q: Position) -> None:
    d, e = distance_m(p, q), distance_m(q, p)
    assert d is not None and e is not None
    assert d >= 0 and abs(d - e) < 1e-6 * max(1.0, d)
    assert distance_m(p, p) == pytest.approx(0.0, abs=1e-6)


@given(sightings, st.dictionaries(st.sampled_from(CAMS), plan), st.floats(0.5, 50))
def test_visits_keep_every_sighting_in_time_order_and_each_hop_is_judged_right(
    seen: list[Sighted], where: dict[str, Position], speed: float
) -> None:
    visits, hops = visits_and_hops(seen, where, speed)
    # nothing dropped: every record is in exactly one visit, visits run in time order
    assert sorted(r for v in visits for r in v.refs) == sorted(s.ref for s in seen)
    assert all(v.first <= v.last for v in visits)
    pairs = itertools.pairwise(visits)
    assert all(a.last <= b.first and a.camera_id != b.camera_id for a, b in pairs)
    assert len(hops) == max(0, len(visits) - 1)
    for h in hops:
        a, b = visits[h.index], visits[h.index + 1]
        assert (h.from_camera, h.to_camera) == (a.camera_id, b.camera_id)
        if a.camera_id not in where or b.camera_id not in where:
            assert h.check is HopCheck.UNKNOWN and h.distance_m is None
            continue
        d = distance_m(where[a.camera_id], where[b.camera_id])
        assert d is not None and h.min_seconds is not None
        too_fast = (b.first - a.last).total_seconds() < d / speed
        assert (h.check is HopCheck.IMPLAUSIBLE) == too_fast


def test_a_hop_faster_than_the_speed_limit_is_flagged_and_kept() -> None:
    where = {"a": Position("plan", 0, 0), "b": Position("plan", 1000, 0)}
    seen = [
        Sighted("a", T0, "r1"),
        Sighted("a", T0 + timedelta(seconds=5), "r2"),
        Sighted("b", T0 + timedelta(seconds=505), "r3"),  # 1 km in 500 s: 2 m/s
        Sighted("a", T0 + timedelta(seconds=605), "r4"),  # 1 km in 100 s: 10 m/s
    ]
    visits, hops = visits_and_hops(seen, where, 3.0)
    assert [v.refs for v in visits] == [("r1", "r2"), ("r3",), ("r4",)]
    assert [h.check for h in hops] == [HopCheck.PLAUSIBLE, HopCheck.IMPLAUSIBLE]
    assert hops[0].seconds == 500 and hops[1].min_seconds == pytest.approx(1000 / 3)
    with pytest.raises(ValidationError, match="positive"):
        visits_and_hops(seen, where, 0)


@pytest.mark.parametrize(
    "location",
    [{"lat": 51.5}, {"x": 3.0}, {"y": 1.0, "lat": 1.0, "lon": 2.0}, {"lat": 100, "lon": 0}],
)
def test_a_half_or_bad_camera_position_is_a_config_error(location: dict[str, float]) -> None:
    cam = {"id": "c1", "url": "file:///x.mp4", "location": location}
    with pytest.raises(ValueError, match="location"):
        VigilConfig.model_validate({"cameras": [cam]})


def test_speed_limits_are_bounded_config() -> None:
    with pytest.raises(ValueError, match="walking_speed_mps"):
        VigilConfig.model_validate({"investigation": {"walking_speed_mps": 0}})
    cfg = VigilConfig.model_validate(
        {"cameras": [{"id": "c1", "url": "file:///x.mp4", "location": {"x": 1, "y": 2}}]}
    )
    assert (cfg.cameras[0].location.x, cfg.cameras[0].location.y) == (1, 2)
