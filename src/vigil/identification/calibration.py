"""The calibrated false-alert rate: what an alert's score means for a watchlist of N people.

``vigil calibrate`` writes the FMR-by-score curve measured on real impostor comparisons
(``fmr_curve: {score: [...], fmr: [...]}``, see :func:`vigil.eval.faces.write_calibration`). FMR
(one probe against one non-mated template scoring at or above ``s``) does not depend on the
watchlist size, so the false-positive identification rate for a watchlist of ``N`` templates is
``FPIR(s, N) = 1 - (1 - FMR(s))^N`` (independent comparisons; conservative when one person has
several templates, since those comparisons are correlated).

Between grid points FMR is read at the next grid score *at or below* ``s`` (a step function
that never under-states the rate). Beyond the last grid score the curve has no measurement and
the rate is the floor ``1 / impostor_comparisons`` (the smallest rate the data can show),
never zero.

The same curve bounds the watchlist size: for a target FPIR at the decision threshold,
``N_max = log(1 - target) / log(1 - FMR(threshold))``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import ConfigError, ValidationError


@dataclass(frozen=True)
class FalseAlertModel:
    """An FMR curve (ascending scores, non-increasing FMR) and what follows from it."""

    scores: npt.NDArray[np.float64]
    fmr: npt.NDArray[np.float64]
    floor: float
    threshold: float | None = None
    model: str = ""

    def __post_init__(self) -> None:
        s = np.asarray(self.scores, np.float64)
        f = np.asarray(self.fmr, np.float64)
        if s.ndim != 1 or s.shape != f.shape or len(s) < 2:
            raise ValidationError(f"fmr curve needs matching 1-D arrays, got {s.shape}, {f.shape}")
        if not (np.all(np.diff(s) >= 0) and np.all((f >= 0) & (f <= 1))):
            raise ValidationError("fmr curve scores must ascend and fmr lie in [0, 1]")
        # Rounded grids repeat scores: keep the first (highest) FMR of each, the cautious reading.
        s, first = np.unique(s, return_index=True)
        if len(s) < 2:
            raise ValidationError("fmr curve needs at least two distinct scores")
        object.__setattr__(self, "scores", s)
        object.__setattr__(self, "fmr", np.minimum.accumulate(f[first]))
        if not 0 < self.floor <= 1:
            raise ValidationError(f"fmr floor must be in (0, 1], got {self.floor}")

    @classmethod
    def from_file(cls, path: Path) -> FalseAlertModel:
        """Read a calibration JSON written by ``vigil calibrate``."""
        try:
            doc = json.loads(Path(path).read_text())
            curve = doc["fmr_curve"]
            n = float((curve.get("impostor_comparisons") or [0])[0])
            return cls(
                np.asarray(curve["score"], np.float64),
                np.asarray(curve["fmr"], np.float64),
                floor=1.0 / n if n >= 1 else 1e-6,
                threshold=doc.get("threshold"),
                model=str(doc.get("model", "")),
            )
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ConfigError(f"calibration file {path} is unusable: {exc}") from exc

    def fmr_at(self, score: float) -> float:
        """FMR at ``score`` (step function, rounded toward the higher rate)."""
        i = int(np.searchsorted(self.scores, score, side="right")) - 1
        if i < 0:
            return 1.0
        return max(float(self.fmr[i]), self.floor)

    def fpir(self, score: float, watchlist_size: int) -> float:
        """Calibrated false-alert rate of one search at ``score`` against ``watchlist_size``."""
        if watchlist_size < 1:
            raise ValidationError(f"watchlist size must be >= 1, got {watchlist_size}")
        fmr = self.fmr_at(score)
        if fmr >= 1.0:
            return 1.0
        return float(-math.expm1(watchlist_size * math.log1p(-fmr)))

    def max_watchlist_size(self, threshold: float, target_fpir: float) -> int:
        """Largest N whose FPIR at ``threshold`` stays at or below ``target_fpir``."""
        if not 0 < target_fpir < 1:
            raise ValidationError(f"target FPIR must be in (0, 1), got {target_fpir}")
        fmr = self.fmr_at(threshold)
        if fmr >= 1.0:
            return 0
        return max(0, math.floor(math.log1p(-target_fpir) / math.log1p(-fmr)))
