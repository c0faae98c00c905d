"""The calibrated false-alert rate: what an alert's score means, stated so it never understates.

``vigil calibrate`` writes the curve measured on real impostor comparisons as **counts**: at each
grid score ``s``, how many of the ``comparisons`` impostor scores were at or above ``s`` (see
:func:`vigil.eval.faces.write_calibration`). A count ``k`` of ``n`` gives two numbers:

* the point estimate ``k / n`` (what was seen), and
* the one-sided 95% upper confidence bound, exact (Clopper–Pearson): the largest rate under which
  seeing ``k`` or fewer would still happen 5% of the time (``beta.ppf(0.95, k + 1, n - k)``).
  With ``k = 0`` it is ``1 - 0.05^(1/n)`` (about ``3 / n``): the data cannot show anything lower.

Every displayed or policy-relevant rate uses the upper bound, with the point beside it.

**Clustered comparisons.** The exact bound assumes independent comparisons; they are clustered
by person (one probe person's hundreds of photos against one look-alike). A curve may carry an
identity-cluster bound per grid score (``cluster_upper95``, measured by
:mod:`vigil.eval.clustered`: a two-way identity bootstrap and a design-effect-corrected exact
bound); the per-comparison bound used everywhere is then the larger of the two
(:meth:`FmrCurve.upper_at`). Files without it get the binomial bound alone.

**Per person, not per template.** A person enrolled with several photos scores the *max* over
their templates, and those comparisons are correlated (the same face, similar photos), so
``1 - (1 - FMR)^templates`` is the wrong formula. A curve measured with ``k`` templates per
person (``templates_per_person``) already holds the per-person max; the model picks the measured
curve whose ``k`` covers the watchlist's largest person, and falls back to counting every
template as a person (a union bound, conservative) when none does.

**From one comparison to a search.** A search against ``P`` people raises a false alert when any
of them scores at or above ``s``. The point estimate is ``1 - (1 - FMR)^P`` (independent people);
the upper bound is ``min(1, P * FMR_upper)``: Boole's inequality holds whatever the correlation
between comparisons, and at the rates that matter (``P * FMR`` around 1e-3) it is no more than
the independence formula plus a part in a thousand.

Between grid points the count is read at the next grid score *at or below* ``s`` (a step that
never understates); in the tail every impostor score has its own grid point, so there the count
is exact to the file's 1e-6 resolution (:func:`curve_from_scores`). The same bounds size
watchlists and place thresholds: the largest ``P`` with ``P * FMR_upper(threshold) <= target``
and the lowest grid score where the bound meets a target.

Older calibration files (``fmr`` fractions with one ``impostor_comparisons`` total) are read by
turning each fraction back into a count (``round(fmr * n)``; they were written as ``k / n``);
a file with neither is refused with the command that regenerates it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.stats import beta

from vigil.errors import ConfigError, ValidationError

CONFIDENCE = 0.95
REGENERATE = (
    "regenerate it with `vigil calibrate --lfw-dir DIR --target-fpir 0.001 "
    "--watchlist-size 1000 --config vigil.yaml`"
)


def upper_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided exact (Clopper–Pearson) upper confidence bound of a binomial rate ``k / n``."""
    if n < 1 or not 0 <= k <= n:
        raise ValidationError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    if k == n:
        return 1.0
    return float(beta.ppf(confidence, k + 1, n - k))


