"""Scoring plate reads against the benchmark truth: outcomes and the at-plate rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.eval.plates import OUTCOMES, score_image, summary
from vigil.perception.plates import get_profile
from vigil.perception.plates.reader import PlateCandidate

US = get_profile("us")
TRUTH_BOX = (100.0, 100.0, 200.0, 150.0)
ON_PLATE = (110.0, 110.0, 190.0, 140.0)
ELSEWHERE = (400.0, 300.0, 480.0, 330.0)


def read(text: str, conf: float, box: tuple[float, float, float, float]) -> PlateCandidate:
    return PlateCandidate(text=text, confidence=conf, raw=text, xyxy=box, text_xyxy=box)


@pytest.mark.parametrize(
    ("reads", "outcome"),
    [
        ([], "no_read"),
        ([read("ABC123", 0.9, ON_PLATE)], "exact"),
        ([read("A8C123", 0.9, ON_PLATE)], "confusable"),  # 8/B fold: a hotlist would still hit
        ([read("ABC12", 0.9, ON_PLATE)], "one_edit"),
        ([read("XYZ789", 0.9, ON_PLATE)], "wrong"),
        ([read("XYZ789", 0.9, ELSEWHERE), read("ABC123", 0.8, ON_PLATE)], "other_text"),
    ],
)
def test_outcomes(reads: list[PlateCandidate], outcome: str) -> None:
    assert score_image("i.jpg", "ABC123", TRUTH_BOX, reads, US).outcome == outcome


def test_at_plate_takes_the_most_confident_read_on_the_annotated_plate() -> None:
    reads = [
        read("XYZ789", 0.95, ELSEWHERE),  # another car: the best read, but not this plate
        read("ABC123", 0.8, ON_PLATE),
        read("ABC12", 0.5, ON_PLATE),
    ]
    s = score_image("i.jpg", "ABC123", TRUTH_BOX, reads, US)
    assert (s.read, s.at_plate, s.outcome) == ("XYZ789", "ABC123", "other_text")
    doc = summary([s])
    assert doc["exact_accuracy"] == 0.0 and doc["exact_accuracy_at_plate"] == 1.0


def test_summary_counts_unreadable_files_as_misses() -> None:
    s = score_image("i.jpg", "ABC123", TRUTH_BOX, [read("ABC123", 0.9, ON_PLATE)], US)
    doc = summary([s], [{"image": "bad.jpg", "error": "not an image"}])
    assert doc["images"] == 2 and doc["exact_accuracy"] == 0.5
    assert doc["outcomes"] == {**dict.fromkeys(OUTCOMES, 0), "exact": 1, "no_read": 1}


def test_summary_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no images"):
        summary([])


plate = st.text("ABCDEFGHJKLMNPRSTUVWXYZ0123456789", min_size=2, max_size=8)


@given(truth=plate, texts=st.lists(plate, max_size=4))
def test_rates_are_ordered_and_outcomes_add_up(truth: str, texts: list[str]) -> None:
    reads = [read(t, 0.9 - 0.1 * i, ON_PLATE) for i, t in enumerate(texts)]
    doc = summary([score_image("i.jpg", truth, TRUTH_BOX, reads, US)])
    assert sum(doc["outcomes"].values()) == 1  # type: ignore[union-attr]
    assert doc["exact_accuracy"] <= doc["confusable_accuracy"]  # type: ignore[operator]
    assert 0.0 <= doc["char_accuracy"] <= 1.0  # type: ignore[operator]
