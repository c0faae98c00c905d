"""`vigil eval tracking|crowd` end to end on small real subsets, plus slow accuracy gates.

Thresholds of the gates live here, next to the tests (measured values in
docs/people-and-vehicles.md). Data is read from ../shared/data through symlinks in tmp_path,
never copied into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.data import shared_data
from vigil.cli.main import app
from vigil.errors import ModelNotInstalledError

TRACKING_GATE = {"recall": 0.68, "precision": 0.80}  # best detection point, visible pedestrians
# ShanghaiTech B test (211 images here), refitted under the protocol of vigil eval crowd:
# measured 5-fold CV 20.3, nested selection 20.1, odd -> even 20.7; issue target 25.
CROWD_GATE = {"cv_mae": 22.0, "nested_mae": 22.0, "held_out_mae": 23.0}

runner = CliRunner()


def _models() -> None:
    from vigil.models.installer import model_path

    try:
        model_path("nanodet-graph")
        model_path("nanodet-weights")
    except ModelNotInstalledError as exc:
        pytest.skip(f"{exc} (run `vigil models install`)")


def _invoke(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = Path(args[args.index("--out") + 1])
    doc: dict[str, object] = json.loads(out.read_text())
    return doc


def _one_sequence(tmp_path: Path) -> Path:
    seq = shared_data("mot17_mini", "train", "MOT17-05-FRCNN")
    root = tmp_path / "mot"
    root.mkdir()
    (root / seq.name).symlink_to(seq, target_is_directory=True)
    return root


def test_eval_tracking_bounded(tmp_path: Path) -> None:
    _models()
    out = tmp_path / "tracking.json"
    doc = _invoke(
        [
            "eval",
            "tracking",
            "--mot-dir",
            str(_one_sequence(tmp_path)),
            "--tiles",
            "1",
            "--max-frames",
            "4",
            "--out",
            str(out),
        ]
    )
    for key in ("mota", "idf1", "recall", "precision"):
        assert isinstance(doc[key], float), key
    for key in ("hota", "deta", "assa", "loca"):
        assert 0.0 < float(doc[key]) <= 1.0, key  # type: ignore[arg-type]
    assert doc["frames"] == 4
    assert 0.3 <= float(doc["recall"]) <= 1.0  # type: ignore[arg-type]


def _crowd_subset(tmp_path: Path, numbers: list[int]) -> Path:
    src = shared_data("shanghaitech_partB", "ShanghaiTech_B", "test_data")
    root = tmp_path / "sht"
    (root / "images").mkdir(parents=True)
    (root / "ground-truth").mkdir()
    for n in numbers:
        (root / "images" / f"IMG_{n}.jpg").symlink_to(src / "images" / f"IMG_{n}.jpg")
        (root / "ground-truth" / f"GT_IMG_{n}.mat").symlink_to(
            src / "ground-truth" / f"GT_IMG_{n}.mat"
        )
    return root


def test_eval_crowd_bounded(tmp_path: Path) -> None:
    _models()
    out = tmp_path / "crowd.json"
    args = ["eval", "crowd", "--dir", str(_crowd_subset(tmp_path, [2, 4]))]
    args += ["--cache", str(tmp_path / "cache"), "--out", str(out)]
    doc = _invoke(args)
    assert len(list((tmp_path / "cache").glob("IMG_*.npz"))) == 2
    again = _invoke(args)  # from the cache: the same statistics, so the same counts
    assert again["per_image"] == doc["per_image"]
    assert doc["images"] == 2
    assert isinstance(doc["mae"], float) and isinstance(doc["rmse"], float)
    assert isinstance(doc["bands"], dict) and isinstance(doc["splits"], dict)
    assert doc["protocol"]["images_named_like_fitted_ones"] == 2  # type: ignore[index]
    assert "skipped" in doc["cross_validation"]["note"]  # type: ignore[index]
    for row in doc["per_image"]:  # type: ignore[attr-defined]
        # in-sample images (the shipped model saw them): a loose sanity bound, not the gate
        assert abs(row["predicted"] - row["true"]) <= 0.35 * row["true"] + 10, row


def test_the_benchmark_runs_the_live_people_path_on_vtest() -> None:
    """`make bench`'s people figures come from `vigil run`'s stage (PeopleStage → the pure
    PeopleAnalysis step) and the live face path, on 12 real frames at 5 fps."""
    _models()
    shared_data("opencv_vtest", "vtest.avi")  # skips with a message when the data is absent
    from bench.bench_objects import live_pipeline

    m = live_pipeline(12)
    assert m["pipeline_frames"] == 12
    tracks = m["pipeline_person_tracks"]
    assert isinstance(tracks, int) and 4 <= tracks <= 20  # ~6-8 people, not one id per frame
    stages = {"detect_objects", "track", "detect_faces", "face_tracks"}
    assert all(isinstance(m[f"pipeline_{k}_ms"], float) for k in stages)
    linked, faces = m["pipeline_face_tracks_on_a_person"], m["pipeline_face_tracks"]
    assert isinstance(linked, int) and isinstance(faces, int) and 0 <= linked <= faces


@pytest.mark.slow
def test_tracking_accuracy_gate(tmp_path: Path) -> None:
    _models()
    mot = shared_data("mot17_mini")
    doc = _invoke(["eval", "tracking", "--mot-dir", str(mot), "--out", str(tmp_path / "t.json")])
    best = doc["detection"]["best_recall_at_precision_0.8"]  # type: ignore[index]
    assert best is not None
    assert best["recall"] >= TRACKING_GATE["recall"]
    assert best["precision"] >= TRACKING_GATE["precision"]


@pytest.mark.slow
@pytest.mark.timeout(3600)  # 211 images × 91 network runs (~20 min on one thread) + refits
def test_crowd_accuracy_gate(tmp_path: Path) -> None:
    _models()
    root = shared_data("shanghaitech_partB", "ShanghaiTech_B", "test_data")
    doc = _invoke(["eval", "crowd", "--dir", str(root), "--out", str(tmp_path / "c.json")])
    cv = doc["cross_validation"]
    assert cv["shipped_method"]["mae"] <= CROWD_GATE["cv_mae"]  # type: ignore[index]
    assert cv["nested_selection"]["mae"] <= CROWD_GATE["nested_mae"]  # type: ignore[index]
    assert doc["splits"]["held_out"]["mae"] <= CROWD_GATE["held_out_mae"]  # type: ignore[index]
