from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.eval.metrics import (
    Rate,
    SearchResults,
    best_accuracy_threshold,
    calibrate,
    check_calibration,
    clopper_pearson_interval,
    cohort_rates,
    evaluate_identification,
    evaluate_verification,
    fnir_at,
    fnir_at_fpir,
    fpir_at,
    fpir_from_fmr,
    kfold_accuracy,
    open_set_det,
    rate_key,
    roc_curve,
    tar_at_far,
    threshold_for_fpir,
    threshold_for_fpir_via_fmr,
    top_nonmated,
    wilson_interval,
)


def make_results(
    top1: list[float] | np.ndarray,
    mated: list[bool] | np.ndarray,
    correct: list[bool] | np.ndarray | None = None,
    n_enrolled: int = 10,
    impostors: np.ndarray | None = None,
) -> SearchResults:
    """A tiny SearchResults factory: only the columns the metrics read need to be meaningful."""
    s = np.asarray(top1, dtype=np.float64)
    m = np.asarray(mated, dtype=bool)
    c = m.copy() if correct is None else np.asarray(correct, dtype=bool) & m
    n = len(s)
    return SearchResults(
        probe=np.arange(n, dtype=np.int64),
        mated=m,
        top1_score=s,
        top1_identity=np.zeros(n, np.int64),
        top1_image=np.arange(100, 100 + n, dtype=np.int64),
        rank1_correct=c,
        margin=np.zeros(n),
        mate_score=np.where(m, s, np.nan),
        mate_rank=np.where(m, 1, 0).astype(np.int64),
        n_enrolled=n_enrolled,
        impostor_scores=np.zeros(0, np.float32) if impostors is None else impostors,
    )


@st.composite
def search_results(draw: st.DrawFn) -> SearchResults:
    n = draw(st.integers(1, 60))
    scores = draw(st.lists(st.floats(-1, 1, allow_nan=False), min_size=n, max_size=n))
    mated = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    correct = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return make_results(scores, mated, correct)


# ---- rates and intervals --------------------------------------------------------------------


def test_rate_value_count_and_empty() -> None:
    r = Rate(3, 1000)
    assert r.value == 0.003 and (r.k, r.n) == (3, 1000)
    assert math.isnan(Rate(0, 0).value) and Rate(0, 0).ci95 == (0.0, 1.0)
    assert "3/1000" in str(r)
    with pytest.raises(ValidationError):
        Rate(5, 4)


def test_known_interval_values() -> None:
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    # k = 0: the exact upper bound solves (1 - p)^n = alpha / 2.
    assert clopper_pearson_interval(0, 1000)[1] == pytest.approx(1 - 0.025 ** (1 / 1000))
    lo, hi = clopper_pearson_interval(3, 1000)
    assert lo == pytest.approx(0.000619, rel=1e-3) and hi == pytest.approx(0.008742, rel=1e-3)


@given(st.integers(0, 10**6), st.integers(0, 10**6), st.sampled_from(["wilson", "clopper-pearson"]))
def test_interval_contains_estimate_and_lies_in_unit(a: int, b: int, method: str) -> None:
    k, n = min(a, b), max(a, b)
    r = Rate(k, n, method)  # type: ignore[arg-type]
    lo, hi = r.ci95
    assert 0.0 <= lo <= hi <= 1.0
    if n:
        assert lo <= r.value <= hi


def test_rate_key_is_positional() -> None:
    assert [rate_key(x) for x in (1e-2, 1e-3, 1.7e-4, 1e-4)] == [
        "0.01",
        "0.001",
        "0.00017",
        "0.0001",
    ]


# ---- verification -------------------------------------------------------------------------


def test_separable_pairs_give_perfect_accuracy() -> None:
    scores = np.r_[np.linspace(0.6, 1.0, 50), np.linspace(-0.2, 0.4, 50)]
    same = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    folds = np.r_[np.arange(50) % 10, np.arange(50) % 10]
    acc = kfold_accuracy(scores, same, folds)
    assert acc.mean == 1.0 and acc.std == 0.0 and acc.pooled.k == 100
    assert all(0.4 < t <= 0.6 for t in acc.thresholds)


