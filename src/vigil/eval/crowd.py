"""``vigil eval crowd``: people-count accuracy on ShanghaiTech-layout data.

Layout: ``DIR/images/IMG_n.jpg`` with ``DIR/ground-truth/GT_IMG_n.mat`` (head points in
``image_info{1}{1}.location``); ``DIR`` may also be any parent of such a pair of folders.

Reported (keys ``mae``, ``rmse``, ``images`` are stable):

* ``mae``, ``rmse``, ``bands`` (true count < 50, 50–100, 100–200, ≥ 200): the **shipped** model
  as it is. It was fitted on the 211 ShanghaiTech B test images available here (``protocol``
  says so and counts the evaluated images named like fitted ones), so on that data these
  numbers are in-sample; on any other images they are held out.
* ``cross_validation``: the same images refitted under a clean protocol — 5 folds of a fixed
  permutation (seed 0); ``shipped_method`` refits the shipped method without each fold;
  ``candidates`` does so for every method in :data:`vigil.analytics.density.CANDIDATES`;
  ``nested_selection`` picks a candidate inside each training fold by an inner 5-fold CV and
  scores it on the outer fold, the honest error of choosing the method by CV.
* ``splits``: the shipped method refitted on the odd-numbered images, scored on the even ones
  (the first release's protocol, kept for continuity).
* ``baseline_boxes``: person boxes with score ≥ 0.35 (tiles 1+2×2+3×3), no regression.

Extracting the statistics costs ~6 s of one core per image (91 network runs); ``cache`` keeps
each image's network outputs so the refits can be repeated in minutes. Refits need at least
``MIN_IMAGES_TO_REFIT`` images and are skipped (with a note) below that.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vigil.analytics.density import (
    CANDIDATES,
    FIT_DESCRIPTION,
    FIT_NUMBERS,
    GRIDS,
    SHIPPED_METHOD,
    CountFeatures,
    CountMethod,
    CountModel,
    CrowdCounter,
    TileRun,
    estimate,
)
from vigil.errors import InputError
from vigil.eval.report import Json, JsonValue, write_json

log = logging.getLogger(__name__)

F64 = npt.NDArray[np.float64]
BANDS = ((0, 50), (50, 100), (100, 200), (200, 10**9))
FOLDS = 5
SEED = 0
MIN_IMAGES_TO_REFIT = 40  # a fold's training set must hold well over the ~20 inputs


@dataclass(frozen=True, slots=True)
class CrowdImage:
    name: str
    number: int
    image: Path
    truth: int


def find_images(root: Path) -> list[CrowdImage]:
    """Images with ground truth under ``root`` (ShanghaiTech layout), ordered by number."""
    from scipy.io import loadmat

    folders = (
        [root]
        if (root / "images").is_dir()
        else sorted(Path(d) for d, subs, _ in os.walk(root, followlinks=True) if "images" in subs)
    )
    out = []
    for folder in folders:
        for img in (folder / "images").glob("IMG_*.jpg"):
            m = re.fullmatch(r"IMG_(\d+)", img.stem)
            gt = folder / "ground-truth" / f"GT_{img.stem}.mat"
            if not m or not gt.is_file():
                continue
            points = loadmat(gt)["image_info"][0, 0][0, 0][0]
            out.append(CrowdImage(img.stem, int(m.group(1)), img, len(points)))
    if not out:
        raise InputError(f"no images/IMG_n.jpg with ground-truth/GT_IMG_n.mat under {root}")
    return sorted(out, key=lambda c: (str(c.image.parent), c.number))


def save_runs(path: Path, item: CrowdImage, shape: tuple[int, int], runs: list[TileRun]) -> None:
    """Cache one image's tile runs (boxes and score maps: ~0.6 MB) as ``.npz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp,
        truth=np.array(item.truth),
        number=np.array(item.number),
        shape=np.array(shape),
        grid=np.array([r.grid for r in runs]),
        window=np.array([r.window for r in runs]),
        scale=np.array([r.scale for r in runs]),
        nbox=np.array([len(r.scores) for r in runs]),
        boxes=np.concatenate([r.boxes for r in runs]).astype(np.float32),
        scores=np.concatenate([r.scores for r in runs]).astype(np.float32),
        map0=np.stack([r.maps[0] for r in runs]),
        map1=np.stack([r.maps[1] for r in runs]),
        map2=np.stack([r.maps[2] for r in runs]),
    )
    tmp.rename(path)


