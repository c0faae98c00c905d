"""Accuracy metrics for face verification (1:1) and open-set identification (1:N).

Everything here is a pure function over scores and labels: no models, no files. The protocol
module (:mod:`vigil.eval.protocols`) turns a folder of images and a scorer into the arrays these
functions take, and :mod:`vigil.eval.report` writes the results.

Conventions, used everywhere:

* **A comparison is accepted iff ``score >= threshold``.** Higher scores mean "more similar"
  (cosine similarity for L2-normalised embeddings).
* **Every rate is a** :class:`Rate` — the count ``k`` of events out of ``n`` trials, with a 95%
  binomial confidence interval. A rate without its count hides how little data a strict operating
  point rests on: FPIR 1e-4 measured on 9,000 non-mated searches is *zero or one* event.
* **Thresholds for a target rate are placed so that the realised rate on the data they were fitted
  on is at most the target** (never above). When the target is below ``1 / n`` the data cannot
  resolve it; the threshold is then placed above every score seen and the operating point says
  ``resolvable=False``.

Confidence intervals default to Clopper–Pearson ("exact"): it never under-covers, which matters at
the rare-event end where Wilson's interval can be too narrow; Wilson is available and is tighter.
Both treat trials as independent. They are *not* when one probe appears in many comparisons (the
1:1 impostor scores behind the FMR-based FPIR estimate), and the interval of a rate read at a
threshold that was itself fitted on the same data ignores the threshold's own uncertainty; both
CIs are therefore somewhat optimistic and are labelled as such in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

Float64 = npt.NDArray[np.float64]
Float32 = npt.NDArray[np.float32]
Int64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
CIMethod = Literal["clopper-pearson", "wilson"]

#: FAR targets of the verification report (keys "0.01", "0.001", "0.0001").
FAR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
#: FPIR targets of the identification report; 0.00017 is 1 false alert in ~6,000 searches, the
#: operating point of the UK NPL test of NEC NeoFace.
FPIR_TARGETS: tuple[float, ...] = (1e-2, 1e-3, 1.7e-4, 1e-4)


def rate_key(x: float) -> str:
    """The stable JSON key of a rate target: ``1e-4 -> "0.0001"``, ``1.7e-4 -> "0.00017"``."""
    return np.format_float_positional(x, trim="-")


# --------------------------------------------------------------------------------------------
# Rates and confidence intervals
# --------------------------------------------------------------------------------------------


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``; ``(0, 1)`` when ``n == 0``.

    Tighter than Clopper–Pearson and close to nominal coverage on average, but it can under-cover
    for some ``n`` when ``k`` is near 0 — exactly the strict-FPIR regime.
    """
    _check_count(k, n)
    if n == 0:
        return 0.0, 1.0
    from scipy.special import ndtri  # scipy.special, not scipy.stats: ~50x faster to import

    z = float(ndtri(0.5 + confidence / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp against round-off so the interval always contains the point estimate.
    return max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half))


