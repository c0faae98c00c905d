"""HOTA: exact on hand-made sequences, and equal to the reference ``trackeval`` when installed."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.eval.hota import ALPHAS, HotaSequence, combine


def _two_walkers(swap_at: int | None, frames: int = 8) -> HotaSequence:
    """Two people, each matched exactly (IoU 1); tracker ids swap from ``swap_at`` on."""
    seq = HotaSequence()
    for t in range(frames):
        hyp = [11, 10] if swap_at is not None and t >= swap_at else [10, 11]
        seq.update([1, 2], hyp, np.eye(2))
    return seq


def test_perfect_tracker_scores_one() -> None:
    r = _two_walkers(None).result()
    assert r.hota == pytest.approx(1.0)
    assert r.det_a == pytest.approx(1.0) and r.ass_a_mean == pytest.approx(1.0)
    assert r.loc_a_mean == pytest.approx(1.0)


def test_swapped_identities_lower_association_not_detection() -> None:
    r = _two_walkers(swap_at=4).result()
    assert r.det_a == pytest.approx(1.0)  # every box is still found
    # each gt id is split evenly over two tracker ids: AssA = 1/3 (4 / (8 + 8 - 4)) exactly
    assert r.ass_a_mean == pytest.approx(1 / 3)
    assert r.hota == pytest.approx(np.sqrt(1 / 3))
    assert r.hota < _two_walkers(swap_at=7).result().hota < 1.0  # a later swap costs less


def test_misses_and_false_positives_lower_detection() -> None:
    seq = HotaSequence()
    seq.update([1, 2], [5], np.array([[1.0], [0.0]]))  # person 2 missed
    seq.update([1], [5, 6], np.array([[1.0, 0.0]]))  # tracker 6 is a false positive
    r = seq.result()
    assert r.det_a == pytest.approx(2 / 4)  # TP 2, FN 1, FP 1
    assert r.ass_a_mean == pytest.approx(1.0)


def test_localisation_thresholds() -> None:
    seq = HotaSequence()
    seq.update([1], [1], np.array([[0.5]]))
    r = seq.result()
    # IoU 0.5 is a match for α ≤ 0.5 (10 of the 19 thresholds)
    assert r.tp.tolist() == [1.0] * 10 + [0.0] * 9
    assert r.loc_a_mean == pytest.approx((0.5 * 10 + 1e-10 / 1e-10 * 9) / 19)


def test_empty_and_invalid_input() -> None:
    seq = HotaSequence()
    seq.update([1, 2], [], np.zeros((2, 0)))
    r = seq.result()
    assert r.hota == 0.0 and r.fn.tolist() == [2.0] * len(ALPHAS)
    with pytest.raises(ValueError, match="twice"):
        seq.update([1, 1], [2], np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        seq.update([1], [2], np.array([[1.5]]))


def _random_sequence(rng: np.random.Generator) -> tuple[HotaSequence, dict[str, object]]:
    """A random sequence in both Vigil's form and trackeval's ``eval_sequence`` dict."""
    n_gt, n_tr, frames = int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.integers(3, 15))
    seq = HotaSequence()
    gts: list[np.ndarray] = []
    trs: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    for _ in range(frames):
        g = np.sort(rng.choice(n_gt, int(rng.integers(0, n_gt + 1)), replace=False))
        t = np.sort(rng.choice(n_tr, int(rng.integers(0, n_tr + 1)), replace=False))
        s = rng.uniform(0, 1, (len(g), len(t))) * (rng.uniform(0, 1, (len(g), len(t))) < 0.6)
        seq.update(g + 100, t + 7, s)  # arbitrary ids: Vigil relabels them
        gts.append(g)
        trs.append(t)
        sims.append(s)
    gt_used = np.unique(np.concatenate(gts))  # trackeval wants ids 0..n-1
    tr_used = np.unique(np.concatenate(trs))
    doc: dict[str, object] = {
        "num_timesteps": frames,
        "num_gt_ids": len(gt_used),
        "num_tracker_ids": len(tr_used),
        "num_gt_dets": sum(len(g) for g in gts),
        "num_tracker_dets": sum(len(t) for t in trs),
        "gt_ids": [np.searchsorted(gt_used, g) for g in gts],
        "tracker_ids": [np.searchsorted(tr_used, t) for t in trs],
        "similarity_scores": sims,
    }
    return seq, doc


def test_matches_trackeval_reference() -> None:
    hota_mod = pytest.importorskip("trackeval.metrics.hota")
    ref = hota_mod.HOTA({"PRINT_CONFIG": False})
    rng = np.random.default_rng(7)
    ours, theirs = [], {}
    for k in range(30):
        seq, doc = _random_sequence(rng)
        mine = seq.result()
        res = ref.eval_sequence(doc)
        np.testing.assert_allclose(np.sqrt(mine.det_a_alpha * mine.ass_a), res["HOTA"], atol=1e-9)
        np.testing.assert_allclose(mine.ass_a, res["AssA"], atol=1e-9)
        np.testing.assert_allclose(mine.loc_a, res["LocA"], atol=1e-9)
        ours.append(mine)
        theirs[str(k)] = res
    both = combine(ours)
    ref_all = ref.combine_sequences(theirs)
    assert both.hota == pytest.approx(float(np.mean(ref_all["HOTA"])), abs=1e-9)
    assert both.det_a == pytest.approx(float(np.mean(ref_all["DetA"])), abs=1e-9)
    assert both.ass_a_mean == pytest.approx(float(np.mean(ref_all["AssA"])), abs=1e-9)