def two_sided_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact two-sided interval of ``k / n`` (for held-out realised rates)."""
    if n < 1 or not 0 <= k <= n:
        raise ValidationError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    a = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def _sig2(x: float) -> str:
    """``x`` with at most two significant digits, in plain or scientific notation."""
    if x == 0:
        return "0"
    if 1e-3 <= x < 1:
        digits = max(0, 1 - math.floor(math.log10(x)))
        return f"{x:.{digits}f}".rstrip("0").rstrip(".")
    mantissa, exp = f"{x:.1e}".split("e")
    return f"{mantissa.removesuffix('.0')}e{int(exp)}"


def _one_in(x: float) -> str:
    """``1 in N`` with N to two significant digits (``1 in 3,500,000``)."""
    n = 1.0 / x
    if n < 10:
        return f"1 in {n:.1f}".replace(".0", "")
    exp = math.floor(math.log10(n)) - 1
    return f"1 in {round(n / 10**exp) * 10**exp:,.0f}"


@dataclass(frozen=True, slots=True)
class RateEstimate:
    """A false-alert rate with what it rests on: point estimate, 95% upper bound and the counts.

    ``count`` of ``comparisons`` impostor comparisons scored at or above the score; ``point`` and
    ``upper`` are per search for the watchlist size asked about (per comparison when it is 1).
    """

    point: float
    upper: float
    count: int
    comparisons: int

    def __post_init__(self) -> None:
        if not (0 <= self.point <= self.upper <= 1):
            raise ValidationError(f"need 0 <= point <= upper <= 1, got {self.point}, {self.upper}")

    @property
    def below_resolution(self) -> bool:
        """True when no comparison scored this high: the data only bound the rate from above."""
        return self.count == 0

    def text(self) -> str:
        """The rate as an operator reads it, two significant digits at most."""
        if self.below_resolution:
            return (
                "below what the calibration data can show "
                f"(< {_one_in(self.upper)}, 95% upper bound)"
            )
        return (
            f"{_sig2(self.upper)} ({_one_in(self.upper)}) at most, 95% upper bound; "
            f"point estimate {_sig2(self.point)}"
        )


@dataclass(frozen=True)
class FmrCurve:
    """Impostor comparisons scoring at or above each grid score (ascending scores).

    Args:
        scores: ascending grid scores.
        counts: comparisons at or above each score (non-increasing).
        comparisons: all impostor comparisons behind the curve.
        templates_per_person: templates each enrolled person had when it was measured (scores
            are per person: the max over their templates).
    """

    scores: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]
    comparisons: int
    templates_per_person: int = 1
    cluster_upper: npt.NDArray[np.float64] | None = None
    design_effect: float | None = None

    def __post_init__(self) -> None:
        s = np.asarray(self.scores, np.float64)
        c = np.asarray(self.counts, np.float64)
        if s.ndim != 1 or s.shape != c.shape or len(s) < 2:
            raise ValidationError(f"fmr curve needs matching 1-D arrays, got {s.shape}, {c.shape}")
        if self.comparisons < 1 or self.templates_per_person < 1:
            raise ValidationError("fmr curve needs >= 1 comparison and >= 1 template per person")
        if not (np.all(np.diff(s) >= 0) and np.all((c >= 0) & (c <= self.comparisons))):
            raise ValidationError("fmr curve scores must ascend and counts lie in [0, comparisons]")
        if not np.all(c == np.round(c)):
            raise ValidationError("fmr curve counts must be whole numbers")
        # Rounded grids repeat scores: keep the first (highest) count of each, the cautious one.
        s, first = np.unique(s, return_index=True)
        if len(s) < 2:
            raise ValidationError("fmr curve needs at least two distinct scores")
        counts = np.minimum.accumulate(c[first]).astype(np.int64)
        object.__setattr__(self, "scores", s)
        object.__setattr__(self, "counts", counts)
        if self.cluster_upper is not None:
            v = np.asarray(self.cluster_upper, np.float64)
            if v.shape != c.shape:
                raise ValidationError(f"cluster_upper95 has {v.shape} values for {c.shape} scores")
            object.__setattr__(self, "cluster_upper", self._bound_column(v[first]))

    def _bound_column(self, v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The displayed per-comparison bound at each grid score: the larger of the binomial
        and the cluster bound (``nan``: none measured, the binomial alone), then raised to the
        largest bound at any higher score. A rate at or above a lower score can never be
        smaller, so neither can its bound; the step where the bootstrap starts would otherwise
        break that."""
        finite = v[np.isfinite(v)]
        if np.any(finite < 0) or np.any(finite > 1):
            raise ValidationError("cluster_upper95 must be a list of rates in [0, 1] (or null)")
        k, n = self.counts, self.comparisons
        binomial = np.where(k >= n, 1.0, beta.ppf(CONFIDENCE, k + 1, np.maximum(n - k, 1)))
        both = np.maximum(binomial, np.where(np.isfinite(v), v, 0.0))
        return np.asarray(np.maximum.accumulate(both[::-1])[::-1], np.float64)

    def upper_at(self, score: float) -> float:
        """Per-comparison 95% upper bound at ``score``: the larger of the exact binomial bound
        and, where the file has one, the identity-cluster bound (see the module docstring)."""
        i = int(np.searchsorted(self.scores, score, side="right")) - 1
        if i < 0:
            return 1.0
        bound = upper_bound(int(self.counts[i]), self.comparisons)
        if self.cluster_upper is not None and math.isfinite(self.cluster_upper[i]):
            bound = max(bound, float(self.cluster_upper[i]))
        return bound

    def count_at(self, score: float) -> int:
        """Comparisons at or above ``score`` (read at the next grid score at or below it)."""
        i = int(np.searchsorted(self.scores, score, side="right")) - 1
        return self.comparisons if i < 0 else int(self.counts[i])

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "templates_per_person": self.templates_per_person,
            "comparisons": self.comparisons,
            "score": self.scores.round(6).tolist(),
            "count": self.counts.tolist(),
        }
        if self.cluster_upper is not None:
            # null where the bootstrap was not run (below the tail): the binomial bound applies
            doc["cluster_upper95"] = [
                float(f"{x:.6g}") if math.isfinite(x) else None for x in self.cluster_upper
            ]
        if self.design_effect is not None:
            doc["design_effect"] = round(self.design_effect, 3)
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, object]) -> FmrCurve:
        """A curve from the new (``count``) or the old (``fmr`` fractions) layout."""
        scores = np.asarray(doc["score"], np.float64)
        if "count" in doc:
            n = int(doc["comparisons"])  # type: ignore[call-overload]
            counts = np.asarray(doc["count"], np.float64)
        elif "fmr" in doc and doc.get("impostor_comparisons"):
            n = int(doc["impostor_comparisons"][0])  # type: ignore[index]
            counts = np.round(np.asarray(doc["fmr"], np.float64) * n)
        else:
            raise KeyError("the curve has neither 'count' nor 'fmr' with 'impostor_comparisons'")
        k = int(doc.get("templates_per_person", 1))  # type: ignore[call-overload]
        raw = doc.get("cluster_upper95")
        cluster = None
        if raw is not None:
            cluster = np.array([math.nan if x is None else x for x in raw], np.float64)  # type: ignore[attr-defined]
        deff = doc.get("design_effect")
        return cls(
            scores, counts.astype(np.int64), n, k, cluster,
            None if deff is None else float(deff),  # type: ignore[arg-type]
        )  # fmt: skip


