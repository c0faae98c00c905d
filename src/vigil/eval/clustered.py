"""A false-match bound that survives clustered comparisons: the identity (pigeonhole) bootstrap.

The exact binomial bound of :mod:`vigil.identification.calibration` treats the ~10 million
impostor comparisons behind the curve as independent. They are not: comparisons come in blocks
that share a person. George W. Bush's 530 photos against an enrolled Jeb Bush are 530 comparisons
that stand or fall together, so whether such a pair of look-alikes is in the data moves the count
at a high score by hundreds, while the binomial bound allows for a few. On identity-disjoint LFW
splits this made the realised FPIR exceed the displayed bound in 3 of 5 splits.

**Method.** The comparisons form a crossed design: *probe people* (each with all their probe
images) against *enrolled people*. The two-way ("pigeonhole") bootstrap (Owen, 2007, *The
pigeonhole bootstrap*, Ann. Appl. Stat. 1(2)) resamples both with replacement, independently:
each replicate draws multinomial weights ``w_p`` for the probe people and ``w_e`` for the
enrolled ones, and every comparison counts ``w_p[probe person] * w_e[enrolled person]`` times,
in the numerator (comparisons at or above a score) and in the denominator (all comparisons).
The 95th percentile of the replicated FMR at each grid score is the **cluster bound**. It asks
"how different could the rate be with another draw of *people*", which is the uncertainty a new
deployment faces; for crossed designs it is known to err on the wide side, the safe side here.

**Where the tail runs out of people.** At the scores thresholds sit at, a handful of
comparisons remain (3 of 4 million at the shipped threshold), often from one pair of people; a
percentile of a bootstrap over them says little, and a look-alike pair the calibration people
happen to lack cannot show at all. So the bound also carries the clustering measured where
there is data down to where there is not: the **design effect** ``D`` (bootstrap variance of the
rate over the binomial variance; Kish) is measured at every tail score with at least
:data:`MIN_DEFF_COUNT` comparisons above it, the largest in the upper tail is kept, and the
exact bound is taken with the effective sample size, ``k / D`` of ``n / D`` (Korn & Graubard,
1998, Survey Methodology 24: exact intervals for rare proportions from clustered surveys). For
the packaged calibration ``D`` is 5.7 (one photo), 9.6 (two photos per person) and 335 (three,
on 500 people, one cluster dominating): the bound widens by up to ``D`` in the far tail and by
about ``sqrt(D)`` where counts are large. The cluster bound at a score is the larger of the
bootstrap percentile and this corrected exact bound.

**What is stored.** ``vigil calibrate`` writes the cluster bound per grid score beside the counts
(``cluster_upper95``); the alert code displays ``max(binomial bound, cluster bound)``. Where a
score has few or no impostor comparisons above it the bootstrap has nothing to resample and the
binomial bound is the larger, so it stays. The bootstrap runs only in the tail (grid scores with
FMR <= 1%, where thresholds live); below it the entry is ``null`` and the binomial bound applies.

**Cost.** One more scoring pass over the calibration searches (the tail's identities are not in
the flat score array) and ``replicates`` weighted sums over the tail (~100k comparisons at N =
1,000): seconds. Trade-off of ``replicates``: 400 gives the 95th percentile to about +-10%
between seeds; more is slower and changes little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import beta

from vigil.errors import ValidationError
from vigil.eval import protocols
from vigil.identification.calibration import FmrCurve, curve_from_scores

TAIL_FMR = 0.01
MIN_DEFF_COUNT = 20
REPLICATES = 400
BOOTSTRAP_SEED = 20261204


@dataclass(frozen=True, slots=True)
class ImpostorTail:
    """The impostor comparisons at or above ``floor``, with the people they involve.

    Attributes:
        scores: each tail comparison's score (per person: max over their templates).
        probe_person: index (into ``probe_images``) of the probe's person.
        enrolled: row of the enrolled person compared with.
        probe_images: probe images of each probe person.
        probe_mate: enrolled row of each probe person (``-1`` when not enrolled); a probe is not
            compared with its own mate, so the denominator leaves that row out.
        n_enrolled: enrolled people.
        floor: the lowest score kept.
    """

    scores: npt.NDArray[np.float64]
    probe_person: npt.NDArray[np.int64]
    enrolled: npt.NDArray[np.int64]
    probe_images: npt.NDArray[np.int64]
    probe_mate: npt.NDArray[np.int64]
    n_enrolled: int
    floor: float

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.probe_person.shape != (n,) or self.enrolled.shape != (n,):
            raise ValidationError("tail scores, probe people and enrolled rows must align")
        if self.probe_images.shape != self.probe_mate.shape:
            raise ValidationError("probe_images and probe_mate must align")

    @property
    def comparisons(self) -> int:
        """All impostor comparisons (not only the tail's)."""
        per = self.n_enrolled - (self.probe_mate >= 0)
        return int((self.probe_images * per).sum())


def collect_tail(
    proto: protocols.OpenSetProtocol,
    identities: Sequence[str],
    scorer: protocols.Scorer,
    floor: float,
    *,
    chunk_size: int = 1024,
) -> ImpostorTail:
    """Score every search of ``proto`` and keep the impostor comparisons at or above ``floor``.

    Scores are fused per person with ``max``, as :func:`vigil.eval.protocols.search` does.
    Probe people are folder names (aliases merged by the protocol share a mate, so they are one
    cluster in the enrolled dimension either way).
    """
    n, k = proto.gallery.shape
    flat = proto.gallery.reshape(-1)
    probes = np.concatenate([proto.mated, proto.nonmated]).astype(np.int64)
    mate = np.concatenate([proto.mated_identity, np.full(len(proto.nonmated), -1)])
    names = [identities[int(i)] for i in probes]
    people, person_of = np.unique(np.asarray(names, dtype=str), return_inverse=True)
    person_of = person_of.astype(np.int64)
    images = np.bincount(person_of, minlength=len(people)).astype(np.int64)
    mates = np.full(len(people), -1, np.int64)
    mates[person_of] = mate
    parts: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for start in range(0, len(probes), chunk_size):
        sl = slice(start, min(start + chunk_size, len(probes)))
        s = np.asarray(scorer.matrix(probes[sl], flat), np.float32).reshape(-1, n, k).max(axis=2)
        m = mate[sl]
        rows = np.arange(len(m))
        s[rows[m >= 0], m[m >= 0]] = -np.inf  # a probe against its own mate is no impostor
        r, c = np.nonzero(s >= floor)
        parts.append((s[r, c].astype(np.float64), person_of[sl][r], c.astype(np.int64)))
    cat = [np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(3)]
    return ImpostorTail(
        cat[0], cat[1].astype(np.int64), cat[2].astype(np.int64), images, mates, n, floor
    )


def cluster_upper(
    tail: ImpostorTail,
    grid: npt.ArrayLike,
    *,
    replicates: int = REPLICATES,
    confidence: float = 0.95,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[npt.NDArray[np.float64], float]:
    """The cluster bound at each grid score (``nan`` below the tail's floor) and the design
    effect behind it. See the module docstring."""
    if replicates < 20:
        raise ValidationError(f"need >= 20 bootstrap replicates, got {replicates}")
    g = np.asarray(grid, np.float64)
    order = np.argsort(tail.scores, kind="stable")
    s = tail.scores[order]
    pp, ee = tail.probe_person[order], tail.enrolled[order]
    in_tail = g >= tail.floor
    start = np.searchsorted(s, g[in_tail], side="left")
    n_p, n_e = len(tail.probe_images), tail.n_enrolled
    rng = np.random.default_rng(seed)
    fmr = np.empty((replicates, int(in_tail.sum())))
    for b in range(replicates):
        wp = rng.multinomial(n_p, np.full(n_p, 1.0 / n_p)).astype(np.float64)
        we = rng.multinomial(n_e, np.full(n_e, 1.0 / n_e)).astype(np.float64)
        w = wp[pp] * we[ee]
        above = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])[start]
        own = np.where(tail.probe_mate >= 0, we[np.maximum(tail.probe_mate, 0)], 0.0)
        denominator = float((wp * tail.probe_images * (we.sum() - own)).sum())
        fmr[b] = above / denominator if denominator > 0 else 1.0
    out = np.full(len(g), np.nan)
    out[in_tail] = np.minimum(1.0, np.quantile(fmr, confidence, axis=0))
    counts = len(s) - start
    deff, local = design_effects(fmr, counts, tail.comparisons)
    d = np.maximum(deff, local)
    k_eff, n_eff = counts / d, tail.comparisons / d
    korn_graubard = beta.ppf(confidence, k_eff + 1, np.maximum(n_eff - k_eff, 1e-9))
    out[in_tail] = np.maximum(out[in_tail], np.minimum(1.0, korn_graubard))
    return out, deff