def clopper_pearson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper–Pearson ("exact") interval: inverts two one-sided binomial tests.

    Conservative — its coverage is at least ``confidence`` for every true rate — which is the right
    bias for error rates whose underestimate puts innocent people in front of an operator. With
    ``k == 0`` the upper bound is about ``3.7 / n`` (the "rule of three").
    """
    _check_count(k, n)
    if n == 0:
        return 0.0, 1.0
    from scipy.special import betaincinv  # the beta quantile, without importing scipy.stats

    alpha = 1 - confidence
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1 - alpha / 2))
    p = k / n
    return min(lo, p), max(hi, p)


def _check_count(k: int, n: int) -> None:
    if n < 0 or k < 0 or k > n:
        raise ValidationError(f"a rate needs 0 <= k <= n, got k={k}, n={n}")


@dataclass(frozen=True, slots=True)
class Rate:
    """``k`` events out of ``n`` trials with a 95% confidence interval.

    ``value`` is ``nan`` when ``n == 0`` (no trials: the rate is undefined, not zero).
    """

    k: int
    n: int
    method: CIMethod = "clopper-pearson"
    ci95: tuple[float, float] = field(init=False)

    def __post_init__(self) -> None:
        k, n = int(self.k), int(self.n)
        object.__setattr__(self, "k", k)
        object.__setattr__(self, "n", n)
        if self.method == "wilson":
            ci = wilson_interval(k, n)
        elif self.method == "clopper-pearson":
            ci = clopper_pearson_interval(k, n)
        else:
            raise ValidationError(f"unknown CI method {self.method!r}")
        object.__setattr__(self, "ci95", ci)

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    def __str__(self) -> str:
        if not self.n:
            return "n/a (0 trials)"
        lo, hi = self.ci95
        return f"{self.value:.4%} ({self.k}/{self.n}; 95% CI {lo:.4%}–{hi:.4%})"


# --------------------------------------------------------------------------------------------
# Shared counting helpers (vectorised; scores sorted once, counts by binary search)
# --------------------------------------------------------------------------------------------


def _as_scores(x: npt.ArrayLike, name: str) -> Float64:
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if np.isnan(arr).any():
        raise ValidationError(f"{name} contains NaN scores ({int(np.isnan(arr).sum())} of them)")
    return arr


def _count_at_or_above(sorted_asc: npt.NDArray[np.floating], thresholds: Float64) -> Int64:
    """How many of ``sorted_asc`` are ``>= t`` for each ``t``."""
    below = np.searchsorted(sorted_asc, thresholds, side="left")
    return (len(sorted_asc) - below).astype(np.int64)


def _threshold_for_rate(sorted_asc: npt.NDArray[np.floating], target: float) -> float:
    """The lowest threshold at which the fraction of ``sorted_asc`` that is ``>= t`` is <= target.

    With ``a = floor(target * n)`` allowed acceptances, the threshold sits one ulp above the
    ``(a+1)``-th highest score, so ties there are rejected and the realised rate is ``<= target``.
    """
    n = len(sorted_asc)
    if n == 0:
        raise ValidationError("cannot place a threshold on an empty score set")
    if not 0.0 <= target <= 1.0:
        raise ValidationError(f"target rate must be in [0, 1], got {target}")
    allowed = math.floor(target * n * (1 + 1e-12))  # guard 0.001 * 10000 = 9.999...
    if allowed >= n:
        return float(sorted_asc[0])
    pivot = float(sorted_asc[n - 1 - allowed])
    step32 = float(np.nextafter(np.float32(pivot), np.float32(math.inf)))
    if float(np.float32(pivot)) == pivot and (allowed == 0 or step32 <= sorted_asc[n - allowed]):
        # A float32 threshold compares the same way against float32 scores in either precision;
        # it is used unless it would skip a (float64) score lying within one float32 ulp.
        return step32
    return float(np.nextafter(pivot, math.inf))


def _log_spaced_indices(n: int, max_points: int) -> Int64:
    """Up to ``max_points`` indices into ``range(n)``, dense at the start (low-FAR end)."""
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    idx = np.unique(np.geomspace(1, n, max_points).astype(np.int64) - 1)
    return np.unique(np.concatenate([idx, [n - 1]])).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Verification (1:1)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KFoldAccuracy:
    """LFW-style k-fold accuracy: per fold, the threshold is fitted on the other folds.

    ``std`` is the population standard deviation over folds (what LFW result tables print as
    "±"); ``standard_error = std / sqrt(folds)`` is the uncertainty of the mean.
    """

    mean: float
    std: float
    standard_error: float
    per_fold: tuple[Rate, ...]
    thresholds: tuple[float, ...]

    @property
    def pooled(self) -> Rate:
        """All folds' correct decisions over all pairs, with its CI."""
        return Rate(sum(r.k for r in self.per_fold), sum(r.n for r in self.per_fold))


