from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config import load_config
from vigil.config.writer import set_values, write_calibration_to_config
from vigil.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_calibration_written_with_comments_kept(tmp_path: Path) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text((REPO / "vigil.example.yaml").read_text())
    write_calibration_to_config(
        cfg,
        threshold=0.512345678,
        target_fpir=1e-3,
        watchlist_size=1000,
        expected_tpir=0.9,
        calibration_file=Path("calibration/f.json"),
    )
    text = cfg.read_text()
    assert "# Vigil configuration" in text and "rewrite it with" in text
    loaded = load_config(cfg)
    ident = loaded.faces.identification
    assert ident.threshold == pytest.approx(0.512346)
    assert ident.calibrated_fpir == 1e-3 and ident.calibrated_watchlist_size == 1000
    assert ident.calibration_file == (tmp_path / "calibration" / "f.json").resolve()


def test_invalid_update_is_refused_and_file_untouched(tmp_path: Path) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("api:\n  port: 8080  # keep me\n")
    before = cfg.read_text()
    with pytest.raises(ConfigError):
        set_values(cfg, {("api", "port"): 70000})
    assert cfg.read_text() == before
    with pytest.raises(ConfigError, match="does not exist"):
        set_values(tmp_path / "missing.yaml", {("api", "port"): 1})


def test_cameras_add_and_remove_through_the_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("# my cameras\ncameras: []\n")

    def vigil(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vigil", "cameras", *args, str(cfg)]
            if args[0] != "remove"
            else [sys.executable, "-m", "vigil", "cameras", "remove", str(cfg), *args[1:]],
            capture_output=True,
            text=True,
            check=False,
        )

    ok = vigil(
        "add",
        "--id",
        "gate-1",
        "--url",
        "rtsp://${U}:${P}@10.0.0.5/s",
        "--analytics",
        "faces",
        "--zone",
        "central",
    )
    assert ok.returncode == 0, ok.stderr
    dup = vigil("add", "--id", "gate-1", "--url", "rtsp://10.0.0.6/s")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    clear = vigil("add", "--id", "gate-2", "--url", "rtsp://admin:hunter2@10.0.0.7/s")
    assert clear.returncode == 2 and "password in clear" in clear.stderr
    assert "hunter2" not in cfg.read_text()
    bad = vigil("add", "--id", "Bad Id", "--url", "rtsp://10.0.0.8/s")
    assert bad.returncode == 2
    text = cfg.read_text()
    assert "# my cameras" in text and "gate-1" in text and "Bad Id" not in text
    cams = load_config(cfg, environ={"U": "u", "P": "p"}).cameras
    assert [c.id for c in cams] == ["gate-1"] and cams[0].location.zone == "central"
    assert vigil("remove", "gate-1").returncode == 0
    assert vigil("remove", "gate-1").returncode == 2
    assert load_config(cfg, environ={}).cameras == []
