"""NanoDet person/vehicle detector with multi-scale tiling, and the OpenCV HOG fallback.

NanoDet-m 416 (GFL head) predicts, on three grids (strides 8, 16 and 32 over a 416 × 416 input),
80 sigmoid class scores and, per box side, a distribution over 11 distance bins; the distance is
the expectation of the softmax times the stride, measured from the cell centre
``((col + 0.5) · stride, (row + 0.5) · stride)``. Input is NCHW **BGR normalised with NanoDet's
training mean/std** (103.53, 116.28, 123.675) / (57.375, 57.12, 58.395): measured on MOT17-mini,
this finds about half again as many people as RGB / 255 at the same precision.

Tiling: a 416-pixel network sees a 1920-pixel frame at a fifth of its size, and people under
~60 px tall vanish. ``tile_grids=(1, 2, 3)`` runs the whole frame plus 2 × 2 and 3 × 3 grids of
overlapping tiles (each tile enlarged by ``tile_overlap`` of its size on every side) and merges
the boxes. Cost grows with the number of tiles (1 + 4 + 9 = 14 runs), so the default for live
video is ``(1,)`` or ``(1, 2)``; the crowd counter uses all three. Boxes cut by an inner tile
border are dropped (a neighbouring tile or the full view sees the whole object), then boxes are
merged by class-wise NMS and a containment rule (a box mostly inside a higher-scoring one of the
same class is a duplicate from another scale).

Images are letterboxed into the square input (aspect kept, padding grey) rather than stretched,
so a standing person keeps its shape in a 16:9 frame.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from vigil.core import CLASS_IDS, Detections, ObjectClass, nms
from vigil.errors import ChecksumMismatchError, InputError
from vigil.models.builtin_objects import (
    NANODET_GRAPH,
    NANODET_ONNX_SHA256,
    NANODET_SHARD,
    NANODET_WEIGHTS,
)
from vigil.models.installer import model_path
from vigil.models.tfjs import convert
from vigil.perception.runtime import default_threads, device_providers

log = logging.getLogger(__name__)

BGRImage = npt.NDArray[np.uint8]
Float32 = npt.NDArray[np.float32]

COCO_TO_CLASS: Final[dict[int, ObjectClass]] = {
    0: ObjectClass.PERSON,
    1: ObjectClass.BICYCLE,
    2: ObjectClass.CAR,
    3: ObjectClass.MOTORCYCLE,
    5: ObjectClass.BUS,
    7: ObjectClass.TRUCK,
}
INPUT = 416
STRIDES: Final = {52 * 52: 8, 26 * 26: 16, 13 * 13: 32}
BINS = 11
MEAN: Final = np.array([103.53, 116.28, 123.675], np.float32)
STD: Final = np.array([57.375, 57.12, 58.395], np.float32)
_COCO_IDS = np.array(sorted(COCO_TO_CLASS), np.int64)
_VIGIL_IDS = np.array([CLASS_IDS[COCO_TO_CLASS[c]] for c in sorted(COCO_TO_CLASS)], np.int64)


class ObjectDetector(Protocol):
    """Anything that finds people and vehicles in a BGR image."""

    name: str

    def detect(self, image: BGRImage) -> Detections: ...


def _check_image(image: BGRImage) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"image must be an (H, W, 3) BGR array, got {getattr(image, 'shape', None)}"
        )
    if image.dtype != np.uint8:
        raise InputError(f"image must be uint8, got {image.dtype}")
    if min(image.shape[:2]) < 16:
        raise InputError(f"image is {image.shape[1]}x{image.shape[0]}; at least 16 px a side")


def load_nanodet_onnx(model_dir: Path | None = None) -> bytes:
    """Build NanoDet's ONNX bytes from the installed, verified TF.js files; check the pin."""
    graph = model_path(NANODET_GRAPH, model_dir).read_bytes()
    shard = model_path(NANODET_WEIGHTS, model_dir).read_bytes()
    data = convert(graph, {NANODET_SHARD: shard}, model_name="nanodet")
    got = hashlib.sha256(data).hexdigest()
    if got != NANODET_ONNX_SHA256:
        raise ChecksumMismatchError(
            "NanoDet converted by vigil.models.tfjs", NANODET_ONNX_SHA256, got
        )
    return data


def _session(data: bytes, threads: int | None, providers: Sequence[str] | None = None) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(
        data, sess_options=opts, providers=list(providers or device_providers())
    )


def tile_windows(
    width: int, height: int, grids: Sequence[int], overlap: float
) -> list[tuple[int, int, int, int]]:
    """Windows (x0, y0, x1, y1): for each grid g, g × g tiles enlarged by ``overlap`` a side."""
    out: list[tuple[int, int, int, int]] = []
    for g in grids:
        tw, th = width / g, height / g
        for r in range(g):
            for c in range(g):
                x0 = max(0, int(c * tw - overlap * tw))
                y0 = max(0, int(r * th - overlap * th))
                x1 = min(width, int((c + 1) * tw + overlap * tw))
                y1 = min(height, int((r + 1) * th + overlap * th))
                out.append((x0, y0, x1, y1))
    return out


