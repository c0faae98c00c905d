"""The plate reader with the real PP-OCRv4 models on a few real OpenALPR US images (bounded)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data
from vigil.perception.image import load_image
from vigil.perception.plates import PlateReader
from vigil.perception.plates.benchmark import load_benchmark

pytestmark = pytest.mark.models
US_DIR = ("openalpr_benchmarks_endtoend", "endtoend", "us")
IMAGES = 6


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader.from_models(threads=2)


def test_reads_real_plates(reader: PlateReader) -> None:
    items = load_benchmark(shared_data(*US_DIR))[-IMAGES:]
    exact = 0
    for item in items:
        best = reader.best(load_image(item.image))
        exact += best is not None and best.text == item.text
    assert exact >= IMAGES // 2, f"only {exact} of {IMAGES} plates read exactly"


def test_blank_and_one_pixel_high_frames_give_no_read(reader: PlateReader) -> None:
    assert reader.best(np.zeros((720, 1280, 3), np.uint8)) is None
    assert reader.best(np.full((1, 400, 3), 200, np.uint8)) is None


def test_eval_plates_cli(tmp_path: Path) -> None:
    data = shared_data(*US_DIR)
    out = tmp_path / "plates.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil",
            "eval",
            "plates",
            "--dir",
            str(data),
            "--out",
            str(out),
            "--skip",
            "1",
            "--limit",
            "3",
            "--threads",
            "2",
        ],
        check=True,
        timeout=120,
    )
    doc = json.loads(out.read_text())
    for key in ("detection_recall", "exact_accuracy", "char_accuracy", "ms_per_image"):
        assert doc[key] >= 0.0 and (key == "ms_per_image" or doc[key] <= 1.0)
    assert doc["images"] == 3 and doc["skipped"] == 1
    names = [item.image.name for item in load_benchmark(data)[1:4]]
    assert [row["image"] for row in doc["per_image"]] == names
