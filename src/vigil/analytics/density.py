"""People counts for dense scenes: tiled detection plus a calibrated count regression.

No crowd-density model ships in any registry package this project may use (see
../shared/MODELS.md), so Vigil does not produce a density *map*. It estimates the *count*:

1. **Multi-scale tiled detection** — NanoDet on the whole image and on 2 × 2 … 6 × 6
   overlapping tiles (:data:`GRIDS`, 91 network runs, :func:`run_tiles`). The finest tiles
   enlarge a 1024 × 768 image about 2.4 times, so people down to ~10 px tall are found.
2. **Statistics** (:func:`features_from_runs`): person boxes merged over all six grids and
   counted above five score thresholds (low-score boxes are mostly real people in a crowd, and
   their share rises with density) and per height band (< 25, 25–50, 50–100, ≥ 100 px: the
   camera looks down a street, so distant people are short), plus the summed stride-8 person
   score map of each grid ("mass", a soft count that keeps growing where boxes merge or vanish).
3. **Count regression** (:class:`CountModel`): ``count = exp(w · [1, log1p(statistics)])``,
   fitted by least absolute deviations on log-counts (:class:`CountMethod` ``boxes6/lad``).
   Sparse scenes (≤ 15 confident boxes) use the boxes as-is (method ``"boxes"``).

How it was chosen and what it scores (``vigil eval crowd``, docs/people-and-vehicles.md): the
211 ShanghaiTech Part B test images available here (the others are withheld for an independent
evaluation; there is no train split) are split into 5 folds (seed 0); every candidate in
:data:`CANDIDATES` (input sets × LAD / ridge / Huber) is refitted without each fold and scored
on it. The shipped method's 5-fold MAE is **20.3** (RMSE 38.6; the first release's inputs, same
loss: 27.8); choosing among all candidates by an inner CV inside each training fold (the honest
error of the choice) gives **20.1**; fitted on the odd-numbered images and tested on the even
ones, 20.7 (first release: 30.3). The shipped weights are fitted on all 211 images, so on those
images the report's top-level MAE (18.3) is in-sample.

Limits, stated plainly: (a) the regression is calibrated on one kind of scene — Shanghai street
views from a raised camera, 9–539 people; other viewpoints (top-down, very wide shots), other
resolutions (the tiles are fixed fractions of the image) and denser crowds (ShanghaiTech Part A,
hundreds to thousands of people) are outside it, and the error will be larger there — refit
with ``vigil eval crowd`` on annotated images of the site; (b) it still under-counts the densest
scenes: images with ≥ 200 people have a cross-validated MAE of 63.5 (mean 294 true, 235
predicted), where heads are 5–10 px and even 6 × 6 tiles miss them; (c) it gives a count, not a
per-pixel density, so zone counts in dense scenes use the same correction applied to the boxes
inside the zone (an approximation); (d) cost: ~5.5 s of one thread per 1024 × 768 image, a
periodic estimate, not a per-frame one. Published density-map CNNs reach MAE ≈ 6–10 on
Part B; closing that gap needs a density network trained by the project on head-point
annotations (ShanghaiTech B train: 400 images / 49k heads at least; JHU-Crowd++ or NWPU-Crowd
for viewpoint and density variety), which is future work.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from vigil.perception.objects.detector import NanoDetDetector, tile_windows

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
THRESHOLDS: Final = (0.15, 0.25, 0.35, 0.5)  # box counts of the sparse rule and the report
GRIDS: Final = (1, 2, 3, 4, 5, 6)  # every tile grid the counter runs (91 network runs)
BOX_GRIDS: Final = (1, 2, 3)  # tiles whose merged boxes the sparse rule counts
BOX_SETS: Final = {"g123": (1, 2, 3), "g1to6": GRIDS}  # merged-box statistics, by tile set
BOX_SCORES: Final = (0.1, 0.15, 0.25, 0.35, 0.5)
HEIGHT_BANDS: Final = (0.0, 25.0, 50.0, 100.0)  # box height bands (px), each up to the next
SMALL_PX: Final = 40.0
MASS_THRESHOLDS: Final = (0.1, 0.3)
ROW_GRIDS: Final = (4, 5, 6)  # grids whose score mass is also split into image thirds
SPARSE_BOXES: Final = 15  # at or below this many confident boxes, count the boxes
_CELLS: Final = (52 * 52, 26 * 26, 13 * 13)  # strides 8, 16, 32
_STRIDE8: Final = 8
_MIN_SCORE: Final = min(BOX_SCORES)

Merge = Callable[
    [Sequence[F32], Sequence[F32], Sequence[npt.NDArray[np.int64]], int, int],
    tuple[F32, F32, npt.NDArray[np.int64]],
]


@dataclass(frozen=True, slots=True)
class TileRun:
    """What one NanoDet run on one tile window leaves for counting.

    ``boxes``/``scores``: person boxes in image pixels (already shifted, minus those cut by an
    inner tile border), score ≥ the run's threshold; ``maps``: the person score per cell at
    strides 8, 16 and 32 (52², 26², 13² cells of the 416 × 416 letterboxed input);
    ``scale``: input pixels per image pixel (416 / longest side of the window).
    """

    grid: int
    window: tuple[int, int, int, int]
    scale: float
    boxes: F32
    scores: F32
    maps: tuple[F32, ...]

    def __post_init__(self) -> None:
        if self.boxes.shape != (len(self.scores), 4):
            raise ValueError(f"boxes {self.boxes.shape} vs {len(self.scores)} scores")
        if tuple(len(m) for m in self.maps) != _CELLS:
            raise ValueError(f"maps must have {_CELLS} cells, got {[len(m) for m in self.maps]}")


def run_tiles(
    detector: NanoDetDetector,
    image: npt.NDArray[np.uint8],
    grids: Sequence[int] = GRIDS,
    score_threshold: float = _MIN_SCORE,
) -> list[TileRun]:
    """Run NanoDet once on every tile of every grid and keep boxes and person score maps."""
    h, w = image.shape[:2]
    maps: list[tuple[F32, ...]] = []

    def collect(outputs: list[F32]) -> None:
        by_cells = {o.shape[1]: o for o in outputs if o.shape[2] == 80}
        maps.append(tuple(np.array(by_cells[c][0, :, 0], np.float32) for c in _CELLS))

    runs: list[TileRun] = []
    detector.on_outputs = collect
    try:
        for g in grids:
            for window in tile_windows(w, h, [g], detector.tile_overlap):
                b, sc, c = detector.infer_window(image, window, score_threshold)
                person = c == 0
                x0, y0, x1, y1 = window
                scale = 416.0 / max(x1 - x0, y1 - y0)
                runs.append(TileRun(g, window, scale, b[person], sc[person], maps[-1]))
    finally:
        detector.on_outputs = None
    return runs


def stat_names() -> tuple[str, ...]:
    """Names of every statistic :func:`features_from_runs` computes, in vector order."""
    names: list[str] = []
    for tag in BOX_SETS:
        names += [f"boxes_{tag}_{t}" for t in BOX_SCORES]
        names += [f"height_{tag}_{int(lo)}" for lo in HEIGHT_BANDS]
    names.append("small_g123")
    names += [f"mass_{g}" for g in GRIDS]
    names += [f"mass_{g}_gt{t}" for g in GRIDS[2:] for t in MASS_THRESHOLDS]
    names += [f"rowmass_{g}_{k}" for g in ROW_GRIDS for k in range(3)]
    return tuple(names)


STAT_NAMES: Final = stat_names()


@dataclass(frozen=True, slots=True)
class CountFeatures:
    """Detection statistics of one image (inputs of the count regression).

    ``counts``: merged person boxes (tiles ``BOX_GRIDS``) with score ≥ each of ``THRESHOLDS``
    (the sparse rule counts these); ``values``: every statistic named in ``STAT_NAMES`` —
    merged-box counts per score threshold and per height band (distant people are short),
    the summed stride-8 person score map per grid ("mass", a soft count that keeps growing in
    crowds where boxes merge or vanish), that mass above score thresholds, and per image third
    (top, middle, bottom: the camera looks down a street, so rows differ in scale).
    """

    counts: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(THRESHOLDS) or len(self.values) != len(STAT_NAMES):
            raise ValueError(
                f"expected {len(THRESHOLDS)} counts and {len(STAT_NAMES)} values, "
                f"got {len(self.counts)} and {len(self.values)}"
            )

    def vector(self, inputs: Sequence[str]) -> F64:
        """Regression inputs: a constant and log(1 + x) of the named statistics."""
        raw = np.array([self.values[_INDEX[n]] for n in inputs], np.float64)
        return np.concatenate([[1.0], np.log1p(raw)])


_INDEX: Final = {n: i for i, n in enumerate(STAT_NAMES)}


def _box_stats(boxes: F32, scores: F32) -> list[float]:
    h = boxes[:, 3] - boxes[:, 1]
    out = [float((scores >= t).sum()) for t in BOX_SCORES]
    edges = [*HEIGHT_BANDS, np.inf]
    keep = scores >= THRESHOLDS[0]
    out += [float((keep & (h >= lo) & (h < hi)).sum()) for lo, hi in itertools.pairwise(edges)]
    return out


def _mass_stats(runs: Sequence[TileRun], height: int) -> list[float]:
    """Score-map mass per grid, above thresholds, and per image third (stride-8 maps)."""
    side = 52
    centre = (np.arange(side) + 0.5) * _STRIDE8
    by_grid = {g: [r for r in runs if r.grid == g] for g in GRIDS}
    mass = [float(sum(r.maps[0].astype(np.float64).sum() for r in by_grid[g])) for g in GRIDS]
    above = []
    for g in GRIDS[2:]:
        m = [r.maps[0].astype(np.float64) for r in by_grid[g]]
        above += [float(sum((x * (x > t)).sum() for x in m)) for t in MASS_THRESHOLDS]
    rows = []
    for g in ROW_GRIDS:
        thirds = np.zeros(3)
        for r in by_grid[g]:
            x0, y0, x1, y1 = r.window
            cy = centre / r.scale  # cell centres in window pixels, row by row
            inside = (cy[:, None] < y1 - y0) & (centre[None, :] / r.scale < x1 - x0)
            third = np.minimum(((y0 + cy) * 3 // height).astype(int), 2)
            per_row = (r.maps[0].reshape(side, side).astype(np.float64) * inside).sum(1)
            np.add.at(thirds, third, per_row)
        rows += [float(v) for v in thirds]
    return mass + above + rows


def features_from_runs(
    runs: Sequence[TileRun], height: int, width: int, merge: Merge
) -> CountFeatures:
    """All statistics of one image from its tile runs (``merge``: the detector's box merge)."""
    values: list[float] = []
    counts: tuple[int, ...] = ()
    small = 0.0
    for tag, grids in BOX_SETS.items():
        sel = [r for r in runs if r.grid in grids]
        if {r.grid for r in sel} != set(grids):
            raise ValueError(f"runs lack grids {sorted(set(grids) - {r.grid for r in sel})}")
        b, s, _ = merge(
            [r.boxes.copy() for r in sel],
            [r.scores for r in sel],
            [np.zeros(len(r.scores), np.int64) for r in sel],
            width,
            height,
        )
        values += _box_stats(b, s)
        if tag == "g123":
            counts = tuple(int((s >= t).sum()) for t in THRESHOLDS)
            h = b[:, 3] - b[:, 1]
            small = float(((s >= THRESHOLDS[0]) & (h < SMALL_PX)).sum())
    values.append(small)
    values += _mass_stats(runs, height)
    return CountFeatures(counts, tuple(values))


def _fit_lad(x: F64, y: F64) -> F64:
    """Least absolute deviations (a linear programme; robust to outlying images)."""
    from scipy.optimize import linprog

    n, k = x.shape
    c = np.concatenate([np.zeros(k), np.ones(n)])
    a = np.block([[x, -np.eye(n)], [-x, -np.eye(n)]])
    b = np.concatenate([y, -y])
    bounds = [(None, None)] * k + [(0, None)] * n
    res = linprog(c, A_ub=a, b_ub=b, bounds=bounds, method="highs")
    if not res.success:
        raise RuntimeError(f"count regression fit failed: {res.message}")
    return np.asarray(res.x[:k], np.float64)


def _standardise(x: F64) -> tuple[F64, F64, F64]:
    mu, sd = x[:, 1:].mean(0), x[:, 1:].std(0) + 1e-9
    return np.column_stack([np.ones(len(x)), (x[:, 1:] - mu) / sd]), mu, sd


def _unstandardise(beta: F64, mu: F64, sd: F64) -> F64:
    w = beta[1:] / sd
    return np.concatenate([[beta[0] - float((mu * w).sum())], w])


def _fit_ridge(x: F64, y: F64, lam: float) -> F64:
    """Least squares with an L2 penalty ``lam`` on standardised inputs (intercept free)."""
    z, mu, sd = _standardise(x)
    penalty = np.eye(z.shape[1]) * lam
    penalty[0, 0] = 0.0
    beta = np.asarray(np.linalg.solve(z.T @ z + penalty, z.T @ y), np.float64)
    return _unstandardise(beta, mu, sd)


def _fit_huber(x: F64, y: F64, lam: float, delta: float = 0.15) -> F64:
    """Huber loss (quadratic within ``delta`` of log-count, linear beyond) + L2 ``lam``."""
    from scipy.optimize import minimize

    z, mu, sd = _standardise(x)

    def loss(b: F64) -> tuple[float, F64]:
        r = z @ b - y
        small = np.abs(r) <= delta
        value = np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)).sum()
        grad = z.T @ np.where(small, r, delta * np.sign(r))
        reg = np.concatenate([[0.0], b[1:]])
        return float(value + 0.5 * lam * (reg**2).sum()), grad + lam * reg

    start = np.linalg.lstsq(z, y, rcond=None)[0]
    res = minimize(loss, start, jac=True, method="L-BFGS-B")
    return _unstandardise(np.asarray(res.x, np.float64), mu, sd)


