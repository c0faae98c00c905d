"""Column types: UTC timestamps and float32 vector bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sqlalchemy.dialects import postgresql, sqlite

from vigil.errors import ValidationError
from vigil.storage.types import UtcDateTime, pack_vector, unpack_vector


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        UtcDateTime().process_bind_param(datetime(2025, 1, 1), sqlite.dialect())


def test_timestamps_come_back_as_utc() -> None:
    col = UtcDateTime()
    local = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    stored = col.process_bind_param(local, sqlite.dialect())
    assert stored == datetime(2025, 1, 1, 10) and stored.tzinfo is None
    back = col.process_result_value(stored, sqlite.dialect())
    assert back == local and back is not None and back.tzinfo is UTC
    assert col.process_bind_param(local, postgresql.dialect()) == local


@given(arrays(np.float32, st.integers(1, 600), elements=st.floats(-1e6, 1e6, width=32)))
def test_vectors_round_trip_bit_exact(vec: np.ndarray) -> None:
    data = pack_vector(vec)
    assert len(data) == 4 * vec.size
    np.testing.assert_array_equal(unpack_vector(data, vec.size), vec)


def test_bad_vectors_are_refused() -> None:
    with pytest.raises(ValidationError):
        pack_vector(np.array([np.nan], np.float32))
    with pytest.raises(ValidationError):
        unpack_vector(b"\x00" * 8, dim=3)
    with pytest.raises(ValidationError):
        unpack_vector(b"\x00" * 7)
