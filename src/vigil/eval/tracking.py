"""``vigil eval tracking``: detection and tracking accuracy on MOTChallenge-layout sequences.

Layout: ``DIR/**/<sequence>/{img1/NNNNNN.jpg, gt/gt.txt, seqinfo.ini}`` (MOT17 ``gt.txt`` rows:
``frame, id, left, top, width, height, consider_flag, class, visibility``).

Protocol (stated in the report): ground-truth rows count when ``consider_flag == 1``, class is 1
(pedestrian) and visibility ≥ ``min_visibility`` (default 0.5: "visible pedestrians"). All other
rows are *ignore regions*: a hypothesis that overlaps one at IoU ≥ 0.5 and matches no counted
person is removed before scoring (MOTChallenge's preprocessing), so a detector is not punished
for finding a person sitting in a car or a person who is 80 % hidden. Matching is IoU ≥ 0.5.

Metrics: MOTA, IDF1, recall, precision, id switches from ``motmetrics`` (the maintained
py-motmetrics); its ``iou_matrix`` helper calls ``np.asfarray`` (gone in numpy 2), so the distance
matrices are computed here with :func:`vigil.core.box_iou`. HOTA with DetA, AssA and LocA (keys
``hota``, ``deta``, ``assa``, ``loca``) comes from :mod:`vigil.eval.hota` (motmetrics 1.4 has no
HOTA; why not ``trackeval`` is explained there), on the same counted boxes and the same
ignore-region removal, with the unthresholded IoU as similarity (HOTA averages over IoU
thresholds 0.05…0.95). A ``detection`` block gives per-frame detection recall/precision at several
score thresholds (without the tracker) for the detector target.

The tracker is the live one: each sequence runs through
:meth:`vigil.analytics.people.PeopleAnalysis.step`, the per-frame step of ``vigil run``'s people
stage, so the top-level ``recall``/``precision`` (tracker output, the boxes that carry a track id)
are those of the live path. Two other recall/precision pairs are in the report and must not be
confused with them: ``detection.best_recall_at_precision_0.8`` (raw detector boxes at the best
score threshold, no tracker) and ``counted`` (the boxes the live stage counts as people, at
``people.score_threshold``).
"""

from __future__ import annotations

import configparser
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from vigil.analytics.people import PeopleAnalysis
from vigil.config.analytics import PeopleConfig
from vigil.core import CLASS_IDS, Detections, FrameRef, ObjectClass, box_iou
from vigil.errors import InputError
from vigil.eval.hota import HotaResult, HotaSequence, combine
from vigil.eval.report import Json, JsonValue, write_json

log = logging.getLogger(__name__)

Float32 = npt.NDArray[np.float32]
PERSON = CLASS_IDS[ObjectClass.PERSON]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
DETECTION_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.475, 0.5, 0.55, 0.6)


@dataclass(frozen=True)
class MotSequence:
    """One MOT sequence on disk."""

    name: str
    frames: list[Path]
    gt: npt.NDArray[np.float64]
    fps: float


def find_sequences(root: Path) -> list[MotSequence]:
    """Every folder under ``root`` with ``gt/gt.txt`` and ``img1/``, sorted by name."""
    seqs = []
    found = [Path(d) for d, _, files in os.walk(root, followlinks=True) if "gt.txt" in files]
    for gt in sorted(d / "gt.txt" for d in found if d.name == "gt"):
        seq_dir = gt.parent.parent
        frames = sorted((seq_dir / "img1").glob("*.jpg"))
        if not frames:
            continue
        ini = configparser.ConfigParser()
        ini.read(seq_dir / "seqinfo.ini")
        fps = float(ini.get("Sequence", "frameRate", fallback="25"))
        data = np.loadtxt(gt, delimiter=",", ndmin=2)
        seqs.append(MotSequence(seq_dir.name, frames, data, fps))
    if not seqs:
        raise InputError(f"no MOT sequences (gt/gt.txt + img1/) under {root}")
    return seqs


def gt_frame(
    gt: npt.NDArray[np.float64], frame: int, min_vis: float
) -> tuple[Float32, npt.NDArray[np.int64], Float32]:
    """Counted boxes (xyxy), their ids, and ignore-region boxes of one frame."""
    rows = gt[gt[:, 0] == frame]
    boxes = rows[:, 2:6].astype(np.float32).copy()
    boxes[:, 2:] += boxes[:, :2]
    vis = rows[:, 8] if rows.shape[1] > 8 else np.ones(len(rows))
    cls = rows[:, 7] if rows.shape[1] > 7 else np.ones(len(rows))
    care = (rows[:, 6] == 1) & (cls == 1) & (vis >= min_vis)
    return boxes[care], rows[care, 1].astype(np.int64), boxes[~care]


