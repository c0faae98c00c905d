"""Grouping a footage job's hits into appearances (property), and the plate scorer's rules
(match after folding, candidates for the dense pass, bad queries) with a stand-in frame reader."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.governance.appearances import clip_span_url, group_appearances
from vigil.governance.postevent_plates import CANDIDATE, MATCH, PlateScorer, plate_query
from vigil.perception.plates import US, PlateCandidate
from vigil.perception.plates.vehicles import FrameReads
from vigil.storage.postevent import ResultRow

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
IMG = np.zeros((8, 8, 3), np.uint8)

hit = st.tuples(
    st.sampled_from(["cam-1", "cam-2", "cam-3"]),
    st.integers(0, 600_000),  # milliseconds after T0
    st.floats(0.0, 1.0),
)


def _rows(raw: list[tuple[str, int, float]]) -> list[ResultRow]:
    return [
        ResultRow(
            f"r{i}", "job", "case", cam, "seg", T0 + timedelta(milliseconds=ms), score, None, None
        )
        for i, (cam, ms, score) in enumerate(raw)
    ]


@given(st.lists(hit, max_size=60), st.floats(0.1, 30.0))
def test_every_hit_in_exactly_one_appearance_ordered_and_separated(
    raw: list[tuple[str, int, float]], gap_s: float
) -> None:
    rows = _rows(raw)
    gap = timedelta(seconds=gap_s)
    found = group_appearances(rows, gap)
    assert sum(a.hits for a in found) == len(rows)
    assert [(a.first_at, a.camera_id) for a in found] == sorted(
        (a.first_at, a.camera_id) for a in found
    )
    for a in found:  # each hit belongs to exactly one appearance of its camera
        inside = [r for r in rows if r.camera_id == a.camera_id and a.first_at <= r.at <= a.last_at]
        assert len(inside) == a.hits
        assert a.best in inside and a.best.score == max(r.score for r in inside)
        times = sorted(r.at for r in inside)
        assert all(b - x <= gap for x, b in itertools.pairwise(times))  # no gap inside
    for cam in {a.camera_id for a in found}:  # appearances of a camera: apart by more than gap
        mine = [a for a in found if a.camera_id == cam]
        assert all(b.first_at - x.last_at > gap for x, b in itertools.pairwise(mine))


def test_grouping_example_and_bad_gap() -> None:
    rows = _rows([("cam-1", 0, 0.6), ("cam-1", 2000, 0.9), ("cam-1", 9000, 0.7), ("cam-2", 1, 0.8)])
    found = group_appearances(rows, timedelta(seconds=3))
    assert [(a.camera_id, a.hits, a.best.score) for a in found] == [
        ("cam-1", 2, 0.9),
        ("cam-2", 1, 0.8),
        ("cam-1", 1, 0.7),
    ]
    url = found[0].clip_url(timedelta(seconds=3))
    assert url == clip_span_url("cam-1", T0 - timedelta(seconds=3), T0 + timedelta(seconds=5))
    assert "%2B00:00" in url and "+" not in url
    with pytest.raises(ValueError, match="positive"):
        group_appearances(rows, timedelta(0))


def _cand(text: str, conf: float = 0.9) -> PlateCandidate:
    return PlateCandidate(text, conf, text, (0, 0, 4, 2), (0, 0, 4, 2))


def _scorer(frames: FrameReads, *, k: int = 0) -> PlateScorer:
    return PlateScorer(lambda _img: frames, "DH7X317", US, max_distance=k, min_confidence=0.3)


@pytest.mark.parametrize(
    ("frame", "k", "expected"),
    [
        (FrameReads(1, [_cand("DH7X317")]), 0, MATCH),
        (FrameReads(1, [_cand("DH7XE17")]), 1, MATCH),  # one edit allowed
        (FrameReads(1, [_cand("DH7XE17")]), 0, CANDIDATE),  # near: look closer
        (FrameReads(1, [_cand("DH7X317", 0.1)]), 0, CANDIDATE),  # too unsure to be a hit
        (FrameReads(1, [_cand("5LTA600")]), 0, 0.0),  # clearly another plate
        (FrameReads(2, [_cand("5LTA600")]), 0, CANDIDATE),  # a vehicle left unread
        (FrameReads(0, []), 0, 0.0),  # empty road
    ],
)
def test_plate_scorer(frame: FrameReads, k: int, expected: float) -> None:
    s = _scorer(frame, k=k)
    assert s(IMG, T0) == expected
    if expected == MATCH:
        assert s.take(T0).text == frame.reads[0].text
    with pytest.raises(ValidationError, match="no plate hit"):
        s.take(T0)


def test_plate_scorer_folds_confusables_as_plate_search() -> None:
    s = PlateScorer(
        lambda _img: FrameReads(1, [_cand("DH7X317")]),
        plate_query("dh7-x3i7", 0),
        US,
        max_distance=0,
        min_confidence=0.3,
    )
    assert s(IMG, T0) == MATCH and s.distance("DH7X3I7") == 0


@pytest.mark.parametrize(
    ("text", "k", "why"),
    [("D*", 0, "fixed character"), ("DH7X317", 3, "max_distance"), ("DH-7/X", 0, "pattern")],
)
def test_bad_plate_queries(text: str, k: int, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        plate_query(text, k)