@dataclass(frozen=True, slots=True)
class CountMethod:
    """One way to fit the count regression: which statistics, which loss, which penalty.

    All methods fit ``log(count)`` on ``[1, log1p(statistics)]`` (multiplicative: the share of
    people the detector misses grows with density). ``lad`` minimises absolute log errors
    (robust, no knob, but overfits when inputs are many); ``ridge`` minimises squared log
    errors with an L2 penalty ``lam`` on standardised inputs (stable with many correlated
    inputs; larger ``lam`` shrinks towards the mean count); ``huber`` is in between.
    """

    name: str
    inputs: tuple[str, ...]
    loss: str  # "lad" | "ridge" | "huber"
    lam: float = 0.0

    def __post_init__(self) -> None:
        unknown = [n for n in self.inputs if n not in _INDEX]
        if unknown or self.loss not in {"lad", "ridge", "huber"} or self.lam < 0:
            raise ValueError(f"bad count method {self.name}: unknown inputs {unknown} or loss")

    def fit(self, feats: Sequence[CountFeatures], truth: npt.ArrayLike) -> CountModel:
        x = np.stack([f.vector(self.inputs) for f in feats])
        y = np.log(np.maximum(np.asarray(truth, np.float64), 1.0))
        if self.loss == "lad":
            w = _fit_lad(x, y)
        elif self.loss == "ridge":
            w = _fit_ridge(x, y, self.lam)
        else:
            w = _fit_huber(x, y, self.lam)
        return CountModel(self.inputs, tuple(float(v) for v in w), f"{self.name} fit")


