"""The held-out check's verdicts and the refusal rule of ``vigil calibrate``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.eval import far, protocols
from vigil.eval.averaged import AveragedRate
from vigil.eval.metrics import Rate
from vigil.identification.calibration import RateEstimate


def _result(realised_k: int, bound: float = 0.002) -> far.CheckResult:
    row = far.CheckRow("shipped threshold", 0.54, RateEstimate(0.001, bound, 6, 10**7),
                       Rate(realised_k, 3000))  # fmt: skip
    return far.CheckResult("split seed 0", 1000, 1, 3000, (row,))


def test_a_held_out_rate_above_the_bound_is_refused_unless_forced_with_a_reason() -> None:
    far.refuse_unless_forced(_result(3), force=False, reason="")  # 0.001 <= 0.002: fine
    with pytest.raises(ValidationError, match="exceeds the bound") as err:
        far.refuse_unless_forced(_result(9), force=False, reason="")  # 0.003 > 0.002
    assert "--force" in str(err.value.hint)
    with pytest.raises(ValidationError, match="--reason"):
        far.refuse_unless_forced(_result(9), force=True, reason=" ")
    far.refuse_unless_forced(_result(9), force=True, reason="local data says otherwise")


def test_summary_states_the_verdicts_it_measured() -> None:
    doc = far.summary_json([_result(3), _result(9)])
    assert doc["bound_holds_at_shipped_threshold"] is False
    assert doc["point_over_realised_at_shipped_threshold"] == pytest.approx([1.0, 1 / 3])
    assert doc["point_within_2x_of_realised_at_shipped_threshold"] is False
    assert (doc["point_within_2x_checks"], doc["point_ratio_undefined_checks"]) == (1, 0)
    assert "| shipped threshold 0.5400 |" in far.summary_markdown([_result(3)])


def test_a_check_with_nothing_realised_is_counted_apart_not_dropped() -> None:
    doc = far.summary_json([_result(3), _result(0)])
    assert doc["point_over_realised_at_shipped_threshold"] == pytest.approx([1.0])
    assert (doc["point_within_2x_checks"], doc["point_ratio_undefined_checks"]) == (1, 1)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    sizes=st.lists(st.integers(1, 5), min_size=4, max_size=12),
    threshold=st.floats(0.0, 0.9),
)
def test_the_fit_counts_exactly_the_non_mated_searches_comparisons(
    seed: int, sizes: list[int], threshold: float
) -> None:
    """The curve behind the point is measured on the population FPIR is defined on: every
    non-mated probe against every enrolled person, and nothing from the mated probes."""
    identities = [f"p{i}" for i, n in enumerate(sizes) for _ in range(n)]
    rng = np.random.default_rng(seed)
    scores = rng.uniform(-1, 1, (len(identities), len(identities)))
    proto = protocols.build_open_set(identities, watchlist_size=2, seed=seed, min_images=1)
    only = protocols.nonmated_only(proto)
    assert len(only.mated) == 0 and np.array_equal(only.nonmated, proto.nonmated)
    assert np.array_equal(only.gallery, proto.gallery)
    imp = protocols.search(only, protocols.MatrixScorer(scores)).impostor_scores
    block = scores[np.ix_(proto.nonmated, proto.gallery[:, 0])].astype(np.float32)
    assert len(imp) == block.size
    assert int((imp >= np.float32(threshold)).sum()) == int((block >= threshold).sum())


def test_mated_probes_no_longer_dilute_the_predicted_rate() -> None:
    """Three people enrolled; one non-mated probe of four scores high against one of them; the
    many mated probes score low. The point must be the non-mated rate (1 in 4 searches), not
    the pooled per-comparison one (diluted by the mated probes' comparisons)."""
    identities = ["a"] * 6 + ["b"] * 6 + ["c"] * 6 + ["x", "y", "z", "w"]
    proto = protocols.build_open_set(identities, watchlist_size=3, seed=0, min_images=2)
    assert set(proto.enrolled) == {"a", "b", "c"}
    scores = np.full((len(identities), len(identities)), 0.1)
    scores[np.arange(len(identities)), np.arange(len(identities))] = 1.0
    for person in "abc":
        rows = [i for i, n in enumerate(identities) if n == person]
        scores[np.ix_(rows, rows)] = 0.9
    x = identities.index("x")
    scores[x, proto.gallery[0, 0]] = scores[proto.gallery[0, 0], x] = 0.8
    scorer = protocols.MatrixScorer(scores)
    res = far.validate_split_on(proto, proto, identities, scorer, threshold=0.5)
    row = res.rows[0]
    assert row.realised.k == 1 and row.realised.n == 4
    assert row.predicted.count == 1 and row.predicted.comparisons == 4 * 3
    assert 0.5 <= row.point_over_realised <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    cap=st.integers(1, 4),
    seed=st.integers(0, 1000),
    sizes=st.lists(st.integers(1, 9), min_size=3, max_size=12),
)
def test_capping_keeps_at_most_cap_searches_per_person(
    cap: int, seed: int, sizes: list[int]
) -> None:
    identities = [f"p{i}" for i, n in enumerate(sizes) for _ in range(n)]
    proto = protocols.build_open_set(identities, watchlist_size=1, seed=seed, min_images=1)
    capped = far.cap_probes(proto, identities, cap, seed)
    for images in (capped.nonmated, capped.mated):
        names = [identities[i] for i in images.tolist()]
        assert all(names.count(n) <= cap for n in set(names))
    assert set(capped.nonmated.tolist()) <= set(proto.nonmated.tolist())
    people = {identities[i] for i in proto.nonmated.tolist()}
    assert {identities[i] for i in capped.nonmated.tolist()} == people  # nobody dropped
    assert np.array_equal(capped.gallery, proto.gallery)


def _with_average(realised_k: int, expected_alerts: float, bound: float = 0.002) -> far.CheckResult:
    mean = AveragedRate(0.54, 1000, 2500, expected_alerts, 3000.0)
    row = far.CheckRow("shipped threshold", 0.54, RateEstimate(0.001, bound, 6, 10**7),
                       Rate(realised_k, 3000), averaged=mean)  # fmt: skip
    return far.CheckResult("split seed 0", 1000, 1, 3000, (row,))


def test_the_bound_is_judged_against_the_single_draw_and_the_average() -> None:
    # one watchlist saw 3 (0.001, within the bound); averaged over all, 9 are expected (0.003)
    lucky = _with_average(3, 9.0)
    row = lucky.rows[0]
    assert (row.holds_single_draw, row.holds_averaged, row.holds) == (True, False, False)
    with pytest.raises(ValidationError, match=r"averaged 0\.003"):
        far.refuse_unless_forced(lucky, force=False, reason="")
    doc = far.summary_json([lucky, _with_average(9, 3.0), _with_average(0, 2.5)])
    assert doc["bound_holds_at_shipped_threshold_single_draw"] == 2
    assert doc["bound_holds_at_shipped_threshold_averaged"] == 2
    assert doc["point_over_averaged_at_shipped_threshold"] == pytest.approx([1 / 3, 1.0, 1.2])
    assert doc["point_within_2x_of_averaged_checks"] == 2
    assert doc["point_ratio_undefined_checks"] == 1  # the single draw that saw nothing
    assert doc["point_ratio_averaged_undefined_checks"] == 0
    assert "| 0.003 (9.0/3,000) | yes / NO |" in far.summary_markdown([lucky])
