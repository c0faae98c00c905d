"""The realised FPIR averaged over every watchlist: closed form against brute-force enumeration,
and the pool against the protocol it averages."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.special import comb

from vigil.errors import ValidationError
from vigil.eval import averaged, far, protocols
from vigil.eval.metrics import fpir_at


def _one_watchlist(
    pool: averaged.WatchlistPool, scores: np.ndarray, watchlist: tuple[int, ...], t: float
) -> tuple[int, int]:
    """False alerts and non-mated searches with exactly ``watchlist`` enrolled (plain loops)."""
    alerts = searches = 0
    for p, group in zip(pool.probes.tolist(), pool.probe_group.tolist(), strict=True):
        if any(pool.candidate_group[c] == group for c in watchlist):
            continue  # its own person (or a twin) is enrolled: not a non-mated search
        searches += 1
        best = max(max(scores[p, g] for g in pool.gallery[c]) for c in watchlist)
        alerts += best >= t
    return alerts, searches


def _brute_force(
    pool: averaged.WatchlistPool, scores: np.ndarray, n: int, t: float
) -> tuple[float, float]:
    """Mean false alerts and mean non-mated searches over every ``n``-subset of candidates."""
    runs = [
        _one_watchlist(pool, scores, w, t)
        for w in itertools.combinations(range(len(pool.candidates)), n)
    ]
    return float(np.mean([a for a, _ in runs])), float(np.mean([s for _, s in runs]))


def _pool(
    m: int, k: int, groups: list[int], probe_groups: list[int], images: int
) -> averaged.WatchlistPool:
    """``m`` candidates with ``k`` distinct gallery images each, then probe images after them."""
    gallery = np.arange(m * k, dtype=np.int64).reshape(m, k)
    probes = np.arange(m * k, m * k + len(probe_groups), dtype=np.int64)
    assert images >= m * k + len(probe_groups)
    return averaged.WatchlistPool(
        tuple(f"c{i}" for i in range(m)), gallery, np.asarray(groups, np.int64), probes,
        np.asarray(probe_groups, np.int64),
    )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 7),
    k=st.integers(1, 2),
    data=st.data(),
    seed=st.integers(0, 10**6),
    t=st.floats(-0.5, 0.9),
)
def test_the_closed_form_equals_the_mean_over_every_watchlist(
    m: int, k: int, data: st.DataObject, seed: int, t: float
) -> None:
    n = data.draw(st.integers(1, m), label="watchlist size")
    # candidates' groups: a few shared (twins); probes in those groups or in groups of nobody
    groups = data.draw(st.lists(st.integers(0, m), min_size=m, max_size=m), label="groups")
    probe_groups = data.draw(st.lists(st.integers(0, m + 2), min_size=1, max_size=8))
    images = m * k + len(probe_groups)
    scores = np.random.default_rng(seed).uniform(-1, 1, (images, images))
    pool = _pool(m, k, groups, probe_groups, images)
    (rate,) = averaged.averaged_fpir(pool, protocols.MatrixScorer(scores), n, [t])
    alerts, searches = _brute_force(pool, scores, n, t)
    assert rate.expected_alerts == pytest.approx(alerts, abs=1e-9)
    assert rate.expected_searches == pytest.approx(searches, abs=1e-9)
    if searches:
        assert rate.value == pytest.approx(alerts / searches, abs=1e-9)


def test_a_worked_example_by_hand() -> None:
    """Four candidates, one probe of a fifth person who scores high against two of them: with a
    watchlist of 2 it is always searched, and alerts unless both enrolled are the other two,
    1 - C(2,2)/C(4,2) = 5/6 of watchlists."""
    scores = np.zeros((5, 5))
    scores[4, 0] = scores[4, 1] = 0.9
    pool = _pool(4, 1, [0, 1, 2, 3], [4], 5)
    (rate,) = averaged.averaged_fpir(pool, protocols.MatrixScorer(scores), 2, [0.5])
    assert (rate.expected_alerts, rate.expected_searches) == pytest.approx((5 / 6, 1.0))


@pytest.mark.parametrize(("m", "n"), [(10, 3), (2_900, 1_000), (50, 50)])
def test_avoid_probability_is_the_binomial_ratio(m: int, n: int) -> None:
    x = np.arange(0, m + 2)
    want = [comb(m - int(v), n, exact=True) / comb(m, n, exact=True) if v <= m else 0 for v in x]
    assert averaged.avoid_probability(m, n, x) == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_a_watchlist_larger_than_the_pool_is_refused() -> None:
    with pytest.raises(ValidationError):
        averaged.avoid_probability(3, 4, [0])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    sizes=st.lists(st.integers(1, 4), min_size=6, max_size=10),
    n=st.integers(1, 3),
    t=st.floats(0.0, 0.9),
    cap_k=st.tuples(st.sampled_from([None, 1]), st.integers(1, 2)),
)
def test_the_pool_matches_the_protocol_of_any_one_watchlist(
    seed: int, sizes: list[int], n: int, t: float, cap_k: tuple[int | None, int]
) -> None:
    """For the watchlist the protocol draws, the pool's searches and false alerts are the
    protocol's: same people searched, same twin exclusion, same alias merge. Each person's
    photos are identical (the enrolment photo choice cannot matter), so the counts must agree."""
    cap, k = cap_k  # searches per person (None: every image), photos enrolled per person
    identities = [f"p{i}" for i, c in enumerate(sizes) for _ in range(c)]
    al = protocols.parse_aliases("p0\tp1\ttwin\np2\tp3\tsame")
    rng = np.random.default_rng(seed)
    # scores the search's float32 holds exactly; p2 and p3 are one person (merged)
    person = rng.uniform(-1, 1, (len(sizes), len(sizes))).astype(np.float32).astype(np.float64)
    of = np.array([2 if name == "p3" else int(name[1:]) for name in identities])
    scores = person[np.ix_(of, of)]
    try:
        proto = protocols.build_open_set(
            identities, watchlist_size=n, seed=seed, aliases=al, images_per_identity=k,
            min_images=k,
        )  # fmt: skip
    except ValidationError:
        assume(False)  # too few people with k photos for this watchlist
    proto = far.cap_probes(proto, identities, cap, seed)
    res = protocols.search(proto, protocols.MatrixScorer(scores), collect_impostors=False)
    pool = averaged.build_pool(
        identities, seed=seed, images_per_identity=k, min_images=k, aliases=al,
        probes_per_person=cap,
    )  # fmt: skip
    watchlist = tuple(pool.candidates.index(p) for p in proto.enrolled)
    alerts, searches = _one_watchlist(pool, scores, watchlist, t)
    realised = fpir_at(res, t)
    assert searches == realised.n
    assert alerts == realised.k


def test_the_held_out_check_reports_both_realised_rates() -> None:
    """validate_split runs the average beside the single draw; the JSON and table carry both."""
    rng = np.random.default_rng(3)
    identities = [f"p{i}" for i in range(40) for _ in range(1 + i % 3)]
    emb = rng.normal(size=(len(identities), 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    scorer = protocols.MatrixScorer(emb @ emb.T)
    check = far.validate_split(
        identities, scorer, seed=1, watchlist_size=10, threshold=0.6, targets=(1e-2,)
    )
    for row in check.rows:
        assert row.averaged is not None and row.averaged.watchlist_size == 10
        doc = row.to_json()
        assert doc["holds"] == (doc["holds_single_draw"] and doc["holds_averaged"])
        assert 0 <= float(doc["realised_averaged"]) <= 1  # type: ignore[arg-type]
    summary = far.summary_json([check])
    assert summary["averaged_checks"] == 1
    assert "averaged over watchlists" in far.summary_markdown([check])