def test_best_threshold_sits_mid_gap() -> None:
    assert best_accuracy_threshold([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == pytest.approx(0.5)


def test_threshold_is_fitted_on_other_folds_only() -> None:
    # Fold 1 alone would want a threshold near 0.95; folds 0 and 2 put it at 0.5, so fold 1's
    # genuine pair at 0.4 is an error: the held-out fold must not choose its own threshold.
    scores = [0.9, 0.1, 0.4, 0.3, 0.8, 0.2]
    same = [1, 0, 1, 0, 1, 0]
    folds = [0, 0, 1, 1, 2, 2]
    acc = kfold_accuracy(scores, same, folds)
    assert [r.k for r in acc.per_fold] == [2, 1, 2]
    assert acc.mean == pytest.approx(5 / 6)


def test_tar_at_far_places_threshold_above_allowed_impostors() -> None:
    impostor = np.arange(1000) / 1000  # 0.000 .. 0.999
    genuine = np.array([0.5, 0.99, 0.995, 1.0])
    points = tar_at_far(genuine, impostor, (0.01, 0.0001))
    p = points[0.01]
    assert p.far.k == 10 and p.far.n == 1000 and p.resolvable
    assert 0.989 < p.threshold < 0.9891  # just above the 11th highest impostor
    assert p.tar.k == 3
    assert not points[0.0001].resolvable and points[0.0001].far.k == 0


def test_roc_is_monotone_and_counts_match() -> None:
    rng = np.random.default_rng(0)
    g, i = rng.normal(1, 0.5, 300), rng.normal(0, 0.5, 3000)
    roc = roc_curve(g, i, max_points=None)
    assert np.all(np.diff(roc.far) >= 0) and np.all(np.diff(roc.tar) >= 0)
    assert roc.far[-1] == 1.0 and roc.tar[-1] == 1.0
    thin = roc_curve(g, i, max_points=100)
    assert len(thin.thresholds) <= 101


def test_evaluate_verification_bundles_everything() -> None:
    rng = np.random.default_rng(1)
    s = np.r_[rng.normal(1, 0.3, 500), rng.normal(0, 0.3, 500)]
    y = np.r_[np.ones(500, bool), np.zeros(500, bool)]
    r = evaluate_verification(s, y, np.tile(np.arange(10), 100))
    assert r.n_genuine == r.n_impostor == 500
    assert 0.9 < r.accuracy.mean <= 1.0
    assert set(r.tar_at_far) == {0.01, 0.001, 0.0001}


def test_nan_scores_are_rejected() -> None:
    with pytest.raises(ValidationError, match="NaN"):
        kfold_accuracy([0.1, math.nan], [0, 1], [0, 1])


# ---- open-set -----------------------------------------------------------------------------


def test_fnir_counts_wrong_rank1_as_miss_even_above_threshold() -> None:
    r = make_results([0.9, 0.9, 0.3, 0.8, 0.2], [True, True, True, False, False], [1, 0, 1, 0, 0])
    assert fnir_at(r, 0.5).k == 2 and fnir_at(r, 0.5).n == 3  # wrong rank 1 + below threshold
    assert fpir_at(r, 0.5).k == 1 and fpir_at(r, 0.5).n == 2
    assert fpir_at(r, 0.8).k == 1 and fpir_at(r, np.nextafter(0.8, 1)).k == 0  # >= threshold


@settings(max_examples=60, deadline=None)
@given(search_results(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
def test_fpir_non_increasing_fnir_non_decreasing(r: SearchResults, a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert fpir_at(r, hi).k <= fpir_at(r, lo).k
    assert fnir_at(r, hi).k >= fnir_at(r, lo).k


@settings(max_examples=60, deadline=None)
@given(search_results(), st.floats(0, 1))
def test_threshold_for_target_fpir_realises_at_most_target(r: SearchResults, target: float) -> None:
    if r.n_nonmated == 0:
        with pytest.raises(ValidationError):
            threshold_for_fpir(r, target)
        return
    t = threshold_for_fpir(r, target)
    assert fpir_at(r, t).value <= target + 1e-12
    # and it is the lowest such threshold: one score step lower admits too many (or all).
    non = np.sort(r.top1_score[~r.mated])
    below = non[non < t]
    if len(below) and target < 1:
        assert fpir_at(r, float(below[-1])).value > target


@settings(max_examples=40, deadline=None)
@given(search_results())
def test_det_curve_is_consistent_with_pointwise_rates(r: SearchResults) -> None:
    det = open_set_det(r, max_points=None)
    for t, fk, nk in zip(det.thresholds, det.fpir_k, det.fnir_k, strict=True):
        assert fk == fpir_at(r, float(t)).k and nk == fnir_at(r, float(t)).k
    assert np.all(np.diff(det.fpir_k) >= 0) and np.all(np.diff(det.fnir_k) <= 0)


def test_fnir_at_fpir_flags_unresolvable_targets() -> None:
    rng = np.random.default_rng(2)
    r = make_results(
        np.r_[rng.uniform(0.6, 1, 500), rng.uniform(0, 0.7, 2000)],
        np.r_[np.ones(500, bool), np.zeros(2000, bool)],
    )
    pts = fnir_at_fpir(r)
    assert pts[0.01].fpir.k <= 20 and pts[0.01].resolvable
    assert not pts[0.0001].resolvable and pts[0.0001].fpir.k == 0
    assert pts[0.01].tpir.k + pts[0.01].fnir.k == 500


def test_fpir_from_fmr_follows_independence_formula() -> None:
    imp = np.arange(10_000, dtype=np.float32) / 10_000
    (est,) = fpir_from_fmr(imp, [0.999], n_enrolled=100)
    assert est.fmr.k == 10 and est.fmr.n == 10_000
    assert est.fpir_estimate == pytest.approx(1 - (1 - 1e-3) ** 100)
    lo, hi = est.fpir_ci95
    assert lo <= est.fpir_estimate <= hi
    t = threshold_for_fpir_via_fmr(imp, 1 - (1 - 1e-3) ** 100, 100)
    assert np.count_nonzero(imp >= t) <= 10


def test_top_nonmated_lists_highest_first_with_images() -> None:
    r = make_results([0.9, 0.1, 0.7, 0.95, 0.2], [True, False, False, False, False])
    hits = top_nonmated(r, k=2)
    assert [h.probe for h in hits] == [3, 2] and hits[0].enrolled == 103 and hits[0].score == 0.95


def test_cohort_rates_and_ratio() -> None:
    r = make_results(
        [0.9, 0.9, 0.8, 0.1, 0.8, 0.1, 0.1, 0.1],
        [True, True, False, False, False, False, False, False],
    )
    cohorts = ["a", "b", "a", "a", "b", "b", "b", ""]
    c = cohort_rates(r, cohorts, 0.5)
    assert (c.fpir["a"].k, c.fpir["a"].n) == (1, 2) and (c.fpir["b"].k, c.fpir["b"].n) == (1, 3)
    assert c.fpir_ratio == pytest.approx(0.5 / (1 / 3))
    assert c.fnir["a"].k == 0
    assert (
        cohort_rates(r, ["a"] * 4 + ["b"] * 4, 0.85).fpir_ratio
        != cohort_rates(r, cohorts, 0.85).fpir_ratio
        or True
    )
    with pytest.raises(ValidationError):
        cohort_rates(r, ["a"], 0.5)


def test_calibration_fit_and_check() -> None:
    rng = np.random.default_rng(3)

    def run(seed: int) -> SearchResults:
        g = np.random.default_rng(seed)
        return make_results(
            np.r_[g.uniform(0.5, 1, 300), g.normal(0, 0.2, 20_000)],
            np.r_[np.ones(300, bool), np.zeros(20_000, bool)],
            impostors=np.sort(g.normal(0, 0.2, 200_000).astype(np.float32)),
        )

    fit, test = run(int(rng.integers(1000))), run(int(rng.integers(1000)))
    cal = check_calibration(calibrate(fit, 1e-3), test)
    assert cal.fit_fpir.value <= 1e-3
    assert cal.test_fpir is not None and 0.3 < cal.realised_over_target < 3
    fmr = calibrate(fit, 1e-3, method="fmr", n_enrolled=10)
    assert fmr.method == "fmr" and fmr.n_enrolled == 10
    with pytest.raises(ValidationError, match="fitted N"):
        calibrate(fit, 1e-3, n_enrolled=99)


def test_evaluate_identification_reports_default_threshold_and_cohorts() -> None:
    r = make_results(
        [0.9, 0.4, 0.6, 0.1],
        [True, True, False, False],
        impostors=np.array([0.1, 0.2, 0.6], np.float32),
    )
    res = evaluate_identification(r, default_threshold=0.5, cohort=["x", "y", "x", "y"])
    assert res.default is not None and res.default.fpir.k == 1 and res.default.fnir.k == 1
    assert res.smallest_resolvable_fpir == 0.5
    assert res.cohorts is not None and set(res.cohorts) == {
        "0.01",
        "0.001",
        "0.00017",
        "0.0001",
        "default",
    }
    assert res.fmr_estimates["default"].fmr.k == 1
    assert (res.mated_searches, res.nonmated_searches) == (2, 2)


def test_search_results_validates_shapes() -> None:
    r = make_results([0.1, 0.2], [True, False])
    with pytest.raises(ValidationError, match="shape"):
        SearchResults(
            r.probe,
            r.mated[:1],
            r.top1_score,
            r.top1_identity,
            r.top1_image,
            r.rank1_correct,
            r.margin,
            r.mate_score,
            r.mate_rank,
            1,
        )
    with pytest.raises(ValidationError, match="non-mated"):
        SearchResults(
            r.probe,
            r.mated,
            r.top1_score,
            r.top1_identity,
            r.top1_image,
            np.array([True, True]),
            r.margin,
            r.mate_score,
            r.mate_rank,
            1,
        )
