"""Grouping whole-frame plate reads into vehicle passes by text and time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.perception.plates import get_profile
from vigil.perception.plates.fusion import FrameRead, PlateFuser
from vigil.perception.plates.passes import PlatePasses

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
BOX = (0.0, 0.0, 10.0, 5.0)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def passes(**kw: float) -> PlatePasses:
    return PlatePasses(PlateFuser(get_profile("us")), **kw)  # type: ignore[arg-type]


def feed(p: PlatePasses, reads: list[tuple[str, float]]) -> list[str]:
    out = []
    for text, t in reads:
        out += [f.text for f in p.observe(FrameRead(text, 0.9, at(t), BOX))]
    return out + [f.text for f in p.close_all()]


def test_misreads_of_one_plate_fuse_into_one_pass() -> None:
    p = passes()
    reads = [("DH7X317", 0.0), ("DH7X31", 0.5), ("DH7X317", 1.0), ("0H7X317", 1.5)]
    assert feed(p, reads) == ["DH7X317"]
    assert len(p) == 0 and len(p.fuser) == 0


def test_two_plates_in_view_at_once_are_two_passes() -> None:
    p = passes()
    reads = [("DH7X317", 0.0), ("5LTA600", 0.0), ("DH7X317", 0.5), ("5LTA600", 0.5)]
    assert sorted(feed(p, reads)) == ["5LTA600", "DH7X317"]


def test_a_pass_ends_after_the_gap_and_the_same_plate_later_is_a_new_pass() -> None:
    p = passes(gap_s=3.0)
    closed = p.observe(FrameRead("DH7X317", 0.9, at(0), BOX))
    assert closed == [] and len(p) == 1
    closed = p.observe(FrameRead("DH7X317", 0.9, at(2.9), BOX))
    assert closed == [] and len(p) == 1  # within the gap: same pass
    closed = p.observe(FrameRead("DH7X317", 0.9, at(10), BOX))
    assert [f.text for f in closed] == ["DH7X317"] and len(p) == 1  # the same car, back later
    assert [f.reads for f in p.close_all()] == [1]


def test_short_plates_tolerate_fewer_edits() -> None:
    # 5 characters: at most one edit joins a pass; "3127K" and "3128Z" are two cars
    assert sorted(feed(passes(), [("3127K", 0.0), ("3128Z", 0.5)])) == ["3127K", "3128Z"]
    assert feed(passes(), [("3127K", 0.0), ("3127", 0.5), ("3127K", 1.0)]) == ["3127K"]


def test_expire_closes_only_quiet_passes() -> None:
    p = passes(gap_s=2.0)
    p.observe(FrameRead("DH7X317", 0.9, at(0), BOX))
    p.observe(FrameRead("5LTA600", 0.9, at(1.5), BOX))
    assert [f.text for f in p.expire(at(2.5))] == ["DH7X317"]
    assert len(p) == 1


@pytest.mark.parametrize("kw", [{"gap_s": 0.0}, {"gap_s": -1.0}, {"max_distance": -1}])
def test_bad_settings_are_refused(kw: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        passes(**kw)


def test_open_passes_stay_bounded_by_the_fuser() -> None:
    p = PlatePasses(PlateFuser(get_profile("us"), max_tracks=3))
    closed = []
    for i in range(10):  # ten different plates at once
        closed += p.observe(FrameRead(f"AB{i}X{i}{i}{i}", 0.9, at(0), BOX))
    assert len(p) <= 3 and len(p.fuser) <= 3
    assert len(closed) == 7  # the evicted passes were fused, not lost
    assert len(closed) + len(p.close_all()) == 10


plates = st.sampled_from(["DH7X317", "5LTA600", "ABC123", "7XB123", "3127K"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(plates, st.floats(0, 0.9)), min_size=1, max_size=30))
def test_every_read_lands_in_exactly_one_pass(steps: list[tuple[str, float]]) -> None:
    # min_confidence 0: a pass whose reads disagree still yields its (weak) fused read
    p = PlatePasses(PlateFuser(get_profile("us"), min_confidence=0.0), gap_s=1.0)
    t = 0.0
    fused = []
    for text, dt in steps:
        t += dt
        fused += p.observe(FrameRead(text, 0.9, at(t), BOX))
    fused += p.close_all()
    assert sum(f.reads for f in fused) == len(steps)
    assert len(p) == 0 and len(p.fuser) == 0
