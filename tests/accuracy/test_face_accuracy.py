"""Accuracy gates of the default face pipeline on the shared LFW (slow: `make test-slow`).

These run the product's own `vigil eval` commands on all of ../shared/data/lfw and compare the
report against the gates in face_targets.json. CI runs the bounded version in
tests/integration/test_eval_cli.py; these take tens of minutes on 2 cores the first time (the
templates are cached in ~/.cache/vigil/eval afterwards).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.models]
TARGETS = json.loads((Path(__file__).with_name("face_targets.json")).read_text())


def _vigil(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "vigil", *args],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=7200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_verification_accuracy(lfw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "verification.json"
    _vigil(
        "eval",
        "verification",
        "--lfw-dir",
        str(lfw_dir),
        "--pairs",
        str(lfw_dir.parent / "pairs_shared.tsv"),
        "--out",
        str(out),
    )
    doc = json.loads(out.read_text())
    assert doc["verification"]["accuracy"] >= TARGETS["verification_accuracy_min"]


def test_open_set_identification(lfw_dir: Path, tmp_path: Path) -> None:
    """FNIR at FPIR averaged over three random watchlists (the reference protocol's choice)."""
    fnir: dict[str, list[float]] = {"0.01": [], "0.001": []}
    for seed in (0, 1, 2):
        out = tmp_path / f"identification-{seed}.json"
        _vigil(
            "eval",
            "identification",
            "--lfw-dir",
            str(lfw_dir),
            "--watchlist-size",
            str(TARGETS["identification_watchlist_size"]),
            "--images-per-identity",
            str(TARGETS["identification_images_per_identity"]),
            "--seed",
            str(seed),
            "--out",
            str(out),
        )
        ident = json.loads(out.read_text())["identification"]
        for key, values in fnir.items():
            values.append(ident["fnir_at_fpir"][key])
        for cal in ident["calibration"]:
            ratio = cal["realised_over_target"]
            assert TARGETS["calibration_realised_over_target_min"] <= ratio, cal
            assert ratio <= TARGETS["calibration_realised_over_target_max"], cal
    assert sum(fnir["0.01"]) / 3 <= TARGETS["fnir_at_fpir_0.01_max"], fnir
    assert sum(fnir["0.001"]) / 3 <= TARGETS["fnir_at_fpir_0.001_max"], fnir
