"""Plate redaction on real plate photos (OpenALPR benchmark, US): a plate that is not the case's
is blurred until the plate reader no longer reads it; the case's own plate stays readable."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.data import shared_data
from tests.support.evidence import make_redactor
from vigil.errors import ModelNotInstalledError
from vigil.perception.image import load_image
from vigil.perception.plates.benchmark import load_benchmark
from vigil.perception.plates.reader import PlateReader
from vigil.perception.redaction import RedactionStats

pytestmark = [pytest.mark.models, pytest.mark.data]


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    try:
        return PlateReader.from_models()
    except ModelNotInstalledError as exc:
        pytest.skip(f"plate models not installed ({exc}); run `vigil models install`")


def test_other_plates_are_blurred_and_the_case_plate_kept(reader: PlateReader) -> None:
    truths = load_benchmark(shared_data("openalpr_benchmarks_endtoend", "endtoend", "us"))
    checked = 0
    for truth in truths[:40]:
        image = load_image(truth.image)
        if truth.text not in {c.text for c in reader.read(image)}:
            continue  # the reader misses this one anyway: it proves nothing here
        bystander = make_redactor(np.zeros((0, 1), np.float32))
        bystander.plates = reader
        stats = RedactionStats()
        hidden = bystander.frame(image, stats)
        assert truth.text not in {c.text for c in reader.read(hidden)}, truth.image.name
        assert stats.plates_blurred >= 1
        own = make_redactor(np.zeros((0, 1), np.float32), plates=[truth.text])
        own.plates = reader
        kept = own.frame(image, RedactionStats())
        assert truth.text in {c.text for c in reader.read(kept)}, truth.image.name
        checked += 1
        if checked == 2:
            break
    assert checked == 2, "fewer than 2 readable plates in the first 40 images"