def drop_ignored(hyp: Float32, gt: Float32, ignore: Float32) -> npt.NDArray[np.bool_]:
    """Mask of hypotheses to keep: drop those on an ignore region that match no counted person."""
    keep = np.ones(len(hyp), bool)
    if len(hyp) == 0 or len(ignore) == 0:
        return keep
    matched = np.zeros(len(hyp), bool)
    if len(gt):
        iou = box_iou(hyp, gt)
        r, c = linear_sum_assignment(-iou)
        matched[r[iou[r, c] >= 0.5]] = True
    on_ignore = box_iou(hyp, ignore).max(1) >= 0.5
    keep[on_ignore & ~matched] = False
    return keep


def count_matches(hyp: Float32, gt: Float32) -> int:
    if len(hyp) == 0 or len(gt) == 0:
        return 0
    iou = box_iou(hyp, gt)
    r, c = linear_sum_assignment(-iou)
    return int((iou[r, c] >= 0.5).sum())


@dataclass
class _DetCounts:
    """Running detection counts: per score threshold, and for the boxes the live step counts."""

    tp: npt.NDArray[np.int64]
    hyps: npt.NDArray[np.int64]
    gts: int = 0
    counted_tp: int = 0
    counted_hyps: int = 0

    def add(self, persons: Detections, counted: Detections, gt: Float32, ignore: Float32) -> None:
        """Score one frame's raw person boxes at every threshold, and the counted boxes."""
        for k, thr in enumerate(DETECTION_THRESHOLDS):
            sel = persons[persons.confidence >= thr]
            kept = sel.xyxy[drop_ignored(sel.xyxy, gt, ignore)]
            self.tp[k] += count_matches(kept, gt)
            self.hyps[k] += len(kept)
        kept = counted.xyxy[drop_ignored(counted.xyxy, gt, ignore)]
        self.counted_tp += count_matches(kept, gt)
        self.counted_hyps += len(kept)
        self.gts += len(gt)


def _distance(gt: Float32, hyp: Float32) -> npt.NDArray[np.float64]:
    iou = box_iou(gt, hyp).astype(np.float64)
    return np.where(iou >= 0.5, 1.0 - iou, np.nan)


