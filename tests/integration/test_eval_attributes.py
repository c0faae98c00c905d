"""``vigil eval attributes`` on the committed hand labels and the shared footage: the report's
keys and numbers are consistent, a bad data folder or labels file exits 2, and (slow) the whole
labelled set meets the accuracy floor stored beside this test."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.support.data import shared_data
from vigil.cli.main import main
from vigil.eval.attributes import LABELS

FLOOR = {"upper": 0.65, "lower": 0.55}  # measured 0.707 / 0.602 on 4 Dec 2026


def _subset(tmp: Path, n: int) -> Path:
    """The first ``n`` labels (MOT17 ground truth images: no video decoding)."""
    with LABELS.open() as fh:
        rows = list(csv.reader(fh))
    path = tmp / "labels.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows[: n + 1])
    return path


def _run(*args: str) -> None:
    main(["eval", "attributes", *args])


def test_report_on_a_subset_is_consistent(tmp_path: Path) -> None:
    data = shared_data("mot17_mini").parent
    out = tmp_path / "attr.json"
    _run("--data", str(data), "--labels", str(_subset(tmp_path, 30)), "--out", str(out))
    doc = json.loads(out.read_text())
    assert doc["crops"] == 30
    for band in ("upper", "lower"):
        b = doc["bands"][band]
        m = b["confusion"]
        assert sum(map(sum, m)) == b["labelled"] <= 30
        assert b["accuracy"] == pytest.approx(
            sum(m[i][i] for i in range(len(m))) / b["labelled"], abs=1e-4
        )
    assert len(doc["queries"]) == 5 and all(0 <= q["precision_at_10"] <= 1 for q in doc["queries"])
    assert out.with_suffix(".md").read_text().startswith("# Clothing colour accuracy")
    assert out.with_suffix(".png").stat().st_size > 1000


def test_bad_inputs_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _run("--data", str(tmp_path / "nowhere"))
    assert exc.value.code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("source,frame,x1,y1,x2,y2,upper,lower\nx.jpg,1,0,0,5,5,ochre,blue\n")
    with pytest.raises(SystemExit) as exc:
        _run("--data", str(tmp_path), "--labels", str(bad))
    assert exc.value.code == 2


@pytest.mark.slow
def test_the_labelled_set_meets_the_accuracy_floor(tmp_path: Path) -> None:
    data = shared_data("mot17_mini").parent
    out = tmp_path / "attr.json"
    _run("--data", str(data), "--out", str(out))
    doc = json.loads(out.read_text())
    assert doc["crops"] >= 200
    for band, floor in FLOOR.items():
        assert doc["bands"][band]["accuracy"] >= floor, (band, doc["bands"][band]["accuracy"])