def best_accuracy_threshold(scores: npt.ArrayLike, same: npt.ArrayLike) -> float:
    """The threshold that maximises accuracy on ``(scores, same)``, at the middle of its gap.

    Every distinct score is a candidate (plus "reject all"); counts come from one sort and two
    cumulative sums, so this is ``O(n log n)``. The returned threshold is the midpoint between the
    best candidate and the next lower score, which generalises better than sitting on a score.
    """
    s = _as_scores(scores, "scores")
    y = np.asarray(same, dtype=bool).reshape(-1)
    if len(s) != len(y) or len(s) == 0:
        raise ValidationError(f"scores and labels must be equal, non-empty: {len(s)} vs {len(y)}")
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order]
    uniq, first = np.unique(s, return_index=True)
    neg_cum = np.concatenate([[0], np.cumsum(~y)])
    pos_cum = np.concatenate([[0], np.cumsum(y)])
    cut = np.append(first, len(s))  # candidate j accepts s[cut[j]:]
    correct = neg_cum[cut] + (pos_cum[-1] - pos_cum[cut])
    j = int(np.argmax(correct))
    if j == len(uniq):
        return float(np.nextafter(uniq[-1], math.inf))
    if j == 0:
        return float(uniq[0])
    return float((uniq[j - 1] + uniq[j]) / 2)


def kfold_accuracy(
    scores: npt.ArrayLike, same: npt.ArrayLike, folds: npt.ArrayLike
) -> KFoldAccuracy:
    """Accuracy as LFW defines it: for each fold, fit the threshold on the other folds, test on it.

    Args:
        scores: one similarity per pair.
        same: ``True`` for a matched (same-person) pair.
        folds: the fold id of each pair (LFW View 2: 0-9). At least two folds are needed.
    """
    s = _as_scores(scores, "scores")
    y = np.asarray(same, dtype=bool).reshape(-1)
    f = np.asarray(folds).reshape(-1)
    if not len(s) == len(y) == len(f):
        raise ValidationError(f"scores/same/folds lengths differ: {len(s)}, {len(y)}, {len(f)}")
    fold_ids = np.unique(f)
    if len(fold_ids) < 2:
        raise ValidationError(f"k-fold accuracy needs >= 2 folds, got {len(fold_ids)}")
    rates: list[Rate] = []
    thresholds: list[float] = []
    for fold in fold_ids:
        test = f == fold
        t = best_accuracy_threshold(s[~test], y[~test])
        correct = int(((s[test] >= t) == y[test]).sum())
        rates.append(Rate(correct, int(test.sum())))
        thresholds.append(t)
    acc = np.array([r.value for r in rates])
    std = float(acc.std())
    return KFoldAccuracy(
        float(acc.mean()), std, std / math.sqrt(len(acc)), tuple(rates), tuple(thresholds)
    )


@dataclass(frozen=True, slots=True)
class RocCurve:
    """Accept rates at descending thresholds: ``far`` = FMR (impostors accepted), ``tar`` = 1-FNMR.

    ``far_k``/``tar_k`` are the counts behind each point, ``n_impostor``/``n_genuine`` the totals.
    """

    thresholds: Float64
    far_k: Int64
    tar_k: Int64
    n_impostor: int
    n_genuine: int

    @property
    def far(self) -> Float64:
        return self.far_k / max(self.n_impostor, 1)

    @property
    def tar(self) -> Float64:
        return self.tar_k / max(self.n_genuine, 1)

    @property
    def frr(self) -> Float64:
        return 1.0 - self.tar


def roc_curve(
    genuine: npt.ArrayLike, impostor: npt.ArrayLike, *, max_points: int | None = 2000
) -> RocCurve:
    """ROC / DET points at every distinct score (thinned to ``max_points``, dense at low FAR)."""
    g = np.sort(_as_scores(genuine, "genuine"))
    i = np.sort(_as_scores(impostor, "impostor"))
    thr = np.unique(np.concatenate([g, i]))[::-1].copy()
    if max_points is not None:
        thr = thr[_log_spaced_indices(len(thr), max_points)]
    return RocCurve(thr, _count_at_or_above(i, thr), _count_at_or_above(g, thr), len(i), len(g))


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """A threshold with the accept rates it realises (``far``, ``tar``) on the data it came from."""

    target_far: float
    threshold: float
    far: Rate
    tar: Rate
    resolvable: bool