def load_runs(path: Path, item: CrowdImage) -> tuple[tuple[int, int], list[TileRun]] | None:
    """Cached runs of ``item``, or None when absent or made with other grids or another truth.

    The cache is keyed by image name only: delete it when the detector model, its tiling or
    the images change (the check above catches a different grid set or annotation only)."""
    if not path.is_file():
        return None
    z = np.load(path)
    if int(z["truth"]) != item.truth or tuple(sorted(set(z["grid"].tolist()))) != GRIDS:
        log.warning("ignoring stale crowd cache %s", path)
        return None
    ends = np.cumsum(z["nbox"])
    starts = ends - z["nbox"]
    maps = [z[f"map{k}"].astype(np.float32) for k in range(3)]
    runs = [
        TileRun(
            int(z["grid"][i]),
            (int(w[0]), int(w[1]), int(w[2]), int(w[3])),
            float(z["scale"][i]),
            z["boxes"][starts[i] : ends[i]],
            z["scores"][starts[i] : ends[i]],
            tuple(m[i] for m in maps),
        )
        for i, w in enumerate(z["window"])
    ]
    h, w = (int(v) for v in z["shape"])
    return (h, w), runs


def image_features(
    items: Sequence[CrowdImage],
    counter: CrowdCounter,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[CountFeatures]:
    """Count statistics of every image: the network runs dominate (~6 s of a core per image),
    so ``cache`` (a folder outside the repository) keeps each image's runs for re-fitting."""
    out = []
    for k, item in enumerate(items):
        cached = load_runs(cache / f"{item.name}.npz", item) if cache else None
        if cached is None:
            raw = cv2.imread(str(item.image))
            if raw is None:
                raise InputError(f"cannot read {item.image}")
            image = np.asarray(raw, np.uint8)
            shape = (image.shape[0], image.shape[1])
            runs = counter.runs(image)
            if cache:
                save_runs(cache / f"{item.name}.npz", item, shape, runs)
        else:
            shape, runs = cached
        out.append(counter.features_of_runs(runs, *shape))
        if progress and ((k + 1) % 10 == 0 or k + 1 == len(items)):
            progress(f"{k + 1}/{len(items)} images ({item.name})")
    return out


def folds(n: int, k: int = FOLDS, seed: int = SEED) -> list[npt.NDArray[np.intp]]:
    """``k`` disjoint test folds of a fixed random permutation (the same for every method)."""
    perm = np.random.default_rng(seed).permutation(n)
    return [np.sort(perm[i::k]) for i in range(k)]


def _predict(model: CountModel, feats: Sequence[CountFeatures]) -> F64:
    return np.array([estimate(model, f).count for f in feats])


def cross_validate(
    method: CountMethod, feats: Sequence[CountFeatures], truth: F64, k: int = FOLDS
) -> F64:
    """Held-out prediction of every image by ``method`` refitted without that image's fold."""
    pred = np.zeros(len(truth))
    for test in folds(len(truth), k):
        train = np.setdiff1d(np.arange(len(truth)), test)
        model = method.fit([feats[i] for i in train], truth[train])
        pred[test] = _predict(model, [feats[i] for i in test])
    return pred


def select_method(
    methods: Sequence[CountMethod], feats: Sequence[CountFeatures], truth: F64
) -> tuple[CountMethod, dict[str, float]]:
    """The method with the lowest k-fold MAE on these images, and every method's MAE."""
    maes = {m.name: float(np.abs(cross_validate(m, feats, truth) - truth).mean()) for m in methods}
    best = min(methods, key=lambda m: maes[m.name])
    return best, maes


def nested_cross_validate(
    methods: Sequence[CountMethod], feats: Sequence[CountFeatures], truth: F64
) -> tuple[F64, list[str]]:
    """Honest error of *choosing* among ``methods``: each outer fold picks its method by an
    inner k-fold CV on its own training images only, then predicts its held-out fold."""
    pred = np.zeros(len(truth))
    chosen = []
    for test in folds(len(truth)):
        train = np.setdiff1d(np.arange(len(truth)), test)
        tr_feats = [feats[i] for i in train]
        best, _ = select_method(methods, tr_feats, truth[train])
        chosen.append(best.name)
        pred[test] = _predict(best.fit(tr_feats, truth[train]), [feats[i] for i in test])
    return pred, chosen


def _errors(pred: np.ndarray, truth: np.ndarray) -> Json:
    if len(truth) == 0:
        return {"images": 0, "mae": None, "rmse": None}
    err = pred - truth
    return {
        "images": len(truth),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "mean_true": float(truth.mean()),
        "mean_predicted": float(pred.mean()),
    }


def _banded(p: F64, t: F64) -> Json:
    out = _errors(p, t)
    bands: dict[str, JsonValue] = {}
    for lo, hi in BANDS:
        sel = (t >= lo) & (t < hi)
        bands[f"{lo}-{hi if hi < 10**9 else 'inf'}"] = _errors(p[sel], t[sel])
    out["bands"] = bands
    return out


def _protocol_blocks(
    items: Sequence[CrowdImage], feats: Sequence[CountFeatures], t: F64, method: CountMethod
) -> Json:
    """Refits on these images: k-fold CV of every candidate, nested selection, odd → even."""
    if len(items) < MIN_IMAGES_TO_REFIT:
        note = f"needs >= {MIN_IMAGES_TO_REFIT} images to refit; skipped"
        return {"cross_validation": {"note": note}, "splits": {"note": note}}
    cv: dict[str, JsonValue] = {m.name: _errors(cross_validate(m, feats, t), t) for m in CANDIDATES}
    shipped_cv = _banded(cross_validate(method, feats, t), t)
    nested, chosen = nested_cross_validate(CANDIDATES, feats, t)
    odd = np.array([i.number % 2 == 1 for i in items])
    model = method.fit([f for f, o in zip(feats, odd, strict=True) if o], t[odd])
    p = _predict(model, feats)
    return {
        "cross_validation": {
            "note": (
                f"{FOLDS}-fold CV over these images (permutation seed {SEED}); each image is "
                "predicted by a model refitted without its fold"
            ),
            "shipped_method": {"name": method.name, **shipped_cv},
            "nested_selection": {
                "note": (
                    "each outer fold chose among the candidates by an inner CV on its own "
                    "training images: the honest error of choosing the method"
                ),
                "chosen_per_fold": list(chosen),
                **_banded(nested, t),
            },
            "candidates": cv,
        },
        "splits": {
            "held_out": {
                "note": f"even-numbered images; {method.name} refitted on the odd-numbered ones",
                **_errors(p[~odd], t[~odd]),
            },
            "calibration": {
                "note": "odd-numbered images: in-sample for that refit",
                **_errors(p[odd], t[odd]),
            },
        },
    }


def evaluate_crowd(
    root: Path,
    counter: CrowdCounter,
    *,
    max_images: int | None = None,
    cache: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Json:
    """Count every image, compare with its head annotations, and refit under the protocol."""
    items = find_images(root)[:max_images]
    t0 = time.perf_counter()
    feats = image_features(items, counter, cache, progress)
    est = [counter.estimate(f) for f in feats]
    elapsed = time.perf_counter() - t0
    p = np.array([e.count for e in est])
    t = np.array([i.truth for i in items], np.float64)
    overall = _banded(p, t)
    fitted = sum(1 for i in items if i.number in FIT_NUMBERS)
    per_image: list[JsonValue] = [
        {"image": i.name, "true": i.truth, "predicted": round(e.count, 2), "method": e.method,
         "boxes": f.counts[2]}
        for i, e, f in zip(items, est, feats, strict=True)
    ]  # fmt: skip
    return {
        "kind": "crowd",
        "mae": overall["mae"],
        "rmse": overall["rmse"],
        "images": len(items),
        "mean_true": overall.get("mean_true"),
        "mean_predicted": overall.get("mean_predicted"),
        "bands": overall["bands"],
        "protocol": {
            "shipped_model": counter.model.provenance,
            "fitted_on": FIT_DESCRIPTION,
            "images_named_like_fitted_ones": fitted,
            "note": (
                "mae/rmse/bands are the shipped model as it is: in-sample for images it was "
                "fitted on (ShanghaiTech B test, numbers not divisible by 3), held out for any "
                "other; cross_validation and splits refit on the images given here"
            ),
        },
        **_protocol_blocks(items, feats, t, SHIPPED_METHOD),
        "baseline_boxes": {
            "note": "person boxes with score >= 0.35, tiles 1+2x2+3x3",
            **_errors(np.array([f.counts[2] for f in feats], np.float64), t),
        },
        "method": {
            "name": "tiled NanoDet + calibrated count regression (vigil.analytics.density)",
            "inputs": list(counter.model.inputs),
            "weights": list(counter.model.weights),
            "share_density": float(np.mean([e.method == "density" for e in est])),
        },
        "seconds": round(elapsed, 2),
        "per_image": per_image,
    }


def write_crowd_report(doc: Json, out: Path) -> Path:
    return write_json(out, doc)
