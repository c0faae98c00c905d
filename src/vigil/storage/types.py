"""Column types shared by both engines: UTC timestamps and float32 vectors stored as bytes.

SQLite has no timestamp type and PostgreSQL's ``timestamptz`` returns aware values, so
:class:`UtcDateTime` normalises both ways: it refuses naive datetimes on the way in (a naive time is
a bug upstream, not something to guess a zone for), stores UTC, and always hands back aware UTC
values. On SQLite the stored text is fixed-width ISO, so ordering by the column orders by time.

Embeddings and templates are biometric data. They are stored as raw little-endian float32 bytes
(:func:`pack_vector` / :func:`unpack_vector`), never as JSON or text, so that the purge rules can
delete exactly one column of one row and nothing else copies them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from vigil.errors import ValidationError

Float32 = npt.NDArray[np.float32]


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC on every engine."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValidationError(f"timestamps must be timezone-aware, got naive {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pack_vector(vector: npt.ArrayLike) -> bytes:
    """Encode a 1-D vector as little-endian float32 bytes (finite values only)."""
    arr = np.asarray(vector, dtype="<f4").reshape(-1)
    if arr.size == 0 or not bool(np.isfinite(arr).all()):
        raise ValidationError(f"vector must be non-empty and finite, got shape {arr.shape}")
    return arr.tobytes()


def unpack_vector(data: bytes, dim: int | None = None) -> Float32:
    """Decode bytes written by :func:`pack_vector`; checks the dimension when ``dim`` is given."""
    if len(data) % 4:
        raise ValidationError(f"vector bytes must be a multiple of 4, got {len(data)}")
    arr = np.frombuffer(data, dtype="<f4").astype(np.float32)
    if dim is not None and arr.size != dim:
        raise ValidationError(f"vector must have {dim} values, got {arr.size}")
    return arr
