"""Judging a post-event search's hits against the known cast (the recall evaluation's
arithmetic, :func:`tests.support.postevent_cast.tally`): every hit lands in exactly one
category, recall counts appearances (not frames), and bad casts are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.postevent_cast import Appearance, Cast, Hit, build_cast, evaluate, tally

P = Path("x.jpg")
CAST = Cast(
    {"ann": P, "bob": P},
    (
        Appearance("ann", P, "cam-1", 1, 3, 0.5, True),
        Appearance("bob", P, "cam-2", 1, 3, 0.5, True),
        Appearance("eve", P, "cam-1", 4, 6, 0.5, False),
        Appearance("ann", P, "cam-2", 4, 6, 0.5, True),
    ),
    8,
)


def test_each_kind_of_report_is_counted() -> None:
    hits = [
        Hit("ann", "cam-1", 1.0, 0.9),  # ann's first appearance
        Hit("ann", "cam-1", 2.9, 0.8),  # same appearance, another frame
        Hit("ann", "cam-2", 2.0, 0.7),  # bob: wrong person
        Hit("ann", "cam-1", 5.0, 0.6),  # eve: non-enrolled
        Hit("ann", "cam-1", 7.0, 0.6),  # nobody on screen
        Hit("ann", "cam-2", 5.0, 0.3),  # ann, but under the threshold
        Hit("bob", "cam-2", 3.04, 0.9),  # inside the edge slack of bob's appearance
    ]
    t = tally(CAST, hits, 0.5)
    assert (t.known, t.found, t.hits) == (3, 2, 3)
    assert t.recall == pytest.approx(2 / 3)
    assert (t.wrong_person_hits, len(t.wrong_person_appearances)) == (1, 1)
    assert (t.non_enrolled_hits, t.non_enrolled_people, t.unexplained_hits) == (1, {"eve"}, 1)
    assert t.missed == ["ann cam-2 4-6s (x.jpg)"]
    only_bob = tally(CAST, hits, 0.5, searched=["bob"])
    assert (only_bob.known, only_bob.found) == (1, 1)
    assert tally(CAST, hits, 0.95).found == 0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ann", "bob"]),
            st.sampled_from(["cam-1", "cam-2"]),
            st.floats(0, 8),
            st.floats(0, 1),
        ),
        max_size=40,
    ),
    st.floats(0, 1),
)
def test_every_hit_above_the_threshold_is_counted_once(
    raw: list[tuple[str, str, float, float]], threshold: float
) -> None:
    hits = [Hit(*h) for h in raw]
    t = tally(CAST, hits, threshold)
    above = sum(h.score >= threshold for h in hits)
    assert t.hits + t.wrong_person_hits + t.non_enrolled_hits + t.unexplained_hits == above
    assert 0 <= t.found <= t.known == 3 and 0.0 <= t.recall <= 1.0
    assert t.found + len(t.missed) == t.known


@pytest.mark.parametrize(("enrolled", "others"), [(0, 2), (5, 2), (2, 7), (2, -1)])
def test_impossible_casts_are_refused(enrolled: int, others: int) -> None:
    with pytest.raises(ValueError, match="enrolled"):
        build_cast(enrolled, others)


def test_searching_someone_outside_the_cast_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not enrolled in the cast"):
        evaluate(tmp_path, CAST, 0.5, searched=["eve"])
    assert not any(tmp_path.iterdir())  # refused before anything was written
