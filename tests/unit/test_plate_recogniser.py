"""Vigil's plate recogniser: the committed model, its registry entry, reading, fusion."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from vigil.config.plates import PlatesConfig
from vigil.models import installer
from vigil.models.builtin_plates import (
    VIGIL_PLATE_OCR,
    VIGIL_PLATE_OCR_FILE,
    VIGIL_PLATE_REC,
    VIGIL_PLATE_REC_FILE,
)
from vigil.models.catalog import CATALOG, ModelSpec
from vigil.perception.plates.plate_rec import FusedRecognizer, PlateRecognizer, fuse_reads
from vigil.perception.plates.reader import PlateReader, PlateRules
from vigil.perception.plates.text import TextRecognizer

SPEC = CATALOG[VIGIL_PLATE_REC]
PACKAGED = Path(installer.__file__).parent.parent / VIGIL_PLATE_REC_FILE
OCR_SPEC = CATALOG[VIGIL_PLATE_OCR]
OCR_PACKAGED = Path(installer.__file__).parent.parent / VIGIL_PLATE_OCR_FILE
PLATE_MODELS = [(SPEC, PACKAGED), (OCR_SPEC, OCR_PACKAGED)]
ALPHABET = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _recogniser() -> PlateRecognizer:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return PlateRecognizer(ort.InferenceSession(str(PACKAGED), opts))


def _ocr() -> TextRecognizer:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return TextRecognizer(ort.InferenceSession(str(OCR_PACKAGED), opts))


@pytest.mark.parametrize(("spec", "packaged"), PLATE_MODELS, ids=lambda v: getattr(v, "name", ""))
def test_the_committed_model_matches_its_pinned_checksum_and_size(
    spec: ModelSpec, packaged: Path
) -> None:
    data = packaged.read_bytes()
    assert hashlib.sha256(data).hexdigest() == spec.sha256 == spec.source.member_sha256
    assert len(data) <= 20 * 1024 * 1024
    assert spec.source.registry == "vigil" and spec.default


@pytest.mark.parametrize(("spec", "packaged"), PLATE_MODELS, ids=lambda v: getattr(v, "name", ""))
def test_installing_copies_it_from_the_package_and_repairs_a_corrupt_copy(
    tmp_path: Path, spec: ModelSpec, packaged: Path
) -> None:
    assert installer.install(spec, tmp_path) == "installed"
    assert installer.model_path(spec.name, tmp_path).read_bytes() == packaged.read_bytes()
    assert installer.install(spec, tmp_path) == "present"
    (tmp_path / spec.filename).write_bytes(b"not the model")
    assert installer.status(spec, tmp_path).state == "corrupt"
    assert installer.install(spec, tmp_path) == "repaired"
    assert not (tmp_path / installer.ARCHIVES).exists()  # nothing was downloaded


def test_it_reads_synthetic_plates() -> None:
    synth = pytest.importorskip("training.plates.synth")
    if synth.missing_fonts():
        pytest.skip(
            f"fonts {synth.missing_fonts()} are missing (apt-get install fonts-dejavu-core "
            "fonts-liberation fonts-freefont-ttf)"
        )
    rec = _recogniser()
    texts = ["7ABC123", "4KZT882", "XR52L6", "8MNW471", "2GHK590"]
    crops = [
        cv2.cvtColor(synth.clean_crop(t, seed=i), cv2.COLOR_GRAY2BGR) for i, t in enumerate(texts)
    ]
    reads = rec.read(crops)
    right = [r[0] == t for r, t in zip(reads, texts, strict=True)]
    assert sum(right) >= 4, reads
    for text, probs in reads:
        assert len(probs) == len(text) and ((probs > 0) & (probs <= 1)).all()
        assert set(text) <= set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def test_the_fine_tuned_reader_reads_synthetic_plates_in_the_plate_alphabet_only() -> None:
    synth = pytest.importorskip("training.plates.synth")
    if synth.missing_fonts():
        pytest.skip(f"fonts {synth.missing_fonts()} are missing (see the test above)")
    rec = _ocr()
    assert rec.charset == ["<blank>", *"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"]  # no space class
    texts = ["7ABC123", "4KZT882", "XR52L6", "8MNW471", "2GHK590"]
    crops = [
        cv2.cvtColor(synth.clean_crop(t, seed=i), cv2.COLOR_GRAY2BGR) for i, t in enumerate(texts)
    ]
    reads = rec.read(crops, PlateRules().stretch)
    assert sum(r[0] == t for r, t in zip(reads, texts, strict=True)) >= 4, reads
    for text, probs in reads:
        assert len(probs) == len(text) and ((probs > 0) & (probs <= 1)).all()
        assert set(text) <= ALPHABET
    blank = rec.read([np.full((30, 120, 3), 128, np.uint8)], 1.3)[0]
    assert set(blank[0]) <= ALPHABET and len(blank[1]) == len(blank[0])


def test_degenerate_crops_read_as_empty_and_bad_stretch_is_an_error() -> None:
    rec = _recogniser()
    reads = rec.read([np.zeros((1, 40, 3), np.uint8), np.zeros((20, 80, 3), np.uint8)])
    assert reads[0][0] == "" and reads[0][1].size == 0
    assert len(reads) == 2
    assert rec.read([]) == []
    with pytest.raises(ValueError, match="stretch"):
        rec.read([np.zeros((20, 80, 3), np.uint8)], stretch=0)


def _r(text: str, *probs: float) -> tuple[str, np.ndarray]:
    return text, np.asarray(probs or [0.9] * len(text), np.float32)


def test_fusion_per_character_where_the_lengths_agree() -> None:
    general, plate = _r("R8Z0503", 0.99, 0.9, 0.6, 0.99, 0.99, 0.99, 0.99), _r("R8205O3")
    # Weighted equally the more confident character wins at each position: 2 (0.9 > 0.6)
    # from the plate model, 0 (0.99 > 0.9) from PP-OCR.
    assert fuse_reads(general, plate, 0.5)[0] == "R820503"
    assert fuse_reads(general, plate, 0.0)[0] == "R8Z0503"
    assert fuse_reads(general, plate, 1.0)[0] == "R8205O3"


def test_fusion_takes_a_whole_read_where_the_lengths_differ() -> None:
    short, full = _r("5TA600", *[0.7] * 6), _r("5LTA600", *[0.9] * 7)
    assert fuse_reads(short, full, 0.5)[0] == "5LTA600"
    assert fuse_reads(short, full, 0.1)[0] == "5TA600"
    assert fuse_reads(_r("AB-12 3", *[0.9] * 7), _r(""), 0.5)[0] == "AB-12 3"
    assert fuse_reads(_r(""), full, 0.5)[0] == "5LTA600"


alnum = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=8)
prob = st.floats(0.01, 1.0)


@given(alnum, alnum, st.floats(0, 1), st.data())
def test_fusion_invariants(a: str, b: str, w: float, data: st.DataObject) -> None:
    pa = data.draw(st.lists(prob, min_size=len(a), max_size=len(a)))
    pb = data.draw(st.lists(prob, min_size=len(b), max_size=len(b)))
    text, probs = fuse_reads(_r(a, *pa), _r(b, *pb), w)
    assert len(text) == len(probs) and len(text) in (len(a), len(b))
    assert all(c in (x, y) for c, x, y in zip(text, a, b, strict=False)) or text in (a, b)
    if a == b:
        assert text == a
    assert fuse_reads(_r(a, *pa), _r(a, *pa[::-1]), w)[0] == a


def test_fusion_weight_is_bounded() -> None:
    with pytest.raises(ValueError, match="weight"):
        fuse_reads(_r("AB1"), _r("AB1"), 1.5)
    with pytest.raises(ValueError, match="weight"):
        FusedRecognizer(_recogniser(), _recogniser(), -0.1)


def test_fused_recogniser_passes_overlays_through() -> None:
    class Fixed:
        def __init__(self, text: str) -> None:
            self.text = text

        def read(self, crops: object, stretch: float = 1.0) -> list[tuple[str, np.ndarray]]:
            return [_r(self.text)]

    crop = [np.zeros((20, 80, 3), np.uint8)]
    assert FusedRecognizer(Fixed("2014-05-13"), Fixed("2014O513"), 1.0).read(crop)[0][0] == (
        "2014-05-13"
    )
    assert FusedRecognizer(Fixed("AB12C"), Fixed("AB12G"), 1.0).read(crop)[0][0] == "AB12G"


def test_unknown_recogniser_is_refused() -> None:
    with pytest.raises(ValueError, match="recogniser"):
        PlateReader.from_models(recogniser="tesseract")
    with pytest.raises(ValidationError):
        PlatesConfig.model_validate({"recogniser": "tesseract"})
    with pytest.raises(ValidationError):
        PlatesConfig.model_validate({"fusion_weight": 2})


def _synth_or_skip():  # type: ignore[no-untyped-def]
    synth = pytest.importorskip("training.plates.synth")
    if synth.missing_fonts():
        pytest.skip(f"fonts {synth.missing_fonts()} are missing (see the tests above)")
    return synth


def test_detector_like_crops_are_taller_around_the_row_as_real_detector_boxes_are() -> None:
    synth = _synth_or_skip()
    ratios: dict[bool, list[float]] = {False: [], True: []}
    for like in (False, True):
        rng = np.random.default_rng(5)
        for _ in range(60):
            plate, row = synth.render_plate(rng, synth.random_text(rng, "us"), "us")
            crop = synth._crop_row(rng, plate, row, detector_like=like)
            ratios[like].append(crop.shape[0] / (row[3] - row[1]))
    # Real PP-OCRv4 boxes are about 1.5-1.9 character heights tall (docs/plates.md).
    assert np.median(ratios[True]) > 1.35 > np.median(ratios[False])


def test_separated_stacked_characters_leave_a_gap_beside_the_row() -> None:
    synth = _synth_or_skip()
    gaps: dict[bool, list[int]] = {False: [], True: []}
    for separate in (False, True):
        for seed in range(120):
            rng = np.random.default_rng(seed)
            plate, (_x1, y1, x2, y2) = synth.render_plate(rng, "ABC1234", "us", separate)
            ch = int(y2 - y1)
            band = plate[int(y1) : int(y2)].astype(np.int16)
            bg = int(np.median(band))
            ink = np.abs(band - bg).max(axis=0) > 60  # columns with marks in the row's band
            # Just past the row's end, short of the plate's border (a frame, not a character).
            right = ink[int(x2) + 2 : min(int(x2) + ch, plate.shape[1] - 10)]
            if right.any():
                gaps[separate].append(int(np.argmax(right)))
    # Without separation, stacked characters may touch the row's end; with it, never.
    assert gaps[False] and min(gaps[False]) < 3
    assert gaps[True] and min(gaps[True]) >= 3


@given(seed=st.integers(0, 2**32 - 1))
def test_colourised_crops_keep_the_grey_crops_light_and_dark(seed: int) -> None:
    synth = _synth_or_skip()
    rng = np.random.default_rng(seed)
    grey = synth.clean_crop("ABC1234", seed=seed % 1000)
    out = synth.colourise(rng, grey)
    assert out.shape == (*grey.shape, 3) and out.dtype == np.uint8
    # What was dark stays darker than what was light (lettering against plate, or the reverse
    # on an inverted plate): colour must not wash out or swap what the label reads.
    luma = cv2.cvtColor(out, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lo, hi = np.percentile(grey, 10), np.percentile(grey, 90)
    assume(hi - lo > 100)
    assert luma[grey <= lo].mean() + 0.1 * (hi - lo) < luma[grey >= hi].mean()
