"""Drift watch: does a deployment raise more false alerts than its calibration promised?

Each search (a face track compared with a deployment's watchlists) is a Bernoulli trial: it ends
in a false alert (an alert the verifiers reject) or not. The calibration predicts the rate as a
95% upper bound ``p0`` (the FPIR bound at the threshold for the deployment's watchlist). The
watch runs a Bernoulli **CUSUM** — Wald's sequential probability ratio test restarted whenever it
would accept the null — of

* H0: the per-search false-alert rate is ``p0`` (what the alert screen promises), against
* H1: it is ``RATIO * p0`` (three times the promise).

Each search adds ``log((1 - p1) / (1 - p0))`` (a small negative step) to the statistic, floored
at 0; each rejected alert adds ``log(p1 / p0)``. The deployment is flagged when the statistic
reaches ``THRESHOLD``. With ``RATIO = 3`` and ``THRESHOLD = 10`` (checked by simulation in
``tests/unit/test_drift.py`` and stated in docs/safeguards.md):

* false-alarm rate (α): a deployment whose true rate *is* ``p0`` is flagged within
  ``HORIZON / p0`` searches (100 expected false alerts) in at most 1% of deployments;
* detection (1 − β): one whose true rate is 5 × ``p0`` is flagged within
  ``DETECT_WITHIN / p0`` searches (8 expected false alerts at the promised rate, 40 at the true
  one) in at least 99% of deployments.

Trade-offs: a larger ratio or threshold flags later but more surely; both scale with ``1 / p0``,
so at ``p0 = 1e-3`` detection takes up to 8,000 searches. Searches are counted when the camera
reports its scan counts and a rejection arrives later, so a rejection adds ``log(p1 / p0) -
log((1 - p1) / (1 - p0))`` (its search was already counted as a clean one). Alerts confirmed or
still pending count as clean: the watch can only be late, never early.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from vigil.errors import ValidationError
from vigil.storage.drift import DriftRow, DriftStore

log = logging.getLogger(__name__)

RATIO = 3.0
THRESHOLD = 10.0
HORIZON = 100.0  # x 1/p0 searches: the window the false-alarm rate is stated for
ALPHA = 0.01  # stated false-alarm rate within HORIZON / p0 searches at the promised rate
DETECT_WITHIN = 8.0  # x 1/p0 searches: at 5x the promised rate, flagged within this ...
DETECT_POWER = 0.99  # ... in at least this share of deployments


@dataclass(frozen=True, slots=True)
class Cusum:
    """The Bernoulli CUSUM's steps for one promised rate ``p0`` (pure arithmetic)."""

    p0: float
    ratio: float = RATIO
    threshold: float = THRESHOLD

    def __post_init__(self) -> None:
        if not 0 < self.p0 < 1 / self.ratio:
            raise ValidationError(f"predicted rate must be in (0, 1/{self.ratio:g}), got {self.p0}")
        if self.ratio <= 1 or self.threshold <= 0:
            raise ValidationError("the CUSUM needs ratio > 1 and threshold > 0")

    @property
    def up(self) -> float:
        """What a false alert adds."""
        return math.log(self.ratio)

    @property
    def down(self) -> float:
        """What a clean search adds (negative)."""
        return math.log1p(-self.ratio * self.p0) - math.log1p(-self.p0)

    def after_searches(self, statistic: float, n: int) -> float:
        """The statistic after ``n`` clean searches (floored at 0)."""
        return max(0.0, statistic + n * self.down)

    def after_false_alert(self, statistic: float) -> float:
        """The statistic after a rejection of an alert whose search was counted clean."""
        return max(0.0, statistic + self.up - self.down)

    def flagged(self, statistic: float) -> bool:
        return statistic >= self.threshold


def simulate(
    p0: float, true_rate: float, runs: int, horizon: float, seed: int
) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """Searches until the first flag in ``runs`` simulated deployments (``inf``: not flagged
    within ``horizon`` searches). Event-driven: jumps from one false alert to the next."""
    c = Cusum(p0)
    rng = np.random.default_rng(seed)
    s = np.zeros(runs)
    t = np.zeros(runs)
    flag = np.full(runs, np.inf)
    alive = np.ones(runs, bool)
    while alive.any():
        gap = rng.geometric(true_rate, int(alive.sum())).astype(np.float64)
        t[alive] += gap
        s[alive] = np.maximum(0.0, s[alive] + (gap - 1) * c.down) + c.up
        hit = alive & (s >= c.threshold) & (t <= horizon)
        flag[hit] = t[hit]
        alive &= ~hit & (t < horizon)
    return flag


@dataclass(frozen=True, slots=True)
class DriftFlag:
    """A deployment just crossed the threshold (what the caller audits and announces)."""

    deployment_id: str
    searches: int
    false_alerts: int
    predicted_rate: float


class DriftWatch:
    """Keeps each deployment's CUSUM in ``deployment_drift``; call it inside the unit of work
    of the change that feeds it, so the state and any audit entry commit together.

    Args:
        store: the persisted state.
        predicted_rate: the FPIR upper bound per search for a deployment (``None``: the
            deployment has no calibrated rate, so nothing is watched).
    """

    def __init__(
        self,
        store: DriftStore,
        predicted_rate: Callable[[str], float | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.predicted_rate = predicted_rate
        self.clock = clock

    def _row(self, deployment_id: str) -> DriftRow | None:
        row = self.store.get(deployment_id)
        if row is not None:
            return row
        p0 = self.predicted_rate(deployment_id)
        if p0 is None or not 0 < p0 < 1 / RATIO:
            return None
        return DriftRow(deployment_id, p0, 0.0, 0, 0, self.clock())

    def searched(self, deployment_id: str, n: int) -> None:
        """``n`` more searches ran in the deployment."""
        row = self._row(deployment_id)
        if row is None or n <= 0:
            return
        stat = Cusum(row.predicted_rate).after_searches(row.statistic, n)
        self.store.put(
            replace(row, statistic=stat, searches=row.searches + n, updated_at=self.clock())
        )

    def rejected(self, deployment_id: str) -> DriftFlag | None:
        """One of the deployment's alerts was rejected; returns a flag when this crossed."""
        row = self._row(deployment_id)
        if row is None:
            return None
        c = Cusum(row.predicted_rate)
        stat = c.after_false_alert(row.statistic)
        now = self.clock()
        new = replace(
            row,
            statistic=stat,
            false_alerts=row.false_alerts + 1,
            searches=max(row.searches, row.false_alerts + 1),
            updated_at=now,
        )
        crossed = c.flagged(stat) and row.flagged_at is None
        if crossed:
            new = replace(
                new,
                flagged_at=now,
                flagged_searches=new.searches,
                flagged_false_alerts=new.false_alerts,
            )
        self.store.put(new)
        if not crossed:
            return None
        log.warning("deployment %s: false alerts above the calibrated rate", deployment_id)
        return DriftFlag(deployment_id, new.searches, new.false_alerts, row.predicted_rate)

    def state(self, deployment_id: str) -> DriftRow | None:
        return self.store.get(deployment_id)