def evaluate_tracking(
    root: Path,
    detect: Callable[[npt.NDArray[np.uint8]], Detections],
    *,
    min_visibility: float = 0.5,
    config: PeopleConfig | None = None,
    max_frames: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Json:
    """Run the detector and the live people step over every sequence; return the report.

    Each sequence gets its own :class:`~vigil.analytics.people.PeopleAnalysis` built from
    ``config`` (default: ``vigil run``'s default ``people`` section), fed every detection as the
    live stage feeds it, so the tracking metrics are those of the code ``vigil run`` runs and the
    ``counted`` block scores the boxes the live stage counts (``people.score_threshold``).
    """
    import motmetrics as mm

    people_config = config or PeopleConfig()
    det = _DetCounts(
        np.zeros(len(DETECTION_THRESHOLDS), np.int64), np.zeros(len(DETECTION_THRESHOLDS), np.int64)
    )
    accs, names = [], []
    hotas: list[HotaResult] = []
    frames_done, t0 = 0, time.perf_counter()
    for seq in find_sequences(root):
        acc = mm.MOTAccumulator(auto_id=True)
        hota = HotaSequence()
        people = PeopleAnalysis(seq.name, people_config)
        for path in seq.frames[:max_frames]:
            frame_no = int(path.stem)
            raw = cv2.imread(str(path))
            if raw is None:
                raise InputError(f"cannot read {path}")
            image = np.asarray(raw, np.uint8)
            at = _EPOCH + timedelta(seconds=frame_no / seq.fps)
            frame = FrameRef(seq.name, at, frame_no, image.shape[1], image.shape[0])
            dets = detect(image)
            result = people.step(frame, dets)
            gt, gt_ids, ignore = gt_frame(seq.gt, frame_no, min_visibility)
            det.add(dets.of_class(ObjectClass.PERSON), result.counted, gt, ignore)
            _score_tracks(acc, hota, result.persons, gt=gt, gt_ids=gt_ids, ignore=ignore)
            frames_done += 1
        accs.append(acc)
        hotas.append(hota.result())
        names.append(seq.name)
        if progress:
            progress(seq.name)
    elapsed = time.perf_counter() - t0
    mh = mm.metrics.create()
    metrics = [
        "mota",
        "motp",
        "idf1",
        "recall",
        "precision",
        "num_switches",
        "num_frames",
        "num_objects",
        "mostly_tracked",
    ]
    summary = mh.compute_many(accs, metrics=metrics, names=names, generate_overall=True)
    hota_by_seq = dict(zip(names, hotas, strict=True))
    doc = _document(
        summary, hota_by_seq, det, min_vis=min_visibility, frames=frames_done, elapsed=elapsed
    )
    doc["counted"] = {
        "score_threshold": people_config.score_threshold,
        "recall": det.counted_tp / max(det.gts, 1),
        "precision": det.counted_tp / max(det.counted_hyps, 1),
        "note": "the person boxes the live stage counts (people_now, crowd samples)",
    }
    doc["people_step"] = {
        "code": "vigil.analytics.people.PeopleAnalysis.step (as in vigil run)",
        "track_buffer": people_config.track_buffer,
    }
    return doc


def _score_tracks(
    acc: Any,
    hota: HotaSequence,
    persons: Detections,
    *,
    gt: Float32,
    gt_ids: npt.NDArray[np.int64],
    ignore: Float32,
) -> None:
    """Add one frame's tracked persons (rows with a track id) to the MOT and HOTA accumulators."""
    tid = persons.tracker_id
    assert tid is not None
    hyp, hyp_ids = persons.xyxy[tid >= 0], tid[tid >= 0]
    keep = drop_ignored(hyp, gt, ignore)
    acc.update(gt_ids.tolist(), hyp_ids[keep].tolist(), _distance(gt, hyp[keep]))
    hota.update(gt_ids, hyp_ids[keep], box_iou(gt, hyp[keep]).astype(np.float64))


def _hota_fields(r: HotaResult) -> Json:
    return {"hota": r.hota, "deta": r.det_a, "assa": r.ass_a_mean, "loca": r.loc_a_mean}


def _document(
    summary: Any,
    hota: dict[str, HotaResult],
    det: _DetCounts,
    *,
    min_vis: float,
    frames: int,
    elapsed: float,
) -> Json:
    """The report document from motmetrics' summary table (a pandas DataFrame) and HOTA."""
    overall = summary.loc["OVERALL"]

    def row(r: Any, name: str) -> Json:
        return _hota_fields(hota[name]) | {
            k: (
                float(v)
                if k not in {"num_switches", "num_frames", "num_objects", "mostly_tracked"}
                else int(v)
            )
            for k, v in r.items()
        }

    recall = det.tp / max(det.gts, 1)
    precision = det.tp / np.maximum(det.hyps, 1)
    curve: list[JsonValue] = [
        {"threshold": t, "recall": float(r), "precision": float(p)}
        for t, r, p in zip(DETECTION_THRESHOLDS, recall, precision, strict=True)
    ]
    ok = [i for i in range(len(recall)) if precision[i] >= 0.8]
    best: JsonValue = None
    if ok:
        i = max(ok, key=lambda j: recall[j])
        best = {
            "threshold": DETECTION_THRESHOLDS[i],
            "recall": float(recall[i]),
            "precision": float(precision[i]),
        }
    return {
        "kind": "tracking",
        "mota": float(overall["mota"]),
        "idf1": float(overall["idf1"]),
        "recall": float(overall["recall"]),
        "precision": float(overall["precision"]),
        **_hota_fields(combine(list(hota.values()))),
        "id_switches": int(overall["num_switches"]),
        "frames": frames,
        "seconds": round(elapsed, 2),
        "protocol": {
            "min_visibility": min_vis,
            "match_iou": 0.5,
            "counted": "consider_flag==1, class==1 (pedestrian), visibility>=min_visibility",
            "ignored": "other rows; hypotheses on them that match no counted person are removed",
            "library": "motmetrics (distances computed by vigil.core.box_iou)",
            "hota": "vigil.eval.hota (trackeval's algorithm, checked against it in tests); "
            "similarity = IoU, mean over alpha 0.05..0.95",
        },
        "sequences": {
            str(name): row(summary.loc[name], str(name))
            for name in summary.index
            if name != "OVERALL"
        },
        "detection": {
            "ground_truth": det.gts,
            "curve": curve,
            "best_recall_at_precision_0.8": best,
        },
    }


def write_tracking_report(doc: Json, out: Path) -> Path:
    return write_json(out, doc)


__all__: Sequence[str] = ["evaluate_tracking", "find_sequences", "write_tracking_report"]