def tar_at_far(
    genuine: npt.ArrayLike,
    impostor: npt.ArrayLike,
    targets: Sequence[float] = FAR_TARGETS,
) -> dict[float, OperatingPoint]:
    """TAR at each target FAR; the threshold is the lowest whose FAR is <= the target.

    ``resolvable`` is ``False`` when ``target < 1 / n_impostor``: the threshold is then just above
    the highest impostor score and the TAR is an optimistic bound, not a measurement.
    """
    g = np.sort(_as_scores(genuine, "genuine"))
    i = np.sort(_as_scores(impostor, "impostor"))
    out: dict[float, OperatingPoint] = {}
    for target in targets:
        t = _threshold_for_rate(i, target)
        far_k = int(_count_at_or_above(i, np.array([t]))[0])
        tar_k = int(_count_at_or_above(g, np.array([t]))[0])
        out[target] = OperatingPoint(
            target, t, Rate(far_k, len(i)), Rate(tar_k, len(g)), target * len(i) >= 1
        )
    return out


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """Everything the verification report shows, computed from one set of pair scores."""

    accuracy: KFoldAccuracy
    tar_at_far: dict[float, OperatingPoint]
    roc: RocCurve
    n_genuine: int
    n_impostor: int


def evaluate_verification(
    scores: npt.ArrayLike,
    same: npt.ArrayLike,
    folds: npt.ArrayLike,
    far_targets: Sequence[float] = FAR_TARGETS,
) -> VerificationResult:
    """k-fold accuracy, TAR at FAR and the ROC for one list of scored pairs.

    TAR at FAR pools all folds (one threshold per target): with LFW's ~2,500 mismatched pairs FAR
    1e-3 rests on two impostors and 1e-4 is not resolvable — the report says so.
    """
    s = _as_scores(scores, "scores")
    y = np.asarray(same, dtype=bool).reshape(-1)
    acc = kfold_accuracy(s, y, folds)
    return VerificationResult(
        acc,
        tar_at_far(s[y], s[~y], far_targets),
        roc_curve(s[y], s[~y]),
        int(y.sum()),
        int((~y).sum()),
    )