def decode_nanodet(
    outputs: Sequence[Float32], score_threshold: float
) -> tuple[Float32, Float32, npt.NDArray[np.int64]]:
    """Raw NanoDet outputs to boxes in input pixels, scores and COCO class ids (one per cell)."""
    cls_maps = {o.shape[1]: o[0] for o in outputs if o.shape[2] == 80}
    reg_maps = {o.shape[1]: o[0] for o in outputs if o.shape[2] == 4 * BINS}
    boxes, scores, classes = [], [], []
    proj = np.arange(BINS, dtype=np.float32)
    for cells, stride in STRIDES.items():
        cls = cls_maps[cells][:, _COCO_IDS]
        best = cls.argmax(1)
        score = cls[np.arange(cells), best]
        sel = np.nonzero(score >= score_threshold)[0]
        if sel.size == 0:
            continue
        reg = reg_maps[cells][sel].reshape(-1, 4, BINS)
        reg = np.exp(reg - reg.max(2, keepdims=True))
        dist = (reg / reg.sum(2, keepdims=True)) @ proj * stride
        side = round(float(np.sqrt(cells)))
        cx = (sel % side + 0.5) * stride
        cy = (sel // side + 0.5) * stride
        boxes.append(
            np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
        )
        scores.append(score[sel])
        classes.append(_COCO_IDS[best[sel]])
    if not boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return (
        np.concatenate(boxes).astype(np.float32),
        np.concatenate(scores).astype(np.float32),
        np.concatenate(classes),
    )


def merge_boxes(
    boxes: Float32, scores: Float32, classes: npt.NDArray[np.int64], iou: float, contain: float
) -> npt.NDArray[np.intp]:
    """Class-wise NMS, then drop boxes lying ``contain`` or more inside a better one."""
    keep_all: list[npt.NDArray[np.intp]] = []
    for c in np.unique(classes):
        idx = np.nonzero(classes == c)[0]
        kept = idx[nms(boxes[idx], scores[idx], iou)]
        if len(kept) > 1 and contain < 1.0:
            b = boxes[kept]
            x1 = np.maximum(b[:, None, 0], b[None, :, 0])
            y1 = np.maximum(b[:, None, 1], b[None, :, 1])
            x2 = np.minimum(b[:, None, 2], b[None, :, 2])
            y2 = np.minimum(b[:, None, 3], b[None, :, 3])
            inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
            area = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1e-6)
            inside = inter / area[:, None]  # [i, j]: share of i inside j
            np.fill_diagonal(inside, 0)
            better = scores[kept][None, :] > scores[kept][:, None]
            kept = kept[~((inside >= contain) & better).any(1)]
        keep_all.append(kept)
    if not keep_all:
        return np.zeros(0, np.intp)
    out = np.concatenate(keep_all)
    return out[np.argsort(-scores[out], kind="stable")]


