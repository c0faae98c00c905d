"""The drift watch's sequential test: stated false-alarm rate and detection delay, by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.governance import drift
from vigil.governance.drift import Cusum, simulate


@pytest.mark.parametrize("p0", [1e-3, 1e-2])
def test_five_times_the_promised_rate_is_flagged_within_the_stated_searches(p0: float) -> None:
    flags = simulate(p0, 5 * p0, runs=1000, horizon=math.inf, seed=1)
    within = float(np.mean(flags <= drift.DETECT_WITHIN / p0))
    assert within >= drift.DETECT_POWER, within


@pytest.mark.parametrize("p0", [1e-3, 1e-2])
def test_the_promised_rate_is_not_flagged_more_often_than_stated(p0: float) -> None:
    flags = simulate(p0, p0, runs=1000, horizon=drift.HORIZON / p0, seed=2)
    assert float(np.mean(np.isfinite(flags))) <= drift.ALPHA


def test_a_rate_below_the_promise_is_flagged_less_than_one_at_it() -> None:
    at = np.isfinite(simulate(1e-3, 1e-3, 1000, drift.HORIZON / 1e-3, seed=3)).mean()
    below = np.isfinite(simulate(1e-3, 0.5e-3, 1000, drift.HORIZON / 1e-3, seed=3)).mean()
    assert below <= at


@settings(max_examples=50, deadline=None)
@given(p0=st.floats(1e-6, 0.3), stat=st.floats(0, 20), n=st.integers(0, 10**6))
def test_statistic_stays_non_negative_and_rises_only_on_false_alerts(
    p0: float, stat: float, n: int
) -> None:
    c = Cusum(p0)
    after = c.after_searches(stat, n)
    assert 0 <= after <= stat
    assert c.after_false_alert(stat) > stat


@pytest.mark.parametrize("p0", [0.0, -1e-3, 0.5, 1.0])
def test_impossible_promised_rates_are_refused(p0: float) -> None:
    with pytest.raises(ValidationError):
        Cusum(p0)
