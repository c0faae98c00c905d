"""The plate reader with the real PP-OCRv4 models on a few real OpenALPR US images (bounded)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.data import shared_data
from vigil.config.plates import PlatesConfig
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
    rates = (
        "detection_recall",
        "exact_accuracy",
        "exact_accuracy_at_plate",
        "confusable_accuracy",
        "char_accuracy",
    )
    for key in rates:
        assert 0.0 <= doc[key] <= 1.0, key
    assert doc["ms_per_image"] > 0.0
    assert doc["exact_accuracy"] <= doc["confusable_accuracy"]
    assert doc["images"] == 3 and doc["skipped"] == 1
    names = [item.image.name for item in load_benchmark(data)[1:4]]
    rows = doc["per_image"]
    assert [row["image"] for row in rows] == names
    assert sum(doc["outcomes"].values()) == 3
    exact = sum(row["outcome"] == "exact" for row in rows)
    assert exact == sum(row["read"] == row["truth"] for row in rows)
    assert doc["exact_accuracy"] == exact / 3
    assert out.with_suffix(".png").stat().st_size > 0


def _run_eval(folder: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "vigil", "eval", "plates", "--dir", str(folder)]
    return subprocess.run(
        [*cmd, "--out", str(out), "--threads", "2", *extra],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_eval_plates_counts_a_corrupt_image_as_a_miss_and_goes_on(tmp_path: Path) -> None:
    real = load_benchmark(shared_data(*US_DIR))[-1]
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / real.image.name).write_bytes(real.image.read_bytes())
    (folder / real.image.with_suffix(".txt").name).write_text(
        real.image.with_suffix(".txt").read_text()
    )
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "broken.txt").write_text("broken.jpg 10 10 40 20 ABC123\n")
    out = tmp_path / "report.json"
    done = _run_eval(folder, out)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["images"] == 2
    assert [u["image"] for u in doc["unreadable"]] == ["broken.jpg"]
    assert doc["outcomes"]["no_read"] >= 1
    assert doc["exact_accuracy"] <= 0.5
    assert "unreadable" in done.stderr


def test_eval_plates_refuses_a_malformed_ground_truth_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a.jpg 1 2\n")
    done = _run_eval(tmp_path, tmp_path / "r.json")
    assert done.returncode == 2
    assert "expected 'file x y w h plate'" in done.stderr
    assert not (tmp_path / "r.json").exists()


def test_eval_plates_in_vehicle_boxes_as_the_camera_stage_reads(tmp_path: Path) -> None:
    data = shared_data(*US_DIR)
    out = tmp_path / "vehicles.json"
    done = _run_eval(data, out, "--limit", "3", "--vehicles")
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["regions"] == "vehicles" and doc["images"] == 3
    # the report is the same shape as a whole-image run, and its rates are consistent
    assert doc["exact_accuracy"] <= doc["confusable_accuracy"] <= 1.0
    assert sum(doc["outcomes"].values()) == 3


def test_eval_plates_with_vigils_recogniser_fused_and_a_bad_choice(tmp_path: Path) -> None:
    data = shared_data(*US_DIR)
    out = tmp_path / "fused.json"
    done = _run_eval(data, out, "--limit", "2", "--recogniser", "fused")
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert (doc["recogniser"], doc["fusion_weight"], doc["images"]) == (
        "fused",
        PlatesConfig().fusion_weight,
        2,
    )
    assert sum(doc["outcomes"].values()) == 2
    bad = _run_eval(data, tmp_path / "bad.json", "--recogniser", "tesseract")
    assert bad.returncode == 2 and "--recogniser must be one of" in bad.stderr
    assert not (tmp_path / "bad.json").exists()
    bad = _run_eval(data, tmp_path / "bad.json", "--fusion-weight", "1.5")
    assert bad.returncode == 2 and not (tmp_path / "bad.json").exists()
