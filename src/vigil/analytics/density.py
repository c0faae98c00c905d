"""People counts for dense scenes: tiled detection plus a calibrated count regression.

No crowd-density model ships in any registry package this project may use (see
../shared/MODELS.md), so Vigil does not produce a density *map*. It estimates the *count*:

1. **Multi-scale tiled detection** — NanoDet on the whole image and on 2 × 2 and 3 × 3 overlapping
   tiles (14 network runs), merged (:class:`vigil.perception.objects.NanoDetDetector`). This
   finds people down to ~20 px tall.
2. **Count regression** — in dense scenes the detector misses most people (occluded bodies,
   heads of a few pixels), and how many it misses grows with density. A linear model maps
   detection statistics to the true count: the numbers of person boxes above several score
   thresholds (low-score boxes are mostly real people in a crowd, and their share rises with
   density) and the number of small boxes (< 40 px tall, the distant part of the scene).
   Coefficients are fitted by least absolute deviations on the **odd-numbered images of the
   ShanghaiTech Part B test split** and checked on the **even-numbered images**, which were
   not used for fitting; ``vigil eval crowd`` reports both halves separately.

Limits, stated plainly: (a) the regression is calibrated on one kind of scene — Shanghai street
views from a raised camera, 9–539 people; other viewpoints (top-down, very wide shots) and
denser crowds (ShanghaiTech Part A, thousands of people) are outside it, and the error will be
larger there; (b) it gives a count, not a per-pixel density, so zone counts in dense scenes
use the same correction applied to the boxes inside the zone (an approximation); (c) published
density-map CNNs reach MAE ≈ 6–10 on Part B; closing that gap needs a density network trained
by the project on head-point annotations (ShanghaiTech B train: 400 images / 49k heads, plus
JHU-Crowd or NWPU for viewpoint variety), which is future work. Boxes are used as-is (method
``"boxes"``) when the scene is sparse, where they are more accurate than the regression.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from vigil.perception.objects.detector import NanoDetDetector, tile_windows

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
THRESHOLDS: Final = (0.15, 0.25, 0.35, 0.5)
BOX_GRIDS: Final = (1, 2, 3)  # tiles whose merged boxes are counted
MASS_GRIDS: Final = (1, 2, 3, 4, 5)  # tiles whose person score maps are summed
SMALL_PX: Final = 40.0
SPARSE_BOXES: Final = 15  # at or below this many confident boxes, count the boxes
_STRIDE8_CELLS: Final = 52 * 52


@dataclass(frozen=True, slots=True)
class CountFeatures:
    """Detection statistics of one image (inputs of the count regression).

    ``counts``: merged person boxes (tiles ``BOX_GRIDS``) with score ≥ each of ``THRESHOLDS``;
    ``small``: of those above the lowest threshold, boxes shorter than ``SMALL_PX``;
    ``mass``: for each grid in ``MASS_GRIDS``, the sum over its tiles of NanoDet's stride-8
    person score map — a soft count that keeps growing in crowds where boxes merge or vanish.
    """

    counts: tuple[int, ...]
    small: int
    mass: tuple[float, ...] = ()

    def vector(self) -> F64:
        """Regression inputs: a constant and log(1 + x) of every statistic."""
        raw = np.array([*self.counts, self.small, *self.mass], np.float64)
        return np.concatenate([[1.0], np.log1p(raw)])


def features_from_boxes(
    boxes: npt.ArrayLike, scores: npt.ArrayLike, mass: Sequence[float] = ()
) -> CountFeatures:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    s = np.asarray(scores, np.float64).reshape(-1)
    counts = tuple(int((s >= t).sum()) for t in THRESHOLDS)
    h = b[:, 3] - b[:, 1]
    small = int(((s >= THRESHOLDS[0]) & (h < SMALL_PX)).sum())
    return CountFeatures(counts, small, tuple(float(m) for m in mass))


@dataclass(frozen=True)
class CountModel:
    """``count = exp(w · [1, log1p(features)])``: a multiplicative correction of the counts.

    Log-linear because the share of people the detector misses grows with density: a linear
    model fitted on sparse and dense images together under-counts the dense ones.
    """

    weights: tuple[float, ...]
    provenance: str

    def predict(self, f: CountFeatures) -> float:
        v = f.vector()
        if len(v) != len(self.weights):
            raise ValueError(f"model has {len(self.weights)} weights, features have {len(v)}")
        return float(np.exp(np.clip(np.dot(self.weights, v), -20, 20)))

    @classmethod
    def fit(
        cls, feats: Sequence[CountFeatures], truth: Sequence[float], provenance: str
    ) -> CountModel:
        """Least absolute deviations on log(count) (a linear programme; robust to outliers)."""
        from scipy.optimize import linprog

        x = np.stack([f.vector() for f in feats])
        y = np.log(np.maximum(np.asarray(truth, np.float64), 1.0))
        n, k = x.shape
        c = np.concatenate([np.zeros(k), np.ones(n)])
        a = np.block([[x, -np.eye(n)], [-x, -np.eye(n)]])
        b = np.concatenate([y, -y])
        bounds = [(None, None)] * k + [(0, None)] * n
        res = linprog(c, A_ub=a, b_ub=b, bounds=bounds, method="highs")
        if not res.success:
            raise RuntimeError(f"count regression fit failed: {res.message}")
        return cls(tuple(round(float(w), 5) for w in res.x[:k]), provenance)


# Fitted with CountModel.fit on the odd-numbered images of ShanghaiTech Part B test_data
# (../shared/data/shanghaitech_partB, 105 images); see docs/people-and-vehicles.md.
SHANGHAITECH_B_ODD: Final = CountModel(
    weights=(
        -7.26688,
        0.9255,
        -0.78452,
        0.11082,
        0.06048,
        0.16582,
        -0.33205,
        -0.54723,
        -0.74815,
        0.08716,
        2.52132,
    ),
    provenance="LAD fit on ShanghaiTech B test, odd-numbered images (105); held out: even",
)


@dataclass(frozen=True, slots=True)
class CrowdEstimate:
    count: float
    boxes: int
    method: str  # "boxes" | "density" (the CrowdSample.method vocabulary)


class CrowdCounter:
    """Counts people in an image: boxes when sparse, calibrated regression when dense.

    Cost: one network run per tile of every grid in ``MASS_GRIDS`` ∪ ``BOX_GRIDS``
    (1 + 4 + 9 + 16 + 25 = 55 runs, ~3–4 s of one core per image) — a periodic crowd
    estimate (e.g. every 10–30 s per camera), not a per-frame one.
    """

    def __init__(self, detector: NanoDetDetector, model: CountModel = SHANGHAITECH_B_ODD) -> None:
        self.detector = detector
        self.model = model

    @classmethod
    def default(cls, model_dir: Path | None = None, threads: int | None = None) -> CrowdCounter:
        det = NanoDetDetector(
            model_dir, tile_grids=BOX_GRIDS, score_threshold=THRESHOLDS[0], threads=threads
        )
        return cls(det)

    def features(self, image: npt.NDArray[np.uint8]) -> CountFeatures:
        runs: list[float] = []

        def collect(outputs: list[npt.NDArray[np.float32]]) -> None:
            cls = next(o for o in outputs if o.shape[1] == _STRIDE8_CELLS and o.shape[2] == 80)
            runs.append(float(cls[0, :, 0].sum()))

        self.detector.on_outputs = collect
        try:
            b, s, c = self.detector.detect_raw(image, THRESHOLDS[0])
            h, w = image.shape[:2]
            extra = [g for g in MASS_GRIDS if g not in BOX_GRIDS]
            for x0, y0, x1, y1 in tile_windows(w, h, extra, self.detector.tile_overlap):
                self.detector.infer(np.ascontiguousarray(image[y0:y1, x0:x1]), 1.0)
        finally:
            self.detector.on_outputs = None
        mass_by_grid: dict[int, float] = {}
        order = [*BOX_GRIDS, *(g for g in MASS_GRIDS if g not in BOX_GRIDS)]
        k = 0
        for g in order:
            mass_by_grid[g] = sum(runs[k : k + g * g])
            k += g * g
        person = c == 0
        return features_from_boxes(b[person], s[person], [mass_by_grid[g] for g in MASS_GRIDS])

    def estimate(self, f: CountFeatures) -> CrowdEstimate:
        confident = f.counts[-1]
        if confident <= SPARSE_BOXES and f.counts[0] <= 2 * SPARSE_BOXES:
            return CrowdEstimate(float(f.counts[2]), confident, "boxes")
        return CrowdEstimate(self.model.predict(f), confident, "density")

    def count(self, image: npt.NDArray[np.uint8]) -> CrowdEstimate:
        return self.estimate(self.features(image))
