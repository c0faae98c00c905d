"""Crowd counting on synthetic inputs: statistics from tile runs, the fits, the sparse rule and
the cross-validation protocol (held-out folds never see their own truth)."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.analytics.density import (
    CANDIDATES,
    SHIPPED_METHOD,
    SHIPPED_MODEL,
    STAT_NAMES,
    CountFeatures,
    CountMethod,
    CountModel,
    TileRun,
    estimate,
    features_from_runs,
)
from vigil.eval.crowd import cross_validate, folds, nested_cross_validate
from vigil.perception.objects.detector import merge_boxes

F32 = np.float32


def merge(b, s, c, w, h):  # type: ignore[no-untyped-def]
    """The detector's merge without loading a network (same NMS and containment rule)."""
    b, s, c = np.concatenate(b), np.concatenate(s), np.concatenate(c)
    idx = merge_boxes(b, s, c, 0.5, 0.8)
    return b[idx], s[idx], c[idx]


def run(grid: int, window: tuple[int, int, int, int], boxes: list[list[float]], scores: list[float],
        fill: float = 0.0) -> TileRun:  # fmt: skip
    maps = tuple(np.full(n, fill, F32) for n in (52 * 52, 26 * 26, 13 * 13))
    scale = 416.0 / max(window[2] - window[0], window[3] - window[1])
    b = np.array(boxes, F32).reshape(-1, 4)
    return TileRun(grid, window, scale, b, np.array(scores, F32), maps)


def runs_for(boxes: list[list[float]], scores: list[float], fill: float = 0.0) -> list[TileRun]:
    """One run per grid 1..6 covering the whole 416 × 416 image (g² of them each)."""
    out = []
    for g in range(1, 7):
        out.append(run(g, (0, 0, 416, 416), boxes if g == 1 else [], scores if g == 1 else [],
                       fill))  # fmt: skip
        out += [run(g, (0, 0, 416, 416), [], [], fill) for _ in range(g * g - 1)]
    return out


def value(f: CountFeatures, name: str) -> float:
    return f.values[STAT_NAMES.index(name)]


def test_statistics_from_runs() -> None:
    boxes: list[list[float]] = [
        [0, 0, 10, 20],
        [50, 0, 60, 30],
        [100, 100, 120, 160],
        [200, 200, 260, 400],
    ]
    f = features_from_runs(runs_for(boxes, [0.6, 0.3, 0.12, 0.9]), 416, 416, merge)
    assert f.counts == (3, 3, 2, 2)  # ≥ 0.15, 0.25, 0.35, 0.5 (grids 1-3)
    assert value(f, "boxes_g1to6_0.1") == 4
    assert value(f, "height_g1to6_0") == 1  # 20 px tall (the 0.12 box is below 0.15)
    assert value(f, "height_g1to6_25") == 1
    assert value(f, "height_g1to6_100") == 1  # 200 px
    assert value(f, "small_g123") == 2  # < 40 px and ≥ 0.15
    assert value(f, "mass_1") == 0.0


def test_mass_and_thirds_follow_the_score_maps() -> None:
    runs = runs_for([], [], fill=0.2)
    f = features_from_runs(runs, 416, 416, merge)
    # every run has 52² stride-8 cells at 0.2; grid g has g² runs
    for g in range(1, 7):
        assert value(f, f"mass_{g}") == pytest.approx(0.2 * 52 * 52 * g * g, rel=1e-5)
    assert value(f, "mass_6_gt0.1") == pytest.approx(value(f, "mass_6"), rel=1e-5)
    assert value(f, "mass_6_gt0.3") == 0.0
    thirds = [value(f, f"rowmass_5_{k}") for k in range(3)]
    assert sum(thirds) == pytest.approx(value(f, "mass_5"), rel=1e-5)
    assert thirds[0] == pytest.approx(thirds[2], rel=0.05)  # uniform map: equal thirds


def test_runs_missing_a_grid_are_refused() -> None:
    with pytest.raises(ValueError, match="lack grids"):
        features_from_runs(runs_for([], [])[:-36], 416, 416, merge)
    with pytest.raises(ValueError, match="maps"):
        TileRun(1, (0, 0, 4, 4), 1.0, np.zeros((0, 4), F32), np.zeros(0, F32), ())


