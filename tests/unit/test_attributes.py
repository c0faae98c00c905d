"""Appearance descriptors and the search vocabulary: colours from pixels, the strict free-text
reading, and refusals of protected characteristics however they are spelt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.analytics.attributes import (
    PALETTE,
    AttributeCollector,
    band_votes,
    direction,
    person_votes,
    winner,
)
from vigil.core import Detections, FrameRef, ObjectClass, TrackState
from vigil.core.attributes import (
    PROTECTED_WORDS,
    Colour,
    Direction,
    ProtectedAttributeError,
    check_terms,
    parse_text,
)
from vigil.core.records import CLASS_IDS, Track
from vigil.errors import ValidationError
from vigil.tracking.bytetrack import TrackEvent

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def solid(bgr: tuple[int, int, int], h: int = 40, w: int = 20) -> np.ndarray:
    return np.full((h, w, 3), bgr, np.uint8)


@pytest.mark.parametrize(
    ("bgr", "name"),
    [
        ((0, 0, 0), Colour.BLACK),
        ((250, 250, 250), Colour.WHITE),
        ((128, 128, 128), Colour.GREY),
        ((0, 0, 220), Colour.RED),
        ((0, 140, 255), Colour.ORANGE),
        ((0, 230, 230), Colour.YELLOW),
        ((0, 200, 0), Colour.GREEN),
        ((220, 0, 0), Colour.BLUE),
        ((200, 0, 140), Colour.PURPLE),
        ((180, 105, 255), Colour.PINK),
        ((20, 60, 110), Colour.BROWN),
    ],
)
def test_a_solid_patch_is_named_its_colour(bgr: tuple[int, int, int], name: Colour) -> None:
    colour, share = winner(band_votes(solid(bgr)))
    assert colour is name and share == 1.0


def test_upper_and_lower_bands_are_read_apart() -> None:
    crop = np.zeros((100, 40, 3), np.uint8)
    crop[15:50] = (0, 0, 220)  # red top
    crop[55:90] = (220, 0, 0)  # blue trousers
    up, low = person_votes(crop)
    assert winner(up)[0] is Colour.RED and winner(low)[0] is Colour.BLUE


@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**31 - 1))
@settings(max_examples=40, deadline=None)
def test_votes_are_shares_that_sum_to_one(h: int, w: int, seed: int) -> None:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    v = band_votes(img)
    assert v.shape == (len(PALETTE),) and np.all(v >= 0) and abs(v.sum() - 1.0) < 1e-9


def test_an_empty_band_has_no_colour() -> None:
    assert winner(band_votes(np.zeros((0, 5, 3), np.uint8))) == (None, 0.0)


@pytest.mark.parametrize(
    ("last", "want"),
    [
        ((100, 0, 110, 10), Direction.RIGHT),
        ((-100, 0, -90, 10), Direction.LEFT),
        ((0, 100, 10, 110), Direction.DOWN),
        ((0, -100, 10, -90), Direction.UP),
        ((1, 1, 11, 11), Direction.STILL),
    ],
)
def test_direction_follows_the_box_centre(last: tuple[float, ...], want: Direction) -> None:
    assert direction((0, 0, 10, 10), last, 480) is want


def _frame(i: int) -> FrameRef:
    return FrameRef("cam", T0 + timedelta(seconds=i), i, 200, 100)


def test_collector_describes_a_track_at_close_and_forgets_it() -> None:
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :, :] = (0, 0, 220)  # everything red: the top and the trousers
    col = AttributeCollector(every=1, min_height=10)
    for i in range(3):
        box = np.array([[10 + 20 * i, 10, 40 + 20 * i, 90]], np.float32)
        dets = Detections(
            box,
            np.array([0.9]),
            np.array([CLASS_IDS[ObjectClass.PERSON]]),
            tracker_id=np.array([7]),
        )
        col.observe(image, _frame(i), dets)
    track = Track(
        "cam",
        7,
        ObjectClass.PERSON,
        TrackState.CLOSED,
        T0,
        T0 + timedelta(seconds=2),
        (50, 10, 80, 90),
    )
    [attrs] = col.close([TrackEvent(TrackState.CLOSED, track)], 100)
    assert (attrs.upper, attrs.lower, attrs.body) == (Colour.RED, Colour.RED, None)
    assert attrs.direction is Direction.RIGHT and attrs.height_frac == 0.8 and len(col) == 0


def test_collector_stays_bounded_over_a_long_run() -> None:
    col = AttributeCollector(every=1, min_height=10, max_tracks=16)
    image = np.zeros((100, 200, 3), np.uint8)
    for i in range(500):  # 500 tracks that never close
        dets = Detections(
            np.array([[0, 0, 20, 50]], np.float32),
            np.array([0.9]),
            np.array([CLASS_IDS[ObjectClass.CAR]]),
            tracker_id=np.array([i]),
        )
        col.observe(image, _frame(i), dets)
    assert len(col) == 16 and col.dropped == 484


def test_free_text_reads_garments_and_vehicles() -> None:
    q = parse_text("Person, RED top, blue trousers")
    assert (q.classes, q.upper, q.lower) == (("person",), Colour.RED, Colour.BLUE)
    v = parse_text("white van")
    assert v.classes == ("car", "truck") and v.colour is Colour.WHITE
    assert parse_text("grey jeans").lower is Colour.GREY


@pytest.mark.parametrize("text", ["person in a cape", "red top tall", "drop table sightings"])
def test_free_text_outside_the_vocabulary_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="outside the search vocabulary"):
        parse_text(text)


SNEAKY = [
    "Asian man red top",
    "person with dark SKIN",
    "skin-tone: dark",
    "skin  colours",
    "SkinColour",
    "elderly women",
    "young girls in blue",
    "MUSLIMS",
    "wearing a hijab",
    "angry person",
    "Happy",
    "gay",
    "pregnant",
    "wheelchair users",
    "ethnicities",
    "gender=female",
    "age:30-40",
    "political protesters",
    "person, race: any",
]


@pytest.mark.parametrize("text", SNEAKY)
def test_protected_characteristics_are_refused_however_spelt(text: str) -> None:
    with pytest.raises(ProtectedAttributeError, match="does not search people by"):
        parse_text(text)


@given(st.sampled_from(sorted(PROTECTED_WORDS)), st.sampled_from(["", " ", "  ", "-", "_", "."]))
@settings(max_examples=80, deadline=None)
def test_every_protected_word_is_refused_with_any_case_and_padding(word: str, pad: str) -> None:
    for variant in (word.upper(), word.title(), f"{pad}{word}{pad}", f"red top {word}"):
        with pytest.raises(ProtectedAttributeError):
            check_terms([variant])


@given(
    st.lists(
        st.sampled_from([c.value for c in Colour] + ["top", "trousers", "person", "car"]),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=60, deadline=None)
def test_the_vocabulary_itself_is_never_refused_as_protected(ws: list[str]) -> None:
    check_terms([" ".join(ws)])  # must not raise


def test_a_vehicle_query_cannot_carry_clothing_colours() -> None:
    with pytest.raises(ValidationError):
        parse_text("car red top")
