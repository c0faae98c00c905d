"""Plate reading without models: region profiles, confusables, CTC decoding, bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from vigil.perception.plates import (
    GENERIC,
    US,
    PlateReader,
    RegionProfile,
    TextDetector,
    TextRecognizer,
    ctc_greedy,
    get_profile,
)
from vigil.perception.plates.benchmark import char_accuracy, edit_distance, iou
from vigil.perception.plates.reader import PlateCandidate, plate_likeness


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc-123", "ABC123"),
        ("7 XYZ 99", "7XYZ99"),
        ("8OB5", "80B5"),  # US issues no letter O: folded to zero
        ("A", None),  # too short
        ("ABCD12345", None),  # too long for the US (8 max)
        ("·—", None),
        ("京A12345", "A12345"),  # non-Latin characters dropped
    ],
)
def test_us_normalise(raw: str, expected: str | None) -> None:
    assert US.normalise(raw) == expected


def test_generic_keeps_o_and_allows_ten() -> None:
    assert GENERIC.normalise("o0-abcdefghi") is None
    assert GENERIC.normalise("O0ABCDEF") == "O0ABCDEF"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [("8B5", "BB5", True), ("1IO0", "I100", True), ("5S", "SS", True), ("AB1", "AB7", False)],
)
def test_confusables_compare_equal(a: str, b: str, same: bool) -> None:
    assert US.same_plate(a, b) is same
    assert not US.same_plate("", "")


def test_profile_validation() -> None:
    with pytest.raises(ValueError, match="min_len"):
        RegionProfile(name="bad", min_len=5, max_len=3)
    with pytest.raises(ValueError, match="non-alphanumeric"):
        RegionProfile(name="bad", min_len=1, max_len=3, fold={"-": "0"})
    with pytest.raises(ValueError, match="unknown plate region"):
        get_profile("atlantis")
    assert get_profile("us") is US


def _onehot(indices: list[int], classes: int) -> np.ndarray:
    p = np.full((len(indices), classes), 0.01, np.float32)
    p[np.arange(len(indices)), indices] = 0.9
    return p


def test_ctc_merges_repeats_and_drops_blanks() -> None:
    charset = ["<b>", "A", "1", "B"]
    text, conf = ctc_greedy(_onehot([0, 1, 1, 0, 1, 2, 2, 0, 3], 4), charset)
    assert text == "AA1B"
    assert conf.shape == (4,)
    assert np.allclose(conf, 0.9)


def test_ctc_empty_and_shape_errors() -> None:
    assert ctc_greedy(np.zeros((0, 3), np.float32), ["b", "x", "y"])[0] == ""
    assert ctc_greedy(_onehot([0, 0], 3), ["b", "x", "y"])[0] == ""
    with pytest.raises(ValueError, match="probs must be"):
        ctc_greedy(np.zeros((4, 5), np.float32), ["b", "x"])


def test_plate_likeness_prefers_mixed_strings() -> None:
    assert plate_likeness("ABC1234") > plate_likeness("NEWYORK")
    assert plate_likeness("ABC1234") > plate_likeness("18008888")


def test_metrics() -> None:
    assert edit_distance("ABC", "ABD") == 1
    assert char_accuracy("", "ABC") == 0.0
    assert char_accuracy("ABC", "ABC") == 1.0
    assert char_accuracy("ABCDEFGH", "A") == 0.0
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_candidate_validation() -> None:
    box = (0.0, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="upper-case"):
        PlateCandidate("ab1", 0.5, "ab1", box, box)
    with pytest.raises(ValueError, match="confidence"):
        PlateCandidate("AB1", 1.5, "AB1", box, box)


class _Input:
    name = "x"


class _FakeSession:
    """Stands in for onnxruntime: a detector that sees no text, a recogniser that reads blanks."""

    def __init__(self, output: np.ndarray) -> None:
        self.output = output
        self.calls = 0

    def get_inputs(self) -> list[_Input]:
        return [_Input()]

    def run(self, _names: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        self.calls += 1
        x = feeds["x"]
        return [np.zeros((1, 1, x.shape[2], x.shape[3]), np.float32) + self.output]


def _reader() -> tuple[PlateReader, _FakeSession]:
    det = _FakeSession(np.float32(0.0))
    rec = _FakeSession(np.float32(0.0))
    return PlateReader(TextDetector(det), TextRecognizer(rec, charset=["<b>", "A"])), det


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((480, 640, 3), np.uint8),  # blank
        np.full((1, 300, 3), 255, np.uint8),  # 1-pixel-high crop
        np.zeros((0, 0, 3), np.uint8),
    ],
)
def test_bad_input_is_a_clean_no_read(image: np.ndarray) -> None:
    reader, _det = _reader()
    assert reader.read(image) == []
    assert reader.best(image) is None


def test_tiny_image_never_reaches_the_model() -> None:
    reader, det = _reader()
    reader.read(np.zeros((1, 300, 3), np.uint8))
    reader.read(np.zeros((100, 100, 3), np.uint8), regions=[(10, 10, 12, 90)])
    assert det.calls == 0


@pytest.mark.parametrize(
    "image", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), "not an image"]
)
def test_wrong_array_type_is_an_error(image: Any) -> None:
    reader, _det = _reader()
    with pytest.raises(ValueError, match="image must be"):
        reader.read(image)


def test_recogniser_reads_degenerate_crops_as_empty() -> None:
    rec = TextRecognizer(_FakeSession(np.float32(0.0)), charset=["<b>", "A"])
    text, conf = rec.read([np.zeros((1, 50, 3), np.uint8)])[0]
    assert text == "" and conf.size == 0
