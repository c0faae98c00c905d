"""Box geometry on ``(N, 4)`` float arrays in ``xyxy`` pixel coordinates.

All functions are vectorised (no Python loops over boxes) because trackers and zone counters call
them for every frame of every camera. Boxes are ``[x1, y1, x2, y2]`` with ``x2 >= x1`` and
``y2 >= y1``; a zero-area box is legal (IoU with it is 0, never NaN).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

FloatArray = npt.NDArray[np.float32]


def _as_boxes(boxes: npt.ArrayLike, name: str = "boxes") -> FloatArray:
    arr: FloatArray = np.asarray(boxes, dtype=np.float32)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValidationError(f"{name} must have shape (N, 4), got {arr.shape}")
    return arr


def box_area(boxes: npt.ArrayLike) -> FloatArray:
    """Area of each box; negative extents count as zero."""
    b = _as_boxes(boxes)
    area: FloatArray = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    return area


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Pairwise IoU matrix of shape ``(len(a), len(b))``, values in ``[0, 1]``."""
    a_, b_ = _as_boxes(a, "a"), _as_boxes(b, "b")
    x1 = np.maximum(a_[:, None, 0], b_[None, :, 0])
    y1 = np.maximum(a_[:, None, 1], b_[None, :, 1])
    x2 = np.minimum(a_[:, None, 2], b_[None, :, 2])
    y2 = np.minimum(a_[:, None, 3], b_[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = box_area(a_)[:, None] + box_area(b_)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.clip(iou, 0.0, 1.0).astype(np.float32)


def clip_boxes(boxes: npt.ArrayLike, width: int, height: int) -> FloatArray:
    """Clip boxes to an image of ``width`` x ``height`` pixels."""
    if width <= 0 or height <= 0:
        raise ValidationError(f"image size must be positive, got {width}x{height}")
    b = _as_boxes(boxes).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, width)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, height)
    return b


def xywh_to_xyxy(boxes: npt.ArrayLike) -> FloatArray:
    """``[x, y, w, h]`` (top-left corner) to ``[x1, y1, x2, y2]``."""
    b = _as_boxes(boxes).copy()
    b[:, 2] += b[:, 0]
    b[:, 3] += b[:, 1]
    return b


def xyxy_to_xywh(boxes: npt.ArrayLike) -> FloatArray:
    """``[x1, y1, x2, y2]`` to ``[x, y, w, h]`` (top-left corner)."""
    b = _as_boxes(boxes).copy()
    b[:, 2] -= b[:, 0]
    b[:, 3] -= b[:, 1]
    return b


def cxcywh_to_xyxy(boxes: npt.ArrayLike) -> FloatArray:
    """``[cx, cy, w, h]`` (centre) to ``[x1, y1, x2, y2]``."""
    b = _as_boxes(boxes)
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    return np.stack([b[:, 0] - half_w, b[:, 1] - half_h, b[:, 0] + half_w, b[:, 1] + half_h], 1)


def xyxy_to_cxcywh(boxes: npt.ArrayLike) -> FloatArray:
    """``[x1, y1, x2, y2]`` to ``[cx, cy, w, h]`` (centre)."""
    b = _as_boxes(boxes)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w, h], 1)


def nms(boxes: npt.ArrayLike, scores: npt.ArrayLike, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Greedy non-maximum suppression; returns kept indices sorted by descending score.

    OpenCV's ``cv2.dnn.NMSBoxes`` would do, but it takes ``xywh`` lists and thresholds scores
    too; this keeps one vectorised path for every detector backend.
    """
    b = _as_boxes(boxes)
    s = np.asarray(scores, dtype=np.float32).reshape(-1)
    if len(s) != len(b):
        raise ValidationError(f"scores must have length {len(b)}, got {len(s)}")
    order = np.argsort(-s, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        ious = box_iou(b[i : i + 1], b[order[1:]])[0]
        order = order[1:][ious <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)