@dataclass(frozen=True)
class CountModel:
    """``count = exp(w · [1, log1p(inputs)])``: a multiplicative correction of the counts."""

    inputs: tuple[str, ...]
    weights: tuple[float, ...]
    provenance: str

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.inputs) + 1:
            raise ValueError(
                f"model has {len(self.weights)} weights for {len(self.inputs)} inputs (+1)"
            )

    def predict(self, f: CountFeatures) -> float:
        v = f.vector(self.inputs)
        return float(np.exp(np.clip(np.dot(self.weights, v), -20, 20)))


_CURRENT: Final = (
    *(f"boxes_g123_{t}" for t in THRESHOLDS),
    "small_g123",
    *(f"mass_{g}" for g in GRIDS[:5]),
)  # the 11 inputs of the first release (grids up to 5 × 5)
_BOXES6: Final = (
    *(f"boxes_g1to6_{t}" for t in BOX_SCORES),
    *(f"height_g1to6_{int(lo)}" for lo in HEIGHT_BANDS),
    *(f"mass_{g}" for g in GRIDS),
)
_THIRDS: Final = tuple(f"rowmass_{g}_{k}" for g in ROW_GRIDS for k in range(3))
_ABOVE: Final = tuple(f"mass_{g}_gt{t}" for g in GRIDS[2:] for t in MASS_THRESHOLDS)
_SETS: Final = {
    "current": _CURRENT,
    "current+6x6": (*_CURRENT, "mass_6"),
    "boxes6": _BOXES6,
    "boxes6+thirds": (*_BOXES6, *_THIRDS),
    "boxes6+above": (*_BOXES6, *_ABOVE),
    "all": STAT_NAMES,
}
_LOSSES: Final = (("lad", 0.0), ("ridge", 1.0), ("ridge", 10.0), ("huber", 1.0))
# The menu the evaluation protocol chooses from (vigil.eval.crowd): every input set with every
# loss, except LAD on all statistics (more inputs than an LP on ~170 images can fit stably).
CANDIDATES: Final = tuple(
    CountMethod(f"{name}/{loss}" + (f"{lam:g}" if loss != "lad" else ""), inputs, loss, lam)
    for name, inputs in _SETS.items()
    for loss, lam in _LOSSES
    if not (name == "all" and loss == "lad")
)
# The simplest candidate that reaches the target (ShanghaiTech B MAE <= 25) under 5-fold CV:
# the first release's loss (LAD, no knob) on the statistics of boxes merged over all six grids.
SHIPPED_METHOD: Final = next(m for m in CANDIDATES if m.name == "boxes6/lad")
FIT_NUMBERS: Final = frozenset(n for n in range(1, 317) if n % 3)
FIT_DESCRIPTION: Final = (
    "ShanghaiTech Part B test_data, all 211 images available here (IMG_n, n = 1..316 not "
    "divisible by 3; the others are withheld for an independent evaluation)"
)
# SHIPPED_METHOD.fit on all 211 images (vigil eval crowd, cached runs), weights rounded to 1e-6.
SHIPPED_MODEL: Final = CountModel(
    SHIPPED_METHOD.inputs,
    (
        -6.542917,
        1.398844,
        -0.15227,
        0.085366,
        0.352416,
        -0.280638,
        -0.043583,
        -0.018284,
        -0.237199,
        -0.290778,
        -0.065803,
        -0.196907,
        0.394368,
        0.012378,
        -0.263116,
        0.76237,
    ),
    f"{SHIPPED_METHOD.name} fitted on {FIT_DESCRIPTION}",
)


