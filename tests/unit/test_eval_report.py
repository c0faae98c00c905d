from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vigil.eval.metrics import evaluate_identification, evaluate_verification
from vigil.eval.protocols import (
    CosineScorer,
    build_open_set,
    calibration_holdout,
    parse_aliases,
    search,
    search_cohorts,
)
from vigil.eval.report import (
    identification_json,
    verification_json,
    write_identification_report,
    write_json,
    write_verification_report,
)


@pytest.fixture(scope="module")
def population() -> tuple[list[str], np.ndarray]:
    ids = [f"N{i:04d}" for i in range(600) for _ in range(1 + i % 4)]
    rng = np.random.default_rng(11)
    centres = rng.normal(size=(600, 32))
    owner = np.array([int(n[1:]) for n in ids])
    x = centres[owner] + rng.normal(scale=0.7, size=(len(ids), 32))
    return ids, (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def verification_result():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    s = np.r_[rng.normal(0.7, 0.1, 300), rng.normal(0.1, 0.1, 300)]
    y = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    return evaluate_verification(s, y, np.tile(np.arange(10), 60))


def test_verification_report_files_and_stable_keys(tmp_path: Path) -> None:
    files = write_verification_report(
        tmp_path / "v" / "report.json",
        verification_result(),
        model="m",
        detector="d",
        extra={"pairs_file": "p.tsv"},
    )
    doc = json.loads(files.json.read_text())
    assert doc["model"] == "m" and doc["detector"] == "d" and doc["pairs_file"] == "p.tsv"
    v = doc["verification"]
    assert 0.9 < v["accuracy"] <= 1
    assert set(v["tar_at_far"]) == {"0.01", "0.001", "0.0001"}
    assert v["tar_at_far_detail"]["0.0001"]["resolvable"] is False
    assert v["tar_at_far_detail"]["0.01"]["far"]["n"] == 300
    assert (
        "Accuracy" in files.markdown.read_text() and "report_roc.png" in files.markdown.read_text()
    )
    for p in files.plots:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_identification_report_end_to_end(
    tmp_path: Path, population: tuple[list[str], np.ndarray]
) -> None:
    ids, x = population
    scorer = CosineScorer(x)
    al = parse_aliases("N0001\tN0002\n")
    runs = {}
    for name, aliases in (("with", al), ("without", None)):
        proto = build_open_set(ids, watchlist_size=100, seed=3, aliases=aliases)
        results = search(proto, scorer)
        cohort = search_cohorts(results, ids, {n: "odd" if int(n[1:]) % 2 else "even" for n in ids})
        runs[name] = (
            results,
            evaluate_identification(results, default_threshold=0.6, cohort=cohort),
        )
    cal = calibration_holdout(ids, scorer, watchlist_size=60, target_fpirs=(0.01,))
    paths = [f"{n}/{n}_{i:04d}.jpg" for i, n in enumerate(ids)]
    files = write_identification_report(
        tmp_path / "id.json",
        runs["with"][1],
        model="m",
        detector="d",
        paths=paths,
        aliases=al,
        without_aliases=runs["without"][1],
        calibration=cal,
        results=runs["with"][0],
        extra={"seed": 3},
    )
    doc = json.loads(files.json.read_text())  # strict JSON: no NaN anywhere
    b = doc["identification"]
    assert set(b["fnir_at_fpir"]) == {"0.01", "0.001", "0.00017", "0.0001"}
    for key in (
        "default_threshold",
        "fpir_at_default_threshold",
        "fnir_at_default_threshold",
        "mated_searches",
        "nonmated_searches",
    ):
        assert key in b
    assert b["default_threshold"] == 0.6
    assert b["mated_searches"] + b["nonmated_searches"] + b["excluded_searches"] + 100 == len(ids)
    assert b["aliases"]["applied"] is True and b["aliases"]["pairs"] == [["N0001", "N0002", "same"]]
    assert set(b["without_aliases"]["fnir_at_fpir"]) == set(b["fnir_at_fpir"])
    assert len(b["top_nonmated"]) == 20 and b["top_nonmated"][0]["probe"].endswith(".jpg")
    scores = [h["score"] for h in b["top_nonmated"]]
    assert scores == sorted(scores, reverse=True)
    assert b["smallest_resolvable_fpir"] == pytest.approx(1 / b["nonmated_searches"])
    assert "fpir_from_fmr" in b["fnir_at_fpir_detail"]["0.01"]
    assert set(b["cohorts"]["default"]["fpir"]) == {"odd", "even"}
    assert b["calibration"][0]["target_fpir"] == 0.01
    md = files.markdown.read_text()
    assert "Without aliases" in md and "Calibration" in md and "id_det.png" in md
    assert [p.name for p in files.plots] == ["id_det.png", "id_scores.png"]


def test_json_writes_null_for_nan_and_missing_default(
    tmp_path: Path, population: tuple[list[str], np.ndarray]
) -> None:
    ids, x = population
    results = search(build_open_set(ids, watchlist_size=1, seed=0), CosineScorer(x))
    assert np.isnan(results.margin).all()  # N = 1: no second-best identity
    doc = identification_json(evaluate_identification(results), model="m", detector="d", paths=ids)
    b = json.loads(write_json(tmp_path / "a" / "b.json", doc).read_text())["identification"]
    assert b["top_nonmated"][0]["margin"] is None and b["default_threshold"] is None
    assert b["aliases"] == {"applied": False, "source": None, "pairs": []}
    v = verification_json(verification_result(), model="m", detector="d")
    assert json.loads(write_json(tmp_path / "v.json", v).read_text())["model"] == "m"
