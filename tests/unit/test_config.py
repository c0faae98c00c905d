from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError as PydanticValidationError

from vigil.config import ConfigFileError, load_config, parse_config
from vigil.config.settings import VigilConfig

REPO = Path(__file__).resolve().parents[2]


def test_example_config_is_valid() -> None:
    config = load_config(REPO / "vigil.example.yaml", environ={})
    assert config.faces.detector.backend == "yunet"
    assert config.system.data_dir.is_absolute()


def test_errors_name_line_and_field() -> None:
    text = "api:\n  port: 99999\ncameras:\n  - id: ok\n    url: x\n    colour: red\n"
    with pytest.raises(ConfigFileError) as info:
        parse_config(text, environ={})
    issues = {(i.line, i.field) for i in info.value.issues}
    assert (2, "api.port") in issues
    assert (6, "cameras.0.colour") in issues


def test_discriminated_union_reports_yaml_line() -> None:
    text = "faces:\n  detector:\n    backend: yunet\n    nms_iou: 5\n"
    with pytest.raises(ConfigFileError) as info:
        parse_config(text, environ={})
    assert info.value.issues[0].line == 4


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("api: [1, 2", "not valid YAML"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("faces:\n  detector:\n    backend: nonsense\n", "faces.detector"),
        ("cameras:\n  - {id: a, url: x}\n  - {id: a, url: y}\n", "duplicate camera id"),
        ("cameras:\n  - {id: a, url: '${NOT_SET_ANYWHERE}'}\n", "NOT_SET_ANYWHERE is not set"),
        ("faces:\n  embedder: {backend: fusion, fusion_members: [sface]}\n", "two fusion_members"),
        ("cameras:\n  - {id: a, url: 'rtsp://u:my pw@h/s'}\n", "percent-encode it"),
    ],
)
def test_bad_configs(text: str, fragment: str) -> None:
    with pytest.raises(ConfigFileError, match=fragment):
        parse_config(text, environ={})


def test_env_interpolation_and_overrides() -> None:
    text = "cameras:\n  - id: gate\n    url: 'rtsp://${CAM_USER}:${CAM_PASS}@10.0.0.5/s'\n"
    env = {
        "CAM_USER": "admin",
        "CAM_PASS": "hunter22",
        "VIGIL__API__PORT": "9090",
        "VIGIL__API__SECRET_KEY": "s3cr3t-key",
    }
    cfg = parse_config(text, environ=env)
    assert cfg.cameras[0].url.get_secret_value() == "rtsp://admin:hunter22@10.0.0.5/s"
    assert "hunter22" not in repr(cfg) and "hunter22" not in str(cfg.cameras[0])
    assert cfg.api.port == 9090
    assert cfg.api.secret_key is not None and cfg.api.secret_key.get_secret_value() == "s3cr3t-key"


def test_missing_and_oversize_files(tmp_path: Path) -> None:
    from vigil.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2_000_000)
    with pytest.raises(ConfigError, match="larger than"):
        load_config(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError):
        load_config(binary)


def test_cli_config_check_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("system:\n  log_level: LOUD\napi:\n  port: 0\n")
    proc = subprocess.run(
        [sys.executable, "-m", "vigil", "config", "check", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{bad}:2: system.log_level" in proc.stderr
    assert f"{bad}:4: api.port" in proc.stderr
    good = subprocess.run(
        [sys.executable, "-m", "vigil", "config", "check", str(REPO / "vigil.example.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout


def test_cluster_mode_refuses_sqlite_with_the_fix() -> None:
    with pytest.raises(PydanticValidationError, match=r"cluster mode .* needs PostgreSQL"):
        VigilConfig.model_validate({"cluster": {"engine": "ray"}})
    ok = VigilConfig.model_validate(
        {"cluster": {"engine": "ray"}, "storage": {"url": "postgresql+psycopg://vigil@db/vigil"}}
    )
    assert ok.cluster.engine == "ray" and VigilConfig().cluster.engine == "embedded"
