"""`vigil eval` and `vigil calibrate` end to end on a small real subset of LFW (bounded for CI).

The full-data accuracy gates are in tests/accuracy/ and marked slow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.config.settings import FacesConfig
from vigil.eval.faces import ModelChoice
from vigil.identification.calibration import FalseAlertModel
from vigil.storage import Database, Repository

pytestmark = pytest.mark.models
PEOPLE = 24


@pytest.fixture(scope="module")
def subset(lfw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """24 people with >= 3 images and 12 people with one image, linked into LFW layout."""
    root = tmp_path_factory.mktemp("lfw-subset")
    folders = sorted(d for d in lfw_dir.iterdir() if d.is_dir())
    multi = [d for d in folders if len(list(d.glob("*.jpg"))) >= 3][:PEOPLE]
    single = [d for d in folders if len(list(d.glob("*.jpg"))) == 1][:12]
    for d in multi + single:
        (root / d.name).mkdir()
        for f in sorted(d.glob("*.jpg"))[:4]:
            (root / d.name / f.name).symlink_to(f)
    rows = ["name1\timage1\tname2\timage2\tsame\tfold"]
    for k, d in enumerate(multi):
        nums = [int(f.stem.rsplit("_", 1)[1]) for f in sorted((root / d.name).glob("*.jpg"))]
        other = multi[(k + 1) % len(multi)]
        other_num = int(sorted((root / other.name).glob("*.jpg"))[0].stem.rsplit("_", 1)[1])
        rows.append(f"{d.name}\t{nums[0]}\t{d.name}\t{nums[1]}\t1\t{k % 10}")
        rows.append(f"{d.name}\t{nums[0]}\t{other.name}\t{other_num}\t0\t{k % 10}")
    pairs = root.parent / "pairs.tsv"
    pairs.write_text("\n".join(rows) + "\n")
    return root, pairs


def _vigil(*args: str, env_cache: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "VIGIL_EVAL_CACHE": str(env_cache)}
    return subprocess.run(
        [sys.executable, "-m", "vigil", *args],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )


def test_verification_report(subset: tuple[Path, Path], tmp_path: Path) -> None:
    root, pairs = subset
    out = tmp_path / "ver.json"
    proc = _vigil(
        "eval",
        "verification",
        "--lfw-dir",
        str(root),
        "--pairs",
        str(pairs),
        "--out",
        str(out),
        env_cache=tmp_path / "cache",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["model"] == ModelChoice.from_config(FacesConfig()).name
    assert 0.9 <= doc["verification"]["accuracy"] <= 1.0
    assert set(doc["verification"]["tar_at_far"]) == {"0.01", "0.001", "0.0001"}
    assert out.with_suffix(".md").is_file()
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())


def test_identification_report_and_calibration(subset: tuple[Path, Path], tmp_path: Path) -> None:
    root, _ = subset
    out = tmp_path / "id.json"
    names = tmp_path / "names.txt"
    folders = sorted(p.name for p in root.iterdir())
    multi = [f for f in folders if len(list((root / f).iterdir())) >= 3]
    names.write_text("\n".join(multi[:10]) + "\n")
    cohorts = tmp_path / "cohorts.tsv"
    cohorts.write_text("".join(f"{n}\t{'A' if i % 2 else 'B'}\n" for i, n in enumerate(folders)))
    proc = _vigil(
        "eval",
        "identification",
        "--lfw-dir",
        str(root),
        "--watchlist-names",
        str(names),
        "--threshold",
        "0.4",
        "--cohorts",
        str(cohorts),
        "--out",
        str(out),
        env_cache=tmp_path / "cache",
    )
    assert proc.returncode == 0, proc.stderr
    ident = json.loads(out.read_text())["identification"]
    assert ident["default_threshold"] == 0.4
    assert ident["mated_searches"] > 0 and ident["nonmated_searches"] > 0
    assert set(ident["fnir_at_fpir"]) == {"0.01", "0.001", "0.00017", "0.0001"}

    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("faces:\n  identification:\n    threshold: 0.45  # before calibration\n")
    proc = _vigil(
        "calibrate",
        "--lfw-dir",
        str(root),
        "--target-fpir",
        "0.1",
        "--watchlist-size",
        "10",
        "--config",
        str(cfg),
        env_cache=tmp_path / "cache",
    )
    assert proc.returncode == 0, proc.stderr
    text = cfg.read_text()
    assert "calibrated_fpir: 0.1" in text and "# before calibration" in text
    assert (tmp_path / "calibration" / "faces-N10.json").is_file()
    # the written threshold keeps the displayed bound within the target (issue 22)
    model = FalseAlertModel.from_file(tmp_path / "calibration" / "faces-N10.json")
    assert model.threshold is not None and model.fpir(model.threshold, 10).upper <= 0.1
    written = json.loads((tmp_path / "calibration" / "faces-N10.json").read_text())
    assert written["validation"]["holds"] and written["forced_reason"] is None
    assert [c["templates_per_person"] for c in written["person_curves"]] == [2, 3]
    # The change is in the audit chain of the database that config names (data_dir: var).
    db = Database(f"sqlite:///{tmp_path / 'var' / 'vigil.db'}")
    (entry,) = Repository(db).audit_entries()
    db.dispose()
    assert (entry.action, entry.actor) == ("setting.change", "cli")
    assert dict(entry.details)["faces.identification.calibrated_fpir"] == "(absent) -> 0.1"


def test_bad_folder_is_a_clear_error(tmp_path: Path) -> None:
    proc = _vigil(
        "eval",
        "verification",
        "--lfw-dir",
        str(tmp_path / "nope"),
        "--pairs",
        str(tmp_path / "p.tsv"),
        env_cache=tmp_path / "cache",
    )
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr


def test_far_check_on_held_out_people_and_on_local_data(
    subset: tuple[Path, Path], tmp_path: Path
) -> None:
    root, _ = subset
    out = tmp_path / "far.json"
    args = ["eval", "far", "--lfw-dir", str(root), "--watchlist-size", "8", "--threshold", "0.4"]
    proc = _vigil(*args, "--splits", "1", "--out", str(out), env_cache=root.parent / "far-cache")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    (check,) = doc["checks"]
    shipped = check["rows"][0]
    assert shipped["threshold"] == 0.4 and shipped["realised_n"] == check["nonmated_searches"]
    assert shipped["predicted_point"] <= shipped["predicted_upper95"]
    single = shipped["realised"] <= shipped["predicted_upper95"]
    averaged = shipped["realised_averaged"] <= shipped["predicted_upper95"]
    assert (shipped["holds_single_draw"], shipped["holds_averaged"]) == (single, averaged)
    assert shipped["holds"] == (single and averaged)  # judged against both
    assert doc["bound_holds_in_every_check"] == all(r["holds"] for r in check["rows"])
    assert (
        out.with_suffix(".png").stat().st_size > 0
        and "realised" in out.with_suffix(".md").read_text()
    )
    # the local check: this data against the calibration Vigil ships, nothing refitted
    local = tmp_path / "local.json"
    from vigil.config.settings import FacesConfig

    shipped_file = FacesConfig().identification.calibration_file
    assert shipped_file is not None
    proc = _vigil(*args, "--calibration", str(shipped_file), "--out", str(local),
                  env_cache=root.parent / "far-cache")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(local.read_text())["checks"][0]["rows"]
    # the packaged curve (5.9 million non-mated comparisons), not a refit on the small subset
    assert row["calibration_comparisons"] > 5_000_000 and row["label"] == "configured threshold"


@pytest.mark.parametrize(
    "bad",
    [
        ["eval", "far", "--lfw-dir", "{root}", "--splits", "0"],
        ["eval", "far", "--lfw-dir", "{root}", "--calibration", "{tmp}/missing.json"],
        ["calibrate", "--lfw-dir", "{root}", "--target-fpir", "0.1", "--watchlist-size", "10",
         "--force"],
    ],
)  # fmt: skip
def test_far_bad_input_is_a_clear_error(
    subset: tuple[Path, Path], tmp_path: Path, bad: list[str]
) -> None:
    root, _ = subset
    args = [a.format(root=root, tmp=tmp_path) for a in bad]
    proc = _vigil(*args, env_cache=root.parent / "far-cache")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
