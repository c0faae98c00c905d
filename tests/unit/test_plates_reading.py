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
from vigil.perception.plates.reader import (
    PlateCandidate,
    PlateRules,
    _row_extensions,
    plate_likeness,
)
from vigil.perception.plates.text import TextBoxes


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


def _quad(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)


def test_row_extensions_span_a_full_row_on_the_same_line() -> None:
    rules = PlateRules()
    quad = _quad(100, 50, 120, 66)  # a two-character group, 16 px high
    boxes = _row_extensions(quad, rules)
    assert len(boxes) == 3
    width = rules.row_width * 16
    for b in boxes:
        assert b[1, 0] - b[0, 0] == pytest.approx(width)
        assert (b[0, 1] + b[3, 1]) / 2 == pytest.approx(58)  # same row centre
        assert b[3, 1] - b[0, 1] == pytest.approx(16 * rules.row_height)
    lefts = sorted(float(b[0, 0]) for b in boxes)
    assert lefts[-1] == pytest.approx(100)  # anchored at the group's left end
    assert lefts[0] == pytest.approx(120 - width)  # anchored at its right end


@pytest.mark.parametrize(
    ("quad", "rules"),
    [
        (_quad(0, 0, 80, 16), PlateRules()),  # already a full row
        (_quad(0, 0, 10, 8), PlateRules()),  # too small to seed
        (_quad(0, 0, 20, 16), PlateRules(row_width=0.0)),  # turned off
    ],
)
def test_row_extensions_only_for_short_lines(quad: np.ndarray, rules: PlateRules) -> None:
    if rules.row_width == 0.0:
        reader, _det = _reader()
        reader.rules = rules
        crops, extensions = reader._line_crops(quad)
        assert len(crops) == 3 and extensions == []
    else:
        assert _row_extensions(quad, rules) == []


class _OneLineDetector(TextDetector):
    """Finds one short text group (the '59' of a '59 CADI' plate whose gap split the row)."""

    def __init__(self, quad: np.ndarray) -> None:
        self.quad = quad

    def detect(self, image: np.ndarray) -> TextBoxes:
        return TextBoxes(self.quad[None], np.ones(1, np.float32))


class _WidthRecognizer(TextRecognizer):
    """Reads the whole plate only when the crop is wide enough to hold it."""

    def __init__(self) -> None:
        self.widths: list[int] = []
        self.stretches: list[float] = []

    def read(self, crops: Any, stretch: float = 1.0) -> list[tuple[str, np.ndarray]]:
        w = crops[0].shape[1]
        self.widths.append(w)
        self.stretches.append(stretch)
        text = "59CADI" if w >= 60 else "59"
        return [(text, np.full(len(text), 0.95, np.float32))]


def test_a_split_row_is_read_whole_through_its_extension() -> None:
    quad = _quad(100, 50, 119, 66)  # 19 x 16: below min_aspect, only extensions are read
    rec = _WidthRecognizer()
    reader = PlateReader(_OneLineDetector(quad), rec)
    best = reader.best(np.full((200, 300, 3), 128, np.uint8))
    assert best is not None and best.text == "59CADI"
    assert len(rec.widths) == 3  # the three extensions, no re-crops of a non-row line
    assert rec.stretches == [PlateRules().stretch] * 3  # every read widened by the rules' factor
    assert best.text_xyxy[2] - best.text_xyxy[0] == pytest.approx(4.5 * 16, abs=1.5)
    # A short line whose own re-crop reads a full row is not extended (no extra runs).
    long_rec = _WidthRecognizer()
    wide_line = _quad(100, 50, 155, 66)  # short enough to extend, but its 1.2x re-crop reads 6
    assert PlateReader(_OneLineDetector(wide_line), long_rec).best(
        np.full((200, 300, 3), 128, np.uint8)
    )
    assert len(long_rec.widths) == 3
    off = PlateReader(_OneLineDetector(quad), _WidthRecognizer(), rules=PlateRules(row_width=0))
    assert off.best(np.full((200, 300, 3), 128, np.uint8)) is None


class _ShapeSession:
    """An onnxruntime stand-in that records the recogniser's input shape and emits blanks."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def get_inputs(self) -> list[Any]:
        return [type("I", (), {"name": "x"})()]

    def run(self, _: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        x = feed["x"]
        self.shapes.append(x.shape)
        steps = x.shape[3] // 8
        out = np.zeros((1, steps, 3), np.float32)
        out[..., 0] = 1.0  # blank everywhere: an empty read
        return [out]


@pytest.mark.parametrize("stretch", [1.0, 1.3, 2.0])
def test_stretch_widens_the_recogniser_input(stretch: float) -> None:
    session = _ShapeSession()
    rec = TextRecognizer(session, charset=["<blank>", "A", " "])
    crop = np.full((24, 60, 3), 255, np.uint8)  # 2.5:1 -> 120 px wide at height 48
    [(text, probs)] = rec.read([crop], stretch)
    assert text == "" and probs.size == 0
    height, width = session.shapes[-1][2:]
    assert height == 48 and abs(width - 120 * stretch) <= 1


@pytest.mark.parametrize("stretch", [0.0, -1.0])
def test_stretch_must_be_positive(stretch: float) -> None:
    rec = TextRecognizer(_ShapeSession(), charset=["<blank>", "A", " "])
    with pytest.raises(ValueError, match="stretch"):
        rec.read([np.zeros((24, 60, 3), np.uint8)], stretch)


class _StretchRecognizer(TextRecognizer):
    """Reads the plate right only at one widening factor, and a repeated character otherwise
    (as PP-OCRv4 reads ``2DA044`` ``2DA0044`` when a row is widened too much)."""

    def __init__(self, right_at: float) -> None:
        self.right_at = right_at
        self.stretches: list[float] = []

    def read(self, crops: Any, stretch: float = 1.0) -> list[tuple[str, np.ndarray]]:
        self.stretches.append(stretch)
        if stretch == self.right_at:
            return [("2DA044", np.full(6, 0.97, np.float32))]
        return [("2DA0044", np.full(7, 0.80, np.float32))]


@pytest.mark.parametrize("extra", [(), (1.0,), (1.0, 1.6)])
def test_extra_stretches_read_every_crop_again_and_the_most_confident_wins(
    extra: tuple[float, ...],
) -> None:
    quad = _quad(100, 50, 190, 70)  # a row-shaped line: three re-crops, no extension
    rec = _StretchRecognizer(right_at=1.0)
    reader = PlateReader(_OneLineDetector(quad), rec, rules=PlateRules(extra_stretches=extra))
    best = reader.best(np.full((200, 300, 3), 128, np.uint8))
    assert best is not None
    assert best.text == ("2DA044" if 1.0 in extra else "2DA0044")
    assert sorted(set(rec.stretches)) == sorted({PlateRules().stretch, *extra})
    assert len(rec.stretches) == 3 * (1 + len(extra))  # each re-crop at each factor


@pytest.mark.parametrize("bad", [{"stretch": 0.0}, {"extra_stretches": (1.0, -1.0)}])
def test_rules_refuse_a_stretch_that_is_not_positive(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="stretches must be positive"):
        PlateRules(**bad)