# --------------------------------------------------------------------------------------------
# Open-set identification (1:N)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The outcome of every search of an open-set protocol, one row per search (parallel arrays).

    Attributes:
        probe: image index of each search's probe.
        mated: ``True`` when the probe's identity is enrolled (a mated search).
        top1_score: the highest identity score (after template fusion).
        top1_identity: index (into the enrolled list) of the best-scoring identity.
        top1_image: image index of the enrolled image that gave ``top1_identity`` its score.
        rank1_correct: mated and ``top1_identity`` is the mate; always ``False`` for non-mated.
        margin: ``top1_score`` minus the second-best identity's score (``nan`` when N == 1); a
            small margin means the top candidate is barely ahead of another enrolled person.
        mate_score: the mate's score (``nan`` for non-mated searches).
        mate_rank: 1 + the number of identities scoring strictly above the mate (0 if non-mated).
        n_enrolled: N, the number of enrolled identities.
        impostor_scores: every (probe, enrolled identity) score where the probe is not that
            identity, sorted ascending, float32 — the 1:1 impostor comparisons behind the
            FMR-based FPIR estimate. Empty when not collected.
        excluded: searches the protocol left out (twins/aliases of enrolled identities).
    """

    probe: Int64
    mated: Bool
    top1_score: Float64
    top1_identity: Int64
    top1_image: Int64
    rank1_correct: Bool
    margin: Float64
    mate_score: Float64
    mate_rank: Int64
    n_enrolled: int
    impostor_scores: Float32 = field(default_factory=lambda: np.zeros(0, np.float32))
    excluded: int = 0

    def __post_init__(self) -> None:
        n = len(self.probe)
        for name in ("mated", "top1_score", "top1_identity", "top1_image", "rank1_correct",
                     "margin", "mate_score", "mate_rank"):  # fmt: skip
            got = np.shape(getattr(self, name))
            if got != (n,):
                raise ValidationError(f"SearchResults.{name} must have shape ({n},), got {got}")
        if np.any(self.rank1_correct & ~self.mated):
            raise ValidationError("a non-mated search cannot be rank-1 correct")
        if self.n_enrolled < 1:
            raise ValidationError(f"n_enrolled must be >= 1, got {self.n_enrolled}")

    @property
    def n_mated(self) -> int:
        return int(self.mated.sum())

    @property
    def n_nonmated(self) -> int:
        return int((~self.mated).sum())

    def select(self, mask: npt.ArrayLike) -> SearchResults:
        """The subset of searches where ``mask`` is true (impostor scores are not subset)."""
        m = np.asarray(mask, dtype=bool)
        return SearchResults(
            self.probe[m], self.mated[m], self.top1_score[m], self.top1_identity[m],
            self.top1_image[m], self.rank1_correct[m], self.margin[m], self.mate_score[m],
            self.mate_rank[m], self.n_enrolled, np.zeros(0, np.float32), 0,
        )  # fmt: skip


def fpir_at(results: SearchResults, threshold: float) -> Rate:
    """FPIR: the fraction of non-mated searches whose top-1 score is ``>= threshold``."""
    top = results.top1_score[~results.mated]
    return Rate(int((top >= threshold).sum()), len(top))


def fnir_at(results: SearchResults, threshold: float) -> Rate:
    """FNIR at rank 1: a mated search misses if its rank-1 is wrong **or** below ``threshold``.

    This is NIST FRTE's investigative-mode-off ("alarm") definition with R = 1: an alert on the
    wrong person is not a hit even when the right person is also above threshold further down.
    """
    m = results.mated
    hit = results.rank1_correct[m] & (results.top1_score[m] >= threshold)
    return Rate(int((~hit).sum()), int(m.sum()))


def threshold_for_fpir(results: SearchResults, target: float) -> float:
    """Lowest threshold whose empirical FPIR on ``results`` is <= ``target``."""
    return _threshold_for_rate(np.sort(results.top1_score[~results.mated]), target)


@dataclass(frozen=True, slots=True)
class OpenSetPoint:
    """An operating point of a 1:N system: threshold, FPIR and FNIR with their counts."""

    threshold: float
    fpir: Rate
    fnir: Rate
    target_fpir: float | None = None
    resolvable: bool = True

    @property
    def tpir(self) -> Rate:
        return Rate(self.fnir.n - self.fnir.k, self.fnir.n)


def open_set_point(results: SearchResults, threshold: float) -> OpenSetPoint:
    """FPIR and FNIR at a given threshold (e.g. the one the default config ships)."""
    return OpenSetPoint(threshold, fpir_at(results, threshold), fnir_at(results, threshold))


def fnir_at_fpir(
    results: SearchResults, targets: Sequence[float] = FPIR_TARGETS
) -> dict[float, OpenSetPoint]:
    """FNIR at each target FPIR, with ``resolvable=False`` when target < 1 / non-mated searches."""
    out: dict[float, OpenSetPoint] = {}
    for target in targets:
        t = threshold_for_fpir(results, target)
        out[target] = OpenSetPoint(
            t, fpir_at(results, t), fnir_at(results, t), target, target * results.n_nonmated >= 1
        )
    return out


def smallest_resolvable_fpir(results: SearchResults) -> float:
    """``1 / non-mated searches``: below this, a measured FPIR of 0 says nothing."""
    return 1.0 / results.n_nonmated if results.n_nonmated else math.nan


@dataclass(frozen=True, slots=True)
class DetCurve:
    """FNIR against FPIR over descending thresholds, with the counts behind each point."""

    thresholds: Float64
    fpir_k: Int64
    fnir_k: Int64
    n_nonmated: int
    n_mated: int

    @property
    def fpir(self) -> Float64:
        return self.fpir_k / max(self.n_nonmated, 1)

    @property
    def fnir(self) -> Float64:
        return self.fnir_k / max(self.n_mated, 1)


def open_set_det(results: SearchResults, *, max_points: int | None = 2000) -> DetCurve:
    """The open-set DET curve (FNIR vs FPIR) at every distinct top-1 score, thinned for plotting."""
    non = np.sort(results.top1_score[~results.mated])
    m = results.mated
    hits = np.sort(results.top1_score[m & results.rank1_correct])
    thr = np.unique(np.concatenate([non, hits]))[::-1].copy()
    if max_points is not None:
        thr = thr[_log_spaced_indices(len(thr), max_points)]
    n_mated = int(m.sum())
    fnir_k = n_mated - _count_at_or_above(hits, thr)
    return DetCurve(thr, _count_at_or_above(non, thr), fnir_k, len(non), n_mated)


@dataclass(frozen=True, slots=True)
class FmrEstimate:
    """FPIR predicted from 1:1 impostor comparisons, assuming they are independent.

    ``fpir_estimate = 1 - (1 - FMR)^N``. Real searches are correlated (a probe that looks like
    many people scores high against all of them), which usually makes the empirical FPIR *lower*
    than this estimate, so the estimate is a conservative check. Its value is resolution: ~10^7
    impostor scores resolve FMR ~1e-7, i.e. FPIR ~1e-4 at N = 1,000, where the empirical FPIR
    rests on single searches. ``fpir_ci95`` maps FMR's CI through the same formula (optimistic:
    the comparisons share probes).
    """

    threshold: float
    fmr: Rate
    n_enrolled: int

    @property
    def fpir_estimate(self) -> float:
        return (
            -math.expm1(self.n_enrolled * math.log1p(-self.fmr.value)) if self.fmr.n else math.nan
        )

    @property
    def fpir_ci95(self) -> tuple[float, float]:
        lo, hi = self.fmr.ci95
        return (-math.expm1(self.n_enrolled * math.log1p(-lo)),
                -math.expm1(self.n_enrolled * math.log1p(-hi)) if hi < 1 else 1.0)  # fmt: skip


def fpir_from_fmr(
    impostor_scores: npt.ArrayLike, thresholds: Sequence[float], n_enrolled: int
) -> list[FmrEstimate]:
    """FMR over all 1:1 impostor comparisons and the FPIR it implies, at each threshold.

    Counts by comparison in float64 without copying or sorting the (~10^7) float32 scores.
    """
    imp = np.asarray(impostor_scores).reshape(-1)
    return [
        FmrEstimate(
            float(t), Rate(int(np.count_nonzero(imp >= np.float64(t))), len(imp)), n_enrolled
        )
        for t in thresholds
    ]


def threshold_for_fpir_via_fmr(
    impostor_scores: npt.ArrayLike, target_fpir: float, n_enrolled: int
) -> float:
    """Threshold whose FMR gives ``target_fpir`` at watchlist size ``n_enrolled`` (independence).

    Solves ``1 - (1 - FMR)^N = target`` for FMR and places the threshold as for any rate. This is
    how a threshold measured at one watchlist size is carried to another: FMR does not depend on
    N, the FPIR it implies does.
    """
    if not 0 < target_fpir < 1:
        raise ValidationError(f"target FPIR must be in (0, 1), got {target_fpir}")
    fmr = -math.expm1(math.log1p(-target_fpir) / n_enrolled)
    imp = np.asarray(impostor_scores).reshape(-1)
    if len(imp) > 1 and not bool(np.all(imp[:-1] <= imp[1:])):
        imp = np.sort(imp)  # search() hands them over sorted; others may not
    return _threshold_for_rate(imp, fmr)


@dataclass(frozen=True, slots=True)
class NonMatedHit:
    """One high-scoring non-mated search: which probe looked like which enrolled image."""

    probe: int
    enrolled: int
    score: float
    margin: float


def top_nonmated(results: SearchResults, k: int = 20) -> list[NonMatedHit]:
    """The ``k`` highest-scoring non-mated searches, highest first — the false alerts to look at.

    At strict thresholds these are dominated by label noise (one person under two names, twins)
    and by look-alikes; a person should look at the two images before trusting the FPIR.
    """
    idx = np.flatnonzero(~results.mated)
    top = idx[np.argsort(-results.top1_score[idx], kind="stable")[:k]]
    return [
        NonMatedHit(int(results.probe[i]), int(results.top1_image[i]),
                    float(results.top1_score[i]), float(results.margin[i]))
        for i in top
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class CohortRates:
    """FNIR and FPIR per cohort at one threshold, and the demographic differential.

    ``fpir_ratio`` is the highest over the lowest cohort FPIR (NIST FRVT part 3's differential);
    it is ``inf`` when some cohort has no false positive at all (then look at the counts: a zero
    out of few searches is no evidence of a low rate) and ``nan`` with fewer than two cohorts.
    Cohorts are labels supplied by whoever evaluates; Vigil never infers them.
    """

    threshold: float
    fnir: dict[str, Rate]
    fpir: dict[str, Rate]

    @property
    def fpir_ratio(self) -> float:
        values = [r.value for r in self.fpir.values() if r.n]
        if len(values) < 2:
            return math.nan
        lo, hi = min(values), max(values)
        if lo == 0:
            return math.inf if hi > 0 else math.nan
        return hi / lo


def cohort_rates(
    results: SearchResults, cohort: Sequence[str] | npt.NDArray[np.str_], threshold: float
) -> CohortRates:
    """FNIR and FPIR of each cohort at ``threshold``; ``cohort[i]`` labels search ``i``.

    A search's cohort is its probe's; searches with an empty label are left out. One global
    threshold is used for every cohort, as in deployment — a cohort-specific threshold would hide
    exactly the differential this measures.
    """
    labels = np.asarray(cohort, dtype=str)
    if labels.shape != results.probe.shape:
        raise ValidationError(
            f"need one cohort per search: {labels.shape} vs {results.probe.shape}"
        )
    fnir: dict[str, Rate] = {}
    fpir: dict[str, Rate] = {}
    for name in sorted(set(labels.tolist()) - {""}):
        sub = results.select(labels == name)
        fnir[name] = fnir_at(sub, threshold)
        fpir[name] = fpir_at(sub, threshold)
    return CohortRates(threshold, fnir, fpir)


@dataclass(frozen=True, slots=True)
class Calibration:
    """A threshold for a target FPIR, fitted on some identities, checked on disjoint ones.

    ``fit_*`` are the rates on the fitting searches (the "expected" FPIR and TPIR an operator is
    told); ``test_*`` are what the threshold realised on identities it never saw (``None`` until
    :func:`check_calibration` fills them). ``method`` is ``"empirical"`` (threshold from the
    non-mated top-1 scores; needs the deployment's N) or ``"fmr"`` (from 1:1 impostor scores via
    ``1 - (1 - FMR)^N``; works for any N, conservative because searches are correlated).
    """

    target_fpir: float
    n_enrolled: int
    method: Literal["empirical", "fmr"]
    threshold: float
    fit_fpir: Rate
    fit_tpir: Rate
    test_fpir: Rate | None = None
    test_tpir: Rate | None = None

    @property
    def realised_over_target(self) -> float:
        """Test FPIR / target: the issue's acceptance band is [0.5, 2]."""
        return self.test_fpir.value / self.target_fpir if self.test_fpir else math.nan


def calibrate(
    fit: SearchResults,
    target_fpir: float,
    *,
    method: Literal["empirical", "fmr"] = "empirical",
    n_enrolled: int | None = None,
) -> Calibration:
    """Threshold for ``target_fpir`` on the fitting searches, with the FPIR/TPIR it realises there.

    ``n_enrolled`` (``fmr`` method only) is the deployment's watchlist size when it differs from
    the fitting protocol's; the empirical method is tied to the fitting protocol's N.
    """
    n = n_enrolled or fit.n_enrolled
    if method == "empirical":
        if n != fit.n_enrolled:
            raise ValidationError(
                f"empirical calibration is valid at the fitted N={fit.n_enrolled}, not N={n}",
                hint="use method='fmr' to carry a threshold to another watchlist size",
            )
        t = threshold_for_fpir(fit, target_fpir)
    elif method == "fmr":
        if not len(fit.impostor_scores):
            raise ValidationError("method='fmr' needs SearchResults.impostor_scores")
        t = threshold_for_fpir_via_fmr(fit.impostor_scores, target_fpir, n)
    else:
        raise ValidationError(f"unknown calibration method {method!r}")
    p = open_set_point(fit, t)
    return Calibration(target_fpir, n, method, t, p.fpir, p.tpir)


def check_calibration(calibration: Calibration, test: SearchResults) -> Calibration:
    """The calibration with the FPIR and TPIR its threshold realises on held-out ``test``."""
    p = open_set_point(test, calibration.threshold)
    return Calibration(
        calibration.target_fpir, calibration.n_enrolled, calibration.method,
        calibration.threshold, calibration.fit_fpir, calibration.fit_tpir, p.fpir, p.tpir,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class IdentificationResult:
    """Everything the identification report shows for one protocol run."""

    n_enrolled: int
    mated_searches: int
    nonmated_searches: int
    excluded_searches: int
    rank1: Rate
    fnir_at_fpir: dict[float, OpenSetPoint]
    default: OpenSetPoint | None
    smallest_resolvable_fpir: float
    fmr_estimates: dict[str, FmrEstimate]
    det: DetCurve
    top_nonmated: list[NonMatedHit]
    cohorts: dict[str, CohortRates] | None


def evaluate_identification(
    results: SearchResults,
    *,
    fpir_targets: Sequence[float] = FPIR_TARGETS,
    default_threshold: float | None = None,
    cohort: Sequence[str] | npt.NDArray[np.str_] | None = None,
    top_k: int = 20,
) -> IdentificationResult:
    """All open-set metrics of one run.

    ``fmr_estimates`` and ``cohorts`` are keyed by operating point: ``rate_key(target)`` for each
    FPIR target and ``"default"`` for ``default_threshold``.
    """
    points = fnir_at_fpir(results, fpir_targets)
    default = open_set_point(results, default_threshold) if default_threshold is not None else None
    named: dict[str, float] = {rate_key(t): p.threshold for t, p in points.items()}
    if default is not None:
        named["default"] = default.threshold
    fmr: dict[str, FmrEstimate] = {}
    if len(results.impostor_scores):
        est = fpir_from_fmr(results.impostor_scores, list(named.values()), results.n_enrolled)
        fmr = dict(zip(named, est, strict=True))
    cohorts = None
    if cohort is not None:
        cohorts = {key: cohort_rates(results, cohort, t) for key, t in named.items()}
    m = results.mated
    return IdentificationResult(
        n_enrolled=results.n_enrolled,
        mated_searches=results.n_mated,
        nonmated_searches=results.n_nonmated,
        excluded_searches=results.excluded,
        rank1=Rate(int(results.rank1_correct[m].sum()), int(m.sum())),
        fnir_at_fpir=points,
        default=default,
        smallest_resolvable_fpir=smallest_resolvable_fpir(results),
        fmr_estimates=fmr,
        det=open_set_det(results),
        top_nonmated=top_nonmated(results, top_k),
        cohorts=cohorts,
    )
