"""False-alert rates as exact upper bounds: the bound, its text, the curve and per-person curves."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from vigil.errors import ValidationError
from vigil.identification.calibration import (
    FalseAlertModel,
    FmrCurve,
    RateEstimate,
    curve_from_scores,
    two_sided_interval,
    upper_bound,
)


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 10**7), frac=st.floats(0, 1))
def test_upper_bound_is_the_exact_one_sided_95_bound(n: int, frac: float) -> None:
    k = int(frac * n)
    u = upper_bound(k, n)
    assert k / n <= u <= 1
    if k < n:  # at the bound, seeing k or fewer has probability 5%
        assert binom.cdf(k, n, u) == pytest.approx(0.05, rel=1e-3)


@pytest.mark.parametrize(("k", "n"), [(-1, 10), (11, 10), (0, 0)])
def test_upper_bound_refuses_impossible_counts(k: int, n: int) -> None:
    with pytest.raises(ValidationError):
        upper_bound(k, n)


def test_two_sided_interval_contains_the_point() -> None:
    lo, hi = two_sided_interval(4, 11_953)
    assert lo < 4 / 11_953 < hi


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        (RateEstimate(2.4e-4, 5.123e-4, 12, 10**7), "5.1e-4 (1 in 2,000) at most"),
        (RateEstimate(0.0, 2.9957e-7, 0, 10**7), "below what the calibration data can show"),
        (RateEstimate(0.0123, 0.0456, 5, 1000), "0.046 (1 in 22) at most"),
    ],
)
def test_text_has_two_significant_digits_at_most(rate: RateEstimate, expected: str) -> None:
    text = rate.text()
    assert expected in text
    if rate.count == 0:
        assert "< 1 in 3,300,000" in text


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), size=st.integers(2, 3000), s=st.floats(-1, 1))
def test_the_curve_never_counts_fewer_than_the_scores_hold(seed: int, size: int, s: float) -> None:
    scores = np.random.default_rng(seed).normal(0, 0.3, size).astype(np.float32)
    curve = curve_from_scores(scores, points=40)
    assert curve.count_at(s) >= int((scores.astype(np.float64) >= s).sum())
    assert curve.count_at(float(scores.max()) + 1e-5) == 0  # above everything: none seen


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(-1, 1, allow_nan=False, width=32), min_size=2, max_size=400),
    tail=st.integers(0, 50),
    t=st.floats(-1.5, 1.5, allow_nan=False),
)
def test_the_exact_tail_never_understates_at_any_threshold(
    scores: list[float], tail: int, t: float
) -> None:
    s = np.asarray(scores, np.float64)
    curve = curve_from_scores(s, points=20, exact_tail=tail)
    assert curve.count_at(t) >= int((s >= t).sum())


def _tail_floor(s: np.ndarray, tail: int) -> float:
    """The lowest score of the exact tail, on the file's 1e-6 lattice."""
    return float(np.round(np.floor(np.sort(s)[-min(tail, len(s))] * 1e6) / 1e6, 6)) + 1e-6


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(st.integers(-1_000_000, 1_000_000), min_size=2, max_size=400),
    tail=st.integers(1, 60),
    at=st.integers(-1_000_010, 1_000_010),
)
def test_the_count_is_exact_at_every_lattice_threshold_in_the_tail(
    ticks: list[int], tail: int, at: int
) -> None:
    s = np.asarray(ticks, np.float64) / 1e6  # scores the file's 1e-6 grid can hold exactly
    curve = curve_from_scores(s, points=20, exact_tail=tail)
    t = at / 1e6
    if t >= _tail_floor(s, tail):
        assert curve.count_at(t) == int((s >= t).sum())
    top = np.sort(s)[-min(tail, len(s)) :]  # and at each tail score itself
    assert curve.count_at(float(top[at % len(top)])) == int((s >= top[at % len(top)]).sum())


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=2, max_size=400),
    t=st.floats(0, 1.1, allow_nan=False),
)
def test_in_the_tail_only_the_thresholds_own_1e6_step_is_over_counted(
    scores: list[float], t: float
) -> None:
    s = np.asarray(scores, np.float64)
    curve = curve_from_scores(s, points=20, exact_tail=len(s))
    step = float(np.floor(t * 1e6) / 1e6) - 1e-6  # a little below the step, for ulp effects
    exact, same_step = int((s >= t).sum()), int(((s >= step) & (s < t)).sum())
    assert exact <= curve.count_at(t) <= exact + same_step


def test_the_exact_tail_reads_the_count_where_the_quantile_grid_over_counts() -> None:
    # thresholds midway between consecutive scores among the 200 highest of 100,000: the exact
    # tail reads each count exactly; the quantile grid alone (exact_tail=0) reads the count at
    # the quantile step below, too high at some of them
    s = np.random.default_rng(7).normal(0, 0.1, 100_000)
    top = np.sort(s)[-200:]
    mids = (top[:-1] + top[1:]) / 2
    exact = [int((s >= t).sum()) for t in mids]
    assert [curve_from_scores(s).count_at(float(t)) for t in mids] == exact
    coarse = [curve_from_scores(s, exact_tail=0).count_at(float(t)) for t in mids]
    assert all(c >= e for c, e in zip(coarse, exact, strict=True))
    assert any(c > e for c, e in zip(coarse, exact, strict=True))


def test_multi_photo_watchlists_use_the_measured_per_person_curve() -> None:
    one = FmrCurve(np.array([0.0, 0.5]), np.array([1000, 10]), 10_000, 1)
    two = FmrCurve(np.array([0.0, 0.5]), np.array([1500, 15]), 10_000, 2)
    m = FalseAlertModel((two, one))
    assert m.fpir(0.6, 100, templates_per_person=2).count == 15  # measured per person
    # three photos each: no measured curve covers it, every template counts (union bound)
    union = m.fpir(0.6, 100, templates_per_person=3)
    assert union.upper == pytest.approx(min(1.0, 300 * upper_bound(10, 10_000)))
    assert m.max_watchlist_size(0.6, 0.1, 3) * 3 <= m.max_watchlist_size(0.6, 0.1, 1)
    with pytest.raises(ValidationError):
        FalseAlertModel((two,))  # the one-photo curve is required


def test_threshold_for_a_target_uses_the_bound() -> None:
    scores = np.linspace(0, 1, 11)
    counts = np.round(np.geomspace(1.0, 1e-6, 11) * 1e7)
    m = FalseAlertModel.from_counts(scores, counts, 10_000_000)
    t = m.threshold_for(1e-3, 100)
    assert m.fpir(t, 100).upper <= 1e-3
    with pytest.raises(ValidationError, match="cannot bound"):
        m.threshold_for(1e-9, 1000)


def test_a_spooled_face_decision_keeps_its_bound_point_and_counts() -> None:
    """The outbox writes decisions to disk while the database is away: nothing may be lost."""
    from datetime import UTC, datetime

    from vigil.identification.live import FaceHit
    from vigil.system.decisions import FaceRecord, decode, encode

    rate = RateEstimate(5.7e-4, 0.0011, 6, 10_451_452)
    hit = FaceHit("d1", "s1", "w1", "t1", None, 0.6, rate, 0.1, 3)
    at = datetime(2026, 12, 4, tzinfo=UTC)
    record = FaceRecord("k1", "cam-1", at, at, 0.8, b"\xff\xd8", (hit,))
    back = decode(encode(record))
    assert isinstance(back, FaceRecord)
    assert back.hits[0].false_alert == rate and back.hits[0].false_alert_rate == 0.0011