def synthetic(n: int, seed: int = 0) -> tuple[list[CountFeatures], np.ndarray, tuple[str, ...]]:
    """Random statistics and a true count that is an exact log-linear rule of three of them."""
    rng = np.random.default_rng(seed)
    inputs = ("boxes_g1to6_0.15", "mass_6", "height_g1to6_0")
    feats, truth = [], []
    for _ in range(n):
        values = rng.uniform(1, 300, len(STAT_NAMES))
        f = CountFeatures((90, 60, 40, 30), tuple(float(v) for v in values))  # dense: no box rule
        x = f.vector(inputs)
        truth.append(float(np.exp(0.5 + 0.6 * x[1] + 0.3 * x[2] - 0.1 * x[3])))
        feats.append(f)
    return feats, np.array(truth), inputs


@pytest.mark.parametrize(("loss", "lam", "rel"), [("lad", 0.0, 1e-6), ("ridge", 1e-6, 1e-4),
                                                  ("huber", 1e-6, 1e-3)])  # fmt: skip
def test_fits_recover_a_log_linear_rule(loss: str, lam: float, rel: float) -> None:
    feats, truth, inputs = synthetic(60)
    model = CountMethod("t", inputs, loss, lam).fit(feats, truth)
    assert model.predict(feats[0]) == pytest.approx(truth[0], rel=rel)
    assert model.weights[1] == pytest.approx(0.6, abs=1e-2)


def test_ridge_penalty_shrinks_towards_the_mean() -> None:
    feats, truth, inputs = synthetic(60)
    loose = CountMethod("a", inputs, "ridge", 1e-6).fit(feats, truth)
    tight = CountMethod("b", inputs, "ridge", 1e4).fit(feats, truth)
    assert abs(tight.weights[1]) < abs(loose.weights[1]) / 10


def test_model_and_method_validation() -> None:
    with pytest.raises(ValueError, match="weights"):
        CountModel(("mass_1",), (1.0,), "x")
    with pytest.raises(ValueError, match="unknown inputs"):
        CountMethod("x", ("no_such_stat",), "lad")
    with pytest.raises(ValueError, match="counts"):
        CountFeatures((1, 2), (0.0,) * len(STAT_NAMES))
    assert len(SHIPPED_MODEL.weights) == len(SHIPPED_METHOD.inputs) + 1
    assert SHIPPED_METHOD in CANDIDATES
    assert len({m.name for m in CANDIDATES}) == len(CANDIDATES)


def test_sparse_scenes_count_boxes() -> None:
    model = CountModel(("mass_1",), (np.log(100.0), 0.0), "x")
    sparse = CountFeatures((12, 10, 8, 6), (0.0,) * len(STAT_NAMES))
    dense = CountFeatures((90, 60, 40, 30), (0.0,) * len(STAT_NAMES))
    assert (estimate(model, sparse).count, estimate(model, sparse).method) == (8.0, "boxes")
    assert estimate(model, dense).count == pytest.approx(100.0)
    assert estimate(model, dense).method == "density"


def test_folds_partition_the_images() -> None:
    parts = folds(23)
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert [p.tolist() for p in parts] == [p.tolist() for p in folds(23)]  # fixed seed


def test_cross_validation_never_sees_the_held_out_truth() -> None:
    feats, truth, inputs = synthetic(50, seed=1)
    method = CountMethod("t", inputs, "ridge", 0.1)
    pred = cross_validate(method, feats, truth)
    fold = folds(len(truth))[0]
    poisoned = truth.copy()
    poisoned[fold] *= 50.0  # a leak of the held-out truth would move these predictions
    again = cross_validate(method, feats, poisoned)
    np.testing.assert_allclose(again[fold], pred[fold])
    assert not np.allclose(again, pred)  # the other folds did train on the poisoned images


def test_nested_selection_prefers_the_true_inputs() -> None:
    feats, truth, inputs = synthetic(60, seed=2)
    right = CountMethod("right", inputs, "lad")
    wrong = CountMethod("wrong", ("mass_1", "mass_2"), "lad")
    pred, chosen = nested_cross_validate([wrong, right], feats, truth)
    assert chosen == ["right"] * 5
    assert np.abs(pred - truth).mean() < 1e-3 * truth.mean()
