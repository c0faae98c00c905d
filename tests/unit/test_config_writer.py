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
