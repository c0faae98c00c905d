"""HOTA (Higher Order Tracking Accuracy; Luiten et al., IJCV 2021) with DetA, AssA and LocA.

Why here and not a library call: the reference implementation, ``trackeval`` 1.3.0 on PyPI,
works with numpy 2 but declares ``opencv-python`` as a dependency; installing it puts OpenCV 5
over the ``opencv-python-headless<5`` Vigil pins (both ship the ``cv2`` package, and 5.x drops
the HOG people detector the benchmarks use). So this module implements the same algorithm as
``trackeval.metrics.HOTA.eval_sequence`` / ``combine_sequences`` (same α grid 0.05…0.95, same
global-alignment-weighted Hungarian matching, same combination over sequences) and
``tests/unit/test_hota.py`` checks it against ``trackeval`` on random sequences whenever
``trackeval`` is importable (e.g. installed with ``pip install --no-deps trackeval==1.3.0
pycocotools tabulate``).

Usage: one :class:`HotaSequence` per video; :meth:`HotaSequence.update` once per frame with the
ground-truth ids, the tracker ids and their similarity matrix (IoU for boxes); then
:func:`combine` over sequences. Frames are kept until :meth:`HotaSequence.result` because the
global alignment score needs the whole sequence first (memory grows with the sequence: this is
an evaluation tool, not a live one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
ALPHAS: F64 = np.arange(0.05, 0.99, 0.05)  # localisation thresholds, as in trackeval
_EPS = np.finfo(float).eps


@dataclass(frozen=True, slots=True)
class HotaResult:
    """Per-α counts and scores of one sequence or of several combined.

    ``tp``/``fn``/``fp`` are detection counts per α; ``ass_a`` and ``loc_a`` per α. The scalar
    properties average over α, as the HOTA paper and MOTChallenge report them.
    """

    tp: F64
    fn: F64
    fp: F64
    ass_a: F64
    loc_a: F64

    @property
    def det_a_alpha(self) -> F64:
        return self.tp / np.maximum(1.0, self.tp + self.fn + self.fp)

    @property
    def hota(self) -> float:
        return float(np.mean(np.sqrt(self.det_a_alpha * self.ass_a)))

    @property
    def det_a(self) -> float:
        return float(np.mean(self.det_a_alpha))

    @property
    def ass_a_mean(self) -> float:
        return float(np.mean(self.ass_a))

    @property
    def loc_a_mean(self) -> float:
        return float(np.mean(self.loc_a))


@dataclass
class HotaSequence:
    """Frames of one sequence: ids (any integers) and gt × tracker similarity in [0, 1]."""

    frames: list[tuple[I64, I64, F64]] = field(default_factory=list)

    def update(self, gt_ids: npt.ArrayLike, tracker_ids: npt.ArrayLike, similarity: F64) -> None:
        g = np.asarray(gt_ids, np.int64).reshape(-1)
        t = np.asarray(tracker_ids, np.int64).reshape(-1)
        s = np.asarray(similarity, np.float64).reshape(len(g), len(t))
        if len(np.unique(g)) != len(g) or len(np.unique(t)) != len(t):
            raise ValueError("an id appears twice in one frame")
        if s.size and (s.min() < 0 or s.max() > 1 + 1e-9):
            raise ValueError(f"similarity must lie in [0, 1], got [{s.min()}, {s.max()}]")
        self.frames.append((g, t, s))

    def result(self) -> HotaResult:
        """HOTA of this sequence (``trackeval.metrics.HOTA.eval_sequence``)."""
        gt_all = np.unique(np.concatenate([f[0] for f in self.frames] or [np.zeros(0, np.int64)]))
        tr_all = np.unique(np.concatenate([f[1] for f in self.frames] or [np.zeros(0, np.int64)]))
        frames = [
            (np.searchsorted(gt_all, g), np.searchsorted(tr_all, t), s) for g, t, s in self.frames
        ]
        n_a = len(ALPHAS)
        zeros = np.zeros(n_a)
        n_gt = sum(len(g) for g, _, _ in frames)
        n_tr = sum(len(t) for _, t, _ in frames)
        if n_gt == 0 or n_tr == 0:
            return HotaResult(zeros.copy(), zeros + n_gt, zeros + n_tr, zeros.copy(), zeros + 1.0)
        align = _global_alignment(frames, len(gt_all), len(tr_all))
        tp, fn, fp, loc = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
        matches = np.zeros((n_a, len(gt_all), len(tr_all)))
        gt_count = np.zeros(len(gt_all))
        tr_count = np.zeros(len(tr_all))
        for g, t, s in frames:
            np.add.at(gt_count, g, 1)
            np.add.at(tr_count, t, 1)
            if len(g) == 0 or len(t) == 0:
                fn += len(g)
                fp += len(t)
                continue
            rows, cols = linear_sum_assignment(-(align[g[:, None], t[None, :]] * s))
            for a, alpha in enumerate(ALPHAS):
                ok = s[rows, cols] >= alpha - _EPS
                r, c = rows[ok], cols[ok]
                tp[a] += len(r)
                fn[a] += len(g) - len(r)
                fp[a] += len(t) - len(r)
                loc[a] += s[r, c].sum()
                np.add.at(matches[a], (g[r], t[c]), 1)
        union = gt_count[None, :, None] + tr_count[None, None, :] - matches
        ass_a = (matches * matches / np.maximum(1.0, union)).sum((1, 2)) / np.maximum(1.0, tp)
        loc_a = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
        return HotaResult(tp, fn, fp, ass_a, loc_a)


def _global_alignment(frames: Sequence[tuple[I64, I64, F64]], n_gt: int, n_tr: int) -> F64:
    """How well each (gt id, tracker id) pair aligns over the whole sequence (soft IoU of ids)."""
    potential = np.zeros((n_gt, n_tr))
    gt_count = np.zeros((n_gt, 1))
    tr_count = np.zeros((1, n_tr))
    for g, t, s in frames:
        denom = s.sum(0)[None, :] + s.sum(1)[:, None] - s
        sim_iou = np.zeros_like(s)
        mask = denom > _EPS
        sim_iou[mask] = s[mask] / denom[mask]
        potential[g[:, None], t[None, :]] += sim_iou
        gt_count[g] += 1
        tr_count[0, t] += 1
    out: F64 = potential / (gt_count + tr_count - potential)
    return out


def combine(results: Sequence[HotaResult]) -> HotaResult:
    """Sum detection counts; weight AssA and LocA by true positives (trackeval's rule)."""
    tp = np.sum([r.tp for r in results], 0)
    w = np.maximum(1.0, tp)
    ass_a = np.sum([r.ass_a * r.tp for r in results], 0) / w
    loc_sum = np.sum([r.loc_a * r.tp for r in results], 0)
    loc_a = np.maximum(1e-10, loc_sum) / np.maximum(1e-10, tp)
    return HotaResult(
        tp,
        np.sum([r.fn for r in results], 0),
        np.sum([r.fp for r in results], 0),
        ass_a,
        loc_a,
    )
