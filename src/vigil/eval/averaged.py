"""The realised FPIR averaged over every possible watchlist, exactly (Rao–Blackwell).

``vigil eval far`` searches each held-out half with **one** random watchlist of N people and
counts the non-mated searches whose top score reaches the threshold. That single draw is an
unbiased estimate of what a random watchlist of N of these people would show, but a noisy one:
at the shipped threshold it rests on 1-11 false alerts, and whether a look-alike pair's enrolled
half happens to be drawn moves it by a factor of two or more. The point estimate cannot be
judged against that noise (``python -m bench.far_point noise``: an unbiased estimator lands
within 2x of a single draw in five of five splits about 12% of the time).

**What this computes.** The same quantity averaged over *every* N-subset of the held-out people
who could be enrolled, in closed form, so the draw-to-draw noise is gone (the noise of the
held-out population itself remains: which people are in the half). For a search image ``p``
let ``b`` be the candidates whose enrolment would take ``p`` out of the non-mated searches (its
own person, and a twin, whose images the protocol excludes) and ``a`` the other candidates who
score at or above the threshold against it. With ``M`` candidates and a uniformly random
watchlist ``W`` of ``N``, and ``h(x) = C(M - x, N) / C(M, N)`` (the chance that ``W`` avoids
``x`` given people):

* ``P(p is a non-mated search) = h(b)``;
* ``P(p is a non-mated search and raises a false alert) = h(b) - h(b + a)``.

The averaged rate is expected false alerts over expected non-mated searches (a ratio of
expectations; with one search per person the denominator is the same for every watchlist, so it
is also the expected rate; with every image searched it differs by well under a part in a
hundred, the photos per non-enrolled person barely changing with the draw). Exact, no sampling:
one scoring pass of every search image against every candidate, then sums.

**What is held fixed, as in the protocol.** Each candidate's enrolment photos (a seeded choice,
as :func:`vigil.eval.protocols.build_open_set` makes one), and with ``probes_per_person`` the
photo(s) each person is searched with (seeded). The protocol's own draw takes at most one person
per twin group; the average is over uniform N-subsets of the candidates (the packaged alias list
has one twin pair, so the two differ by a term of order ``N / M^2``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from vigil.errors import ValidationError
from vigil.eval import protocols

Int64 = npt.NDArray[np.int64]
Float64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WatchlistPool:
    """Everyone who could be enrolled, with their enrolment photos, and every search image.

    Attributes:
        candidates: people who could be enrolled (alias-resolved names, sorted).
        gallery: ``(M, k)`` enrolment image indices of each candidate.
        candidate_group: twin-group id of each candidate.
        probes: image indices searched (each is non-mated unless its person is enrolled).
        probe_group: twin-group id of each probe's person.
    """

    candidates: tuple[str, ...]
    gallery: Int64
    candidate_group: Int64
    probes: Int64
    probe_group: Int64

    def __post_init__(self) -> None:
        m = len(self.candidates)
        if (
            self.gallery.ndim != 2
            or self.gallery.shape[0] != m
            or self.candidate_group.shape != (m,)
        ):
            raise ValidationError(
                f"gallery must be (M={m}, k) and candidate_group (M,), got "
                f"{self.gallery.shape} and {self.candidate_group.shape}"
            )
        if self.probes.shape != self.probe_group.shape or self.probes.ndim != 1:
            raise ValidationError("probes and probe_group must be aligned 1-D arrays")

    @property
    def blocking(self) -> Int64:
        """Per probe, the candidates whose enrolment takes it out of the non-mated searches."""
        per_group = np.bincount(
            self.candidate_group, minlength=int(max(self.probe_group.max(initial=0) + 1, 1))
        )
        return np.asarray(per_group[self.probe_group], np.int64)


@dataclass(frozen=True, slots=True)
class AveragedRate:
    """The realised FPIR at ``threshold``, averaged over every watchlist of ``watchlist_size``.

    ``expected_alerts`` and ``expected_searches`` are the means over all watchlists of the false
    alerts and of the non-mated searches; ``value`` is their ratio.
    """

    threshold: float
    watchlist_size: int
    candidates: int
    expected_alerts: float
    expected_searches: float

    def __post_init__(self) -> None:
        if not 0 <= self.expected_alerts <= self.expected_searches:
            raise ValidationError(
                f"need 0 <= expected alerts <= expected searches, got "
                f"{self.expected_alerts}, {self.expected_searches}"
            )

    @property
    def value(self) -> float:
        return self.expected_alerts / self.expected_searches if self.expected_searches else 0.0


def build_pool(
    identities: Sequence[str],
    *,
    seed: int,
    images_per_identity: int = 1,
    min_images: int | None = None,
    aliases: protocols.Aliases | None = None,
    restrict_to: Collection[str] | None = None,
    probes_per_person: int | None = None,
) -> WatchlistPool:
    """The pool behind :func:`vigil.eval.protocols.build_open_set`'s random watchlists.

    Same people, same eligibility (``min_images``, default ``k + 1``) and alias treatment; the
    enrolment photos and the capped search photos are seeded choices fixed for every watchlist.
    ``probes_per_person`` caps per folder name, as :func:`vigil.eval.far.cap_probes` does (an
    alias-merged person is searched once per spelling).
    """
    al = aliases or protocols.Aliases.none()
    k = images_per_identity
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(identities):
        if restrict_to is None or name in restrict_to:
            by_person[al.person(name)].append(i)
    need = min_images if min_images is not None else k + 1
    candidates = sorted(p for p, imgs in by_person.items() if len(imgs) >= max(need, k))
    if not candidates:
        raise ValidationError(f"no person has the {max(need, k)} images enrolment needs")
    rng = np.random.default_rng(seed)
    gallery = np.array(
        [np.sort(rng.choice(by_person[p], size=k, replace=False)) for p in candidates], np.int64
    ).reshape(len(candidates), k)
    group_id: dict[str, int] = {}
    probes: list[int] = []
    probe_group: list[int] = []
    for person in sorted(by_person):
        imgs = by_person[person]
        if probes_per_person is not None:  # per folder name, as far.cap_probes caps
            folders: dict[str, list[int]] = defaultdict(list)
            for i in imgs:
                folders[identities[i]].append(i)
            imgs = sorted(
                j for f in folders.values()
                for j in (rng.permutation(f)[:probes_per_person].tolist()
                          if len(f) > probes_per_person else f)
            )  # fmt: skip
        g = group_id.setdefault(al.group(person), len(group_id))
        probes += imgs
        probe_group += [g] * len(imgs)
    cand_group = [group_id[al.group(p)] for p in candidates]
    return WatchlistPool(
        tuple(candidates), gallery, np.asarray(cand_group, np.int64),
        np.asarray(probes, np.int64), np.asarray(probe_group, np.int64),
    )  # fmt: skip


def avoid_probability(m: int, n: int, x: npt.ArrayLike) -> Float64:
    """``C(m - x, n) / C(m, n)``: the chance a uniform ``n``-subset of ``m`` avoids ``x`` given."""
    if not 1 <= n <= m:
        raise ValidationError(f"need 1 <= watchlist size <= candidates, got {n} of {m}")
    xs = np.asarray(x, np.float64)
    rest = m - xs
    log = gammaln(rest + 1) - gammaln(np.maximum(rest - n, 0) + 1) - gammaln(m + 1)
    log += gammaln(m - n + 1)
    return np.where(rest >= n, np.exp(log), 0.0)


def reach_counts(
    pool: WatchlistPool,
    scorer: protocols.Scorer,
    thresholds: Sequence[float],
    *,
    chunk_size: int = 1024,
) -> Int64:
    """``(len(thresholds), probes)``: candidates outside each probe's own twin group whose
    score (max over their enrolment photos, as the search fuses them) reaches each threshold."""
    m, k = pool.gallery.shape
    flat = pool.gallery.reshape(-1)
    t = np.asarray(thresholds, np.float64)
    out = np.zeros((len(t), len(pool.probes)), np.int64)
    for start in range(0, len(pool.probes), chunk_size):
        sl = slice(start, min(start + chunk_size, len(pool.probes)))
        s = np.asarray(scorer.matrix(pool.probes[sl], flat), np.float32)
        if s.shape != (sl.stop - sl.start, m * k):
            raise ValidationError(
                f"scorer returned {s.shape}, expected {(sl.stop - sl.start, m * k)}"
            )
        person = s.reshape(-1, m, k).max(axis=2).astype(np.float64)
        person[pool.probe_group[sl, None] == pool.candidate_group[None, :]] = -np.inf
        out[:, sl] = (person[None, :, :] >= t[:, None, None]).sum(axis=2)
    return out


def averaged_fpir(
    pool: WatchlistPool,
    scorer: protocols.Scorer,
    watchlist_size: int,
    thresholds: Sequence[float],
) -> list[AveragedRate]:
    """The realised FPIR at each threshold, averaged over every watchlist (module docstring)."""
    m, n = len(pool.candidates), watchlist_size
    b = pool.blocking
    searched = avoid_probability(m, n, b)
    reach = reach_counts(pool, scorer, thresholds)
    out = []
    for t, a in zip(thresholds, reach, strict=True):
        alert = np.maximum(searched - avoid_probability(m, n, b + a), 0.0)
        out.append(AveragedRate(float(t), n, m, float(alert.sum()), float(searched.sum())))
    return out
