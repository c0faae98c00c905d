"""The evidence signing key: Ed25519, kept outside the data directory, created once with 0600.

Why outside the data directory: the data directory is what backups copy and what an
administrator hands to a support engineer; a key inside it would travel with the evidence it
signs, and anyone holding both could forge a bundle. :func:`load_or_create_key` therefore refuses
a key path inside ``data_dir`` (after resolving links), creates a missing key with mode 0600
(exclusive create, so two processes never write two keys), and refuses an existing key file that
others can read. The public key (``vigil evidence key``) is what a court, the defence or an
oversight body needs to check a bundle; its fingerprint is the SHA-256 of the raw 32 bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vigil.errors import ConfigError, ValidationError


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def load_or_create_key(path: Path, data_dir: Path) -> Ed25519PrivateKey:
    """The signing key at ``path`` (PEM, PKCS#8), created on first use (see module doc).

    Raises:
        ConfigError: the path is inside ``data_dir``, or an existing key is readable by others
            or is not an Ed25519 key.
    """
    path = path.expanduser()
    if _inside(path, data_dir):
        raise ConfigError(
            f"the evidence signing key {path} is inside the data directory {data_dir}",
            hint="set governance.evidence.signing_key_file to a path outside system.data_dir",
        )
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_or_create_key(path, data_dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        return key
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"the evidence signing key {path} is readable by others (mode {mode:o})",
            hint=f"chmod 600 {path}",
        )
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return loaded


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex (what the manifest names and ``vigil evidence key``
    prints)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A public key from PEM (as ``vigil evidence key`` prints it)."""
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise ValidationError(f"not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError("the public key is not an Ed25519 key")
    return key
