"""Zones, lines, dwell, crowd alerts and heatmaps on synthetic inputs (counting: test_density)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.analytics.crowd import CrowdAlertKind, CrowdMonitor, CrowdThresholds, Heatmap
from vigil.analytics.zones import CountLine, Zone, ZoneAnalytics, anchors
from vigil.core import CLASS_IDS, CrowdSample, Detections, ObjectClass
from vigil.errors import ValidationError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERSON = CLASS_IDS[ObjectClass.PERSON]
SQUARE = Zone("square", np.array([[0, 0], [100, 0], [100, 100], [0, 100]]))


def tracked(points: list[tuple[float, float]], ids: list[int]) -> Detections:
    """People whose feet (box bottom centre) stand at the given points."""
    boxes = np.array([[x - 10, y - 50, x + 10, y] for x, y in points], np.float32).reshape(-1, 4)
    n = len(points)
    return Detections(
        boxes, np.full(n, 0.9, np.float32), np.full(n, PERSON), tracker_id=np.array(ids)
    )


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_point_in_polygon_concave() -> None:
    ell = Zone("L", np.array([[0, 0], [10, 0], [10, 4], [4, 4], [4, 10], [0, 10]]))
    assert ell.contains([[2, 2], [8, 2], [2, 8], [8, 8], [-1, 5]]).tolist() == [
        True,
        True,
        True,
        False,
        False,
    ]


@given(st.floats(1, 99), st.floats(1, 99))
def test_inside_square_property(x: float, y: float) -> None:
    assert SQUARE.contains([[x, y]])[0]
    assert not SQUARE.contains([[x + 200, y]])[0]


def test_bad_polygon_rejected() -> None:
    with pytest.raises(ValidationError):
        Zone("bad", np.array([[0, 0], [1, 1]]))


def test_counts_use_the_feet_not_the_box_centre() -> None:
    za = ZoneAnalytics([SQUARE])
    out = za.update(tracked([(50, 99), (50, 130)], [1, 2]), at(0))
    assert out.counts == {"square": 1}
    np.testing.assert_allclose(anchors([[0, 0, 20, 50]]), [[10, 50]])


def test_line_crossing_direction() -> None:
    line = CountLine("door", (0, 100), (200, 100))  # drawn left to right
    za = ZoneAnalytics(lines=[line])
    za.update(tracked([(50, 150), (150, 50)], [1, 2]), at(0))
    out = za.update(tracked([(50, 80), (150, 120)], [1, 2]), at(1))
    got = {(c.track_id, c.direction) for c in out.crossings}
    assert got == {(1, "in"), (2, "out")}  # 1 walked up the image, 2 down
    out = za.update(tracked([(50, 70), (150, 130)], [1, 2]), at(2))
    assert out.crossings == []  # no double counting


def test_crossing_outside_the_segment_does_not_count() -> None:
    za = ZoneAnalytics(lines=[CountLine("gate", (0, 100), (50, 100))])
    za.update(tracked([(150, 150)], [1]), at(0))
    assert za.update(tracked([(150, 50)], [1]), at(1)).crossings == []


def test_loitering_once_per_visit_with_grace() -> None:
    za = ZoneAnalytics([SQUARE], loiter_s=10, grace_s=2)
    events = []
    for s in range(0, 15):
        if s == 5:  # one missed frame outside the zone: the clock keeps running
            events += za.update(tracked([(300, 300)], [1]), at(s)).loitering
            continue
        events += za.update(tracked([(50, 50)], [1]), at(s)).loitering
    assert len(events) == 1 and events[0].dwell_s == pytest.approx(10)


def test_zone_state_bounded_over_a_long_run() -> None:
    za = ZoneAnalytics([SQUARE], forget_s=5, max_tracks=100)
    for i in range(2000):
        za.update(tracked([(50, 50)], [i]), at(i * 0.2))
        assert len(za) <= 100
    assert len(za) <= 26  # only tracks seen in the last 5 s remain


def sample(count: float, s: float, zone: str | None = None) -> CrowdSample:
    return CrowdSample("cam", at(s), count, "boxes", zone)


def test_overcrowding_needs_sustain_and_rearms() -> None:
    mon = CrowdMonitor(CrowdThresholds(overcrowd=20, sustain=3, cooldown_s=0))
    kinds = []
    for i, c in enumerate([25, 25, 25, 25, 10, 25, 25, 25]):
        kinds += [a.kind for a in mon.observe(sample(c, i))]
    assert kinds.count(CrowdAlertKind.OVERCROWDING) == 2


def test_surge_and_dispersal() -> None:
    mon = CrowdMonitor(CrowdThresholds(overcrowd=1000, min_delta=10, baseline_s=30))
    for i in range(20):
        assert mon.observe(sample(20, i)) == []
    surge = mon.observe(sample(60, 20))
    assert [a.kind for a in surge] == [CrowdAlertKind.SURGE] and surge[0].baseline == 20
    mon2 = CrowdMonitor(CrowdThresholds(overcrowd=1000))
    for i in range(20):
        mon2.observe(sample(40, i))
    assert [a.kind for a in mon2.observe(sample(5, 20))] == [CrowdAlertKind.DISPERSAL]


def test_small_numbers_are_not_a_surge() -> None:
    mon = CrowdMonitor(CrowdThresholds(min_delta=10))
    for i in range(10):
        mon.observe(sample(2, i))
    assert mon.observe(sample(6, 10)) == []


def test_series_bounded() -> None:
    mon = CrowdMonitor(max_samples=50, max_series=3)
    for i in range(500):
        mon.observe(sample(i % 7, i, zone=f"z{i % 5}"))
    assert len(mon) == 3
    assert all(len(mon.series("cam", f"z{k}")) <= 50 for k in range(5))


def test_heatmap_peaks_where_people_stand_and_decays() -> None:
    hm = Heatmap(320, 240, cell=8, half_life_s=10)
    for i in range(20):
        hm.add([[100, 200]], at(i))
    img = hm.render()
    assert img.shape == (240, 320, 3)
    y, x = np.unravel_index(int(hm.grid.argmax()), hm.grid.shape)
    assert (int(x), int(y)) == (100 // 8, 200 // 8)
    before = hm.grid.sum()
    hm.add(np.zeros((0, 2)), at(29))
    assert hm.grid.sum() == pytest.approx(before / 2, rel=1e-3)
    assert hm.png(np.zeros((240, 320, 3), np.uint8))[:4] == b"\x89PNG"