@dataclass(frozen=True)
class FalseAlertModel:
    """The measured FMR curves (one per templates-per-person) and the rates they imply.

    ``curves`` holds at least the one-template curve; more curves let multi-photo watchlists be
    predicted per person from measurement instead of from a formula.
    """

    curves: tuple[FmrCurve, ...]
    threshold: float | None = None
    model: str = ""

    def __post_init__(self) -> None:
        if not self.curves:
            raise ValidationError("a false-alert model needs at least one curve")
        ordered = tuple(sorted(self.curves, key=lambda c: c.templates_per_person))
        if ordered[0].templates_per_person != 1:
            raise ValidationError("a false-alert model needs the one-template-per-person curve")
        object.__setattr__(self, "curves", ordered)

    @classmethod
    def from_counts(
        cls, scores: npt.ArrayLike, counts: npt.ArrayLike, comparisons: int, **kw: object
    ) -> FalseAlertModel:
        """A one-curve model (tests, tools)."""
        curve = FmrCurve(np.asarray(scores, np.float64), np.asarray(counts, np.int64), comparisons)
        return cls((curve,), **kw)  # type: ignore[arg-type]

    @classmethod
    def from_file(cls, path: Path) -> FalseAlertModel:
        """Read a calibration JSON written by ``vigil calibrate`` (this or the older layout)."""
        try:
            doc = json.loads(Path(path).read_text())
            curves = [FmrCurve.from_json(doc["fmr_curve"])]
            curves += [FmrCurve.from_json(c) for c in doc.get("person_curves", [])]
            return cls(tuple(curves), threshold=doc.get("threshold"), model=str(doc.get("model")))
        except (OSError, KeyError, ValueError, TypeError, ValidationError) as exc:
            raise ConfigError(f"calibration file {path} is unusable ({exc}); {REGENERATE}") from exc

    def curve_for(self, templates_per_person: int) -> FmrCurve | None:
        """The measured curve whose templates-per-person covers ``templates_per_person``."""
        for c in self.curves:
            if c.templates_per_person >= templates_per_person:
                return c
        return None

    def fpir(self, score: float, persons: int, templates_per_person: int = 1) -> RateEstimate:
        """False-alert rate of one search at ``score`` against ``persons`` enrolled people.

        ``templates_per_person`` is the largest number of templates any one of them has. Without
        a curve measured at that many, every template counts as a person (union bound).
        """
        if persons < 1 or templates_per_person < 1:
            raise ValidationError(
                f"need >= 1 person and template, got {persons}, {templates_per_person}"
            )
        curve = self.curve_for(templates_per_person)
        if curve is None:
            curve, persons = self.curves[0], persons * templates_per_person
        return curve_fpir(curve, score, persons)

    def fmr_at(self, score: float) -> float:
        """Per-comparison FMR at ``score``: the 95% upper bound (one template per person)."""
        return self.curves[0].upper_at(score)

    def max_watchlist_size(
        self, threshold: float, target_fpir: float, templates_per_person: int = 1
    ) -> int:
        """Largest number of people whose bounded FPIR at ``threshold`` stays within the target."""
        if not 0 < target_fpir < 1:
            raise ValidationError(f"target FPIR must be in (0, 1), got {target_fpir}")
        curve = self.curve_for(templates_per_person)
        per = 1 if curve is not None else templates_per_person
        curve = curve or self.curves[0]
        return max(0, math.floor(target_fpir / curve.upper_at(threshold) / per))

    def threshold_for(
        self, target_fpir: float, persons: int, templates_per_person: int = 1
    ) -> float:
        """Lowest grid score whose bounded FPIR for ``persons`` is within ``target_fpir``.

        Raises:
            ValidationError: the calibration data cannot show a rate that low for that many.
        """
        curve = self.curve_for(templates_per_person) or self.curves[0]
        for s in curve.scores:
            if self.fpir(float(s), persons, templates_per_person).upper <= target_fpir:
                return float(s)
        raise ValidationError(
            f"the calibration data cannot bound FPIR at {target_fpir:g} for {persons} people",
            hint="use a smaller watchlist, a higher target, or more calibration data",
        )