class NanoDetDetector:
    """NanoDet-m 416 (COCO) restricted to people and vehicles, with optional tiling.

    Args:
        score_threshold: minimum class score kept. 0.35 balances recall and precision on
            MOT17-mini; the tracker's low-score pass wants ~0.15 (see ``low_score_threshold``).
        nms_iou: overlap above which same-class boxes merge.
        tile_grids: grids to run (1 = whole frame); more grids find smaller people, each grid g
            costs g² network runs.
        tile_overlap: share of a tile's size added on each side, so objects on a border are seen
            whole by one tile.
        threads: ONNX Runtime intra-op threads.
        providers: ONNX Runtime execution providers (default: the CPU); see
            :func:`vigil.perception.runtime.providers_for`; ``None`` follows ``runtime.device``.
    """

    name = "nanodet"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        score_threshold: float = 0.35,
        nms_iou: float = 0.5,
        tile_grids: Sequence[int] = (1,),
        tile_overlap: float = 0.15,
        contain: float = 0.8,
        threads: int | None = None,
        providers: Sequence[str] | None = None,
    ) -> None:
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.tile_grids = tuple(tile_grids)
        self.tile_overlap = tile_overlap
        self.contain = contain
        self.session = _session(load_nanodet_onnx(model_dir), threads, providers)
        # Optional observer of each run's raw outputs (the crowd counter sums score maps).
        self.on_outputs: Callable[[list[Float32]], None] | None = None
        self.input_name = self.session.get_inputs()[0].name

    def infer(
        self, image: BGRImage, score_threshold: float
    ) -> tuple[Float32, Float32, npt.NDArray[np.int64]]:
        """One letterboxed network run: boxes in image pixels, scores, COCO class ids."""
        h, w = image.shape[:2]
        scale = INPUT / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        canvas = np.full((INPUT, INPUT, 3), 114, np.uint8)
        canvas[:nh, :nw] = cv2.resize(
            image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        blob = ((canvas.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]
        outputs = self.session.run(None, {self.input_name: np.ascontiguousarray(blob)})
        if self.on_outputs is not None:
            self.on_outputs(outputs)
        boxes, scores, classes = decode_nanodet(outputs, score_threshold)
        boxes /= np.float32(scale)
        return boxes, scores, classes

    def detect_raw(
        self, image: BGRImage, score_threshold: float | None = None
    ) -> tuple[Float32, Float32, npt.NDArray[np.int64]]:
        """Tiled detection before class mapping: merged boxes, scores, COCO class ids."""
        _check_image(image)
        thr = self.score_threshold if score_threshold is None else score_threshold
        h, w = image.shape[:2]
        all_b, all_s, all_c = [], [], []
        for window in tile_windows(w, h, self.tile_grids, self.tile_overlap):
            b, s, c = self.infer_window(image, window, thr)
            all_b.append(b)
            all_s.append(s)
            all_c.append(c)
        return self.merge(all_b, all_s, all_c, w, h)

    def infer_window(
        self, image: BGRImage, window: tuple[int, int, int, int], score_threshold: float
    ) -> tuple[Float32, Float32, npt.NDArray[np.int64]]:
        """One run on ``image[window]``: boxes in image pixels, minus those cut by an inner
        tile border (a neighbouring tile sees them whole)."""
        x0, y0, x1, y1 = window
        h, w = image.shape[:2]
        b, s, c = self.infer(np.ascontiguousarray(image[y0:y1, x0:x1]), score_threshold)
        if (x1 - x0, y1 - y0) != (w, h):
            margin = 2.0
            cut = (
                ((b[:, 0] <= margin) & (x0 > 0))
                | ((b[:, 1] <= margin) & (y0 > 0))
                | ((b[:, 2] >= (x1 - x0) - margin) & (x1 < w))
                | ((b[:, 3] >= (y1 - y0) - margin) & (y1 < h))
            )
            b, s, c = b[~cut], s[~cut], c[~cut]
        b[:, [0, 2]] += x0
        b[:, [1, 3]] += y0
        return b, s, c

    def merge(
        self,
        all_b: Sequence[Float32],
        all_s: Sequence[Float32],
        all_c: Sequence[npt.NDArray[np.int64]],
        w: int,
        h: int,
    ) -> tuple[Float32, Float32, npt.NDArray[np.int64]]:
        """Merge the boxes of several windows (clip to the image, class-wise NMS, containment)."""
        b = np.concatenate(all_b)
        s = np.concatenate(all_s)
        c = np.concatenate(all_c)
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
        ok = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        b, s, c = b[ok], s[ok], c[ok]
        idx = merge_boxes(b, s, c, self.nms_iou, self.contain)
        return b[idx], s[idx], c[idx]

    def detect(self, image: BGRImage) -> Detections:
        b, s, c = self.detect_raw(image)
        vigil_ids = _VIGIL_IDS[np.searchsorted(_COCO_IDS, c)]
        return Detections(b, np.clip(s, 0, 1), vigil_ids)


class HogPersonDetector:
    """OpenCV's HOG + linear SVM people detector (Dalal–Triggs, 64 × 128 window).

    A fallback when the NanoDet model is not installed, and the baseline the benchmark compares
    against. It finds upright people of roughly 100–400 px only (``upscale`` enlarges the frame to
    reach smaller ones at quadratic cost), and gives no vehicles. Needs opencv < 5.
    """

    name = "hog"

    def __init__(
        self, *, upscale: float = 1.0, hit_threshold: float = 0.0, nms_iou: float = 0.45
    ) -> None:
        if not hasattr(cv2, "HOGDescriptor"):
            raise InputError("this OpenCV build has no HOGDescriptor (opencv >= 5): pin opencv < 5")
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        self.upscale = upscale
        self.hit_threshold = hit_threshold
        self.nms_iou = nms_iou

    def detect(self, image: BGRImage) -> Detections:
        _check_image(image)
        img = (
            image
            if self.upscale == 1.0
            else cv2.resize(image, None, fx=self.upscale, fy=self.upscale)
        )
        rects, weights = self.hog.detectMultiScale(
            img, hitThreshold=self.hit_threshold, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        if len(rects) == 0:
            return Detections.empty()
        r = np.asarray(rects, np.float32) / np.float32(self.upscale)
        boxes = np.stack([r[:, 0], r[:, 1], r[:, 0] + r[:, 2], r[:, 1] + r[:, 3]], 1)
        score = (1.0 / (1.0 + np.exp(-np.asarray(weights, np.float32).reshape(-1)))).astype(
            np.float32
        )
        keep = nms(boxes, score, self.nms_iou)
        person = CLASS_IDS[ObjectClass.PERSON]
        return Detections(boxes[keep], score[keep], np.full(len(keep), person, np.int64))