@dataclass(frozen=True, slots=True)
class CrowdEstimate:
    count: float
    boxes: int
    method: str  # "boxes" | "density" (the CrowdSample.method vocabulary)


class CrowdCounter:
    """Counts people in an image: boxes when sparse, calibrated regression when dense.

    Cost: one network run per tile of every grid in ``GRIDS`` (1 + 4 + 9 + 16 + 25 + 36 = 91
    runs, ~6 s of one core per 1024 × 768 image) — a periodic crowd estimate (e.g. every
    30 s per camera), not a per-frame one.
    """

    def __init__(self, detector: NanoDetDetector, model: CountModel | None = None) -> None:
        self.detector = detector
        self.model = model or SHIPPED_MODEL

    @classmethod
    def default(cls, model_dir: Path | None = None, threads: int | None = None) -> CrowdCounter:
        det = NanoDetDetector(
            model_dir, tile_grids=BOX_GRIDS, score_threshold=_MIN_SCORE, threads=threads
        )
        return cls(det)

    def runs(self, image: npt.NDArray[np.uint8]) -> list[TileRun]:
        return run_tiles(self.detector, image)

    def features_of_runs(self, runs: Sequence[TileRun], height: int, width: int) -> CountFeatures:
        return features_from_runs(runs, height, width, self.detector.merge)

    def features(self, image: npt.NDArray[np.uint8]) -> CountFeatures:
        h, w = image.shape[:2]
        return self.features_of_runs(self.runs(image), h, w)

    def estimate(self, f: CountFeatures) -> CrowdEstimate:
        return estimate(self.model, f)

    def count(self, image: npt.NDArray[np.uint8]) -> CrowdEstimate:
        return self.estimate(self.features(image))


def estimate(model: CountModel, f: CountFeatures) -> CrowdEstimate:
    """Boxes when the scene is sparse (they are more accurate there), else the regression."""
    confident = f.counts[-1]
    if confident <= SPARSE_BOXES and f.counts[0] <= 2 * SPARSE_BOXES:
        return CrowdEstimate(float(f.counts[2]), confident, "boxes")
    return CrowdEstimate(model.predict(f), confident, "density")
