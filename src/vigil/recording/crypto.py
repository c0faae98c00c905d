"""Encryption of segments at rest: AES-256-GCM, one random nonce per segment.

A sealed segment is ``MAGIC || nonce (12 bytes) || ciphertext+tag``; the segment id is the
associated data, so a file moved under another index row fails to open instead of playing as the
wrong footage. AES-GCM authenticates as it decrypts: a flipped byte is an error, never silently
corrupt video. Segments are sealed whole in memory (a 10 s segment is a few MB); streaming
encryption would bound memory further at the cost of a chunked format of our own.

The key file holds 32 bytes: raw, or as 64 hex digits, or as base64 text. It must lie outside
the data directory (the config refuses a key inside it): disks, backups and copies of the data
directory then carry only ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigil.errors import ConfigError, ValidationError

MAGIC = b"VGLSEG1\x00"
NONCE = 12
KEY_BYTES = 32


def load_key(path: Path) -> bytes:
    """Read a 32-byte key from ``path`` (raw, hex or base64); :class:`ConfigError` otherwise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read recording.encryption_key_file {path}: {exc}") from None
    if len(raw) == KEY_BYTES:
        return raw
    text = raw.strip()
    for decode in (binascii.unhexlify, base64.b64decode):
        try:
            key = decode(text)
        except (binascii.Error, ValueError):
            continue
        if len(key) == KEY_BYTES:
            return key
    raise ConfigError(
        f"recording.encryption_key_file {path} must hold 32 bytes (raw, 64 hex digits or base64)",
        hint="make one with: head -c 32 /dev/urandom | base64 > KEYFILE (outside data_dir)",
    )


def seal(key: bytes, data: bytes, segment_id: str) -> bytes:
    """Encrypt one segment's bytes, bound to its id."""
    nonce = os.urandom(NONCE)
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, data, segment_id.encode())


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def unseal(key: bytes, blob: bytes, segment_id: str) -> bytes:
    """Decrypt a sealed segment; :class:`ValidationError` when it is not one, or was altered."""
    if not is_sealed(blob) or len(blob) < len(MAGIC) + NONCE + 16:
        raise ValidationError(f"segment {segment_id} is not an encrypted Vigil segment")
    nonce = blob[len(MAGIC) : len(MAGIC) + NONCE]
    try:
        return AESGCM(key).decrypt(nonce, blob[len(MAGIC) + NONCE :], segment_id.encode())
    except InvalidTag:
        raise ValidationError(
            f"segment {segment_id} fails authentication (altered, or another key)"
        ) from None