def curve_fpir(curve: FmrCurve, score: float, persons: int) -> RateEstimate:
    """Point and bound of one search's false-alert rate against ``persons`` (see the module)."""
    k, n = curve.count_at(score), curve.comparisons
    fmr, bound = k / n, curve.upper_at(score)
    point = 1.0 if fmr >= 1 else float(-math.expm1(persons * math.log1p(-fmr)))
    return RateEstimate(point, max(point, min(1.0, persons * bound)), k, n)


GRID_RESOLUTION = 1e-6
EXACT_TAIL = 1000


def _floor_to_grid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``x`` moved down onto the 1e-6 lattice the file stores, never above ``x`` itself.

    ``floor(x * 1e6) / 1e6`` can land one ulp above ``x`` (or a whole step below a lattice
    value); rounding to 6 places and stepping down where that overshot gives the lattice value
    at or below ``x``, which ``round(.., 6)`` in :meth:`FmrCurve.to_json` then keeps unchanged.
    """
    g = np.round(x, 6)
    return np.where(g > x, np.round(g - GRID_RESOLUTION, 6), g)


def curve_from_scores(
    impostor_scores: npt.ArrayLike,
    points: int = 400,
    templates_per_person: int = 1,
    exact_tail: int = EXACT_TAIL,
) -> FmrCurve:
    """An :class:`FmrCurve` from raw impostor scores: a quantile grid, exact in the tail.

    The body of the curve is a quantile grid of ``points`` scores (dense towards the tail). The
    tail, where thresholds live, is exact: for each of the ``exact_tail`` highest impostor
    scores, its 1e-6 step (the lattice the file stores, at or below the score) and the step
    above it are grid points. :meth:`FmrCurve.count_at` at any threshold on that lattice in the
    tail then reads the exact count of scores at or above it, instead of the count at the
    quantile step below (which over-counted by up to 2x at the counts of 1-3 behind the shipped
    threshold); at a threshold between lattice steps the only excess left is scores in the
    threshold's own 1e-6 step, below it. Grid points sit at or below the scores they stand for,
    so a count never understates.

    Trade-off of ``exact_tail``: 1,000 covers the tail down to FMR ~1.7e-4 on the packaged 5.9
    million comparisons (thresholds in use sit at counts below 100) for up to 2,000 more grid
    points (~100 kB of indented JSON per curve with its cluster bound); more buys exactness
    deeper in the tail, where the quantile grid is already fine.

    The grid ends one step above the highest impostor score with a count of 0, so scores above
    everything seen read "below what the data can show" rather than the last observed count.
    """
    s = np.sort(np.asarray(impostor_scores, np.float64).reshape(-1))
    if len(s) < 2:
        raise ValidationError(f"need >= 2 impostor scores, got {len(s)}")
    if exact_tail < 0:
        raise ValidationError(f"exact_tail must be >= 0, got {exact_tail}")
    q = np.concatenate([np.linspace(0, 0.99, points // 2), 1 - np.logspace(-2, -7, points // 2)])
    # each tail score's step and the step above it: a threshold between two tail scores then
    # reads the count above the lower one, not at it
    low = _floor_to_grid(s[len(s) - min(exact_tail, len(s)) :])
    tail = np.unique(np.concatenate([low, np.round(low + GRID_RESOLUTION, 6)]))
    body = _floor_to_grid(np.quantile(s, q))
    # quantile points inside the exact tail would only repeat counts the tail already has
    body = body[body < tail[0]] if len(tail) else body
    grid = np.unique(np.concatenate([body, tail]))
    top = float(np.round(_floor_to_grid(s[-1:])[0] + GRID_RESOLUTION, 6))
    grid = np.append(grid[grid < top], top)
    counts = len(s) - np.searchsorted(s, grid, side="left")
    return FmrCurve(grid, counts.astype(np.int64), len(s), templates_per_person)


def rates_table(
    model: FalseAlertModel, scores: Sequence[float], persons: int, templates_per_person: int = 1
) -> list[RateEstimate]:
    """The bounded FPIR at each score (for reports)."""
    return [model.fpir(s, persons, templates_per_person) for s in scores]