def design_effects(
    fmr: npt.NDArray[np.float64], counts: npt.NDArray[np.int64], comparisons: int
) -> tuple[float, npt.NDArray[np.float64]]:
    """The design effect carried into the far tail, and the one measured at each grid score.

    A design effect is the bootstrap variance of the rate over the binomial one. It is measured
    only where at least :data:`MIN_DEFF_COUNT` comparisons lie above the score (fewer make the
    variance itself noise); ``local`` is 1 elsewhere. The carried one is the largest measured in
    the upper tail (at most ``10 * MIN_DEFF_COUNT`` comparisons above), the data nearest the
    thresholds; lower scores with their much larger counts can show far larger design effects
    (a 530-photo person dominates the variance there) that do not describe the far tail.
    """
    p = counts / comparisons
    local = np.ones(len(counts))
    ok = counts >= MIN_DEFF_COUNT
    if ok.any():
        var = fmr[:, ok].var(axis=0, ddof=1)
        local[ok] = np.maximum(1.0, var / (p[ok] * (1 - p[ok]) / comparisons))
    upper = ok & (counts <= 10 * MIN_DEFF_COUNT)
    return float(local[upper].max()) if upper.any() else 1.0, local


def clustered_curve(
    proto: protocols.OpenSetProtocol,
    identities: Sequence[str],
    scorer: protocols.Scorer,
    impostor_scores: npt.ArrayLike,
    *,
    templates_per_person: int = 1,
    replicates: int = REPLICATES,
) -> FmrCurve:
    """The FMR curve of ``proto``'s searches with the cluster bound beside the counts.

    ``impostor_scores`` are the flat impostor scores of the same searches
    (:func:`vigil.eval.protocols.search` with ``collect_impostors``): they give the counts; the
    tail is scored again here to know whose comparisons they are.
    """
    curve = curve_from_scores(impostor_scores, templates_per_person=templates_per_person)
    tail_start = int(np.argmax(curve.counts <= TAIL_FMR * curve.comparisons))
    floor = float(curve.scores[tail_start])
    tail = collect_tail(proto, identities, scorer, floor)
    if tail.comparisons != curve.comparisons:
        raise ValidationError(
            f"the tail pass saw {tail.comparisons} comparisons, the curve {curve.comparisons}"
        )
    bound, deff = cluster_upper(tail, curve.scores, replicates=replicates)
    return FmrCurve(
        curve.scores, curve.counts, curve.comparisons, templates_per_person, bound, deff
    )


def nonmated_curve(
    proto: protocols.OpenSetProtocol,
    identities: Sequence[str],
    scorer: protocols.Scorer,
    *,
    replicates: int = REPLICATES,
) -> FmrCurve:
    """The curve of ``proto``'s **non-mated** searches only, with the cluster bound.

    What ``vigil calibrate`` writes and ``vigil eval far`` fits. FPIR is a rate of non-mated
    searches; the enrolled people's other photos (mated probes) are another population: on
    LFW they held 2 of the 44 impostor comparisons at the shipped threshold while making 24-36%
    of them, and pooling them diluted the point (docs/false-alert-rates.md, section 2a).
    """
    only = protocols.nonmated_only(proto)
    res = protocols.search(only, scorer, collect_impostors=True)
    k = only.gallery.shape[1]
    return clustered_curve(
        only, identities, scorer, res.impostor_scores, templates_per_person=k,
        replicates=replicates,
    )  # fmt: skip
