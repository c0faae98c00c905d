"""PP-OCR text detection (DB) and recognition (CTC) run with onnxruntime directly.

The detector outputs a per-pixel text probability; connected regions above ``thresh`` become
rotated boxes, grown by the DB "unclip" rule (offset = area x ratio / perimeter) because the model
is trained to predict a shrunk text kernel. The recogniser reads a crop resized to height 48.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from vigil.perception.plates.ctc import ctc_greedy

BGRImage = npt.NDArray[np.uint8]
REC_HEIGHT = 48
MIN_SIDE = 8  # below this no text is readable: a clean "no read", not an error
Read = tuple[str, npt.NDArray[np.float32]]


class Recognizer(Protocol):
    """Reads text crops: text and per-character probability of each (``""`` when unreadable)."""

    def read(self, crops: Sequence[BGRImage], stretch: float = 1.0) -> list[Read]: ...


@dataclass(frozen=True, slots=True)
class TextBoxes:
    """Detected text regions: ``quads`` [N,4,2] (tl, tr, br, bl in image pixels), ``scores`` [N]."""

    quads: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        if self.quads.ndim != 3 or self.quads.shape[1:] != (4, 2):
            raise ValueError(f"quads must be [N,4,2], got {list(self.quads.shape)}")
        if self.scores.shape != (len(self.quads),):
            raise ValueError(f"scores must be [{len(self.quads)}], got {list(self.scores.shape)}")

    def __len__(self) -> int:
        return len(self.quads)


def check_image(image: BGRImage) -> bool:
    """True when ``image`` can hold text; ValueError when it is not a BGR uint8 array."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise ValueError("image must be a uint8 numpy array")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be [H,W,3] BGR, got {list(image.shape)}")
    return bool(min(image.shape[:2]) >= MIN_SIDE)


def _order(pts: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Corners in tl, tr, br, bl order."""
    s = pts.sum(axis=1)
    d = pts[:, 1] - pts[:, 0]
    return np.array(
        [pts[s.argmin()], pts[d.argmin()], pts[s.argmax()], pts[d.argmax()]], np.float32
    )


class TextDetector:
    """PP-OCR DB detector. ``max_side`` trades small-text recall for speed."""

    def __init__(
        self,
        session: Any,
        *,
        max_side: int = 1280,
        thresh: float = 0.3,
        box_thresh: float = 0.5,
        unclip_ratio: float = 1.6,
    ) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.max_side = max_side
        self.thresh = thresh
        self.box_thresh = box_thresh
        self.unclip_ratio = unclip_ratio

    def detect(self, image: BGRImage) -> TextBoxes:
        """Text boxes in ``image`` (empty for blank or tiny images)."""
        empty = TextBoxes(np.zeros((0, 4, 2), np.float32), np.zeros(0, np.float32))
        if not check_image(image):
            return empty
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        nh = max(32, round(h * scale / 32) * 32)
        nw = max(32, round(w * scale / 32) * 32)
        resized = cv2.resize(image, (nw, nh))
        x = (resized.astype(np.float32) / 255.0 - 0.5) / 0.5
        x = x.transpose(2, 0, 1)[None]
        prob = self.session.run(None, {self.input_name: x})[0][0, 0]
        mask = (prob > self.thresh).astype(np.uint8)
        mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        quads: list[npt.NDArray[np.float32]] = []
        scores: list[float] = []
        sx, sy = w / nw, h / nh
        for c in contours[:1000]:
            rect = cv2.minAreaRect(c)
            if min(rect[1]) < 3:
                continue
            score = self._score(prob, np.asarray(c, np.int32))
            if score < self.box_thresh:
                continue
            rw, rh = rect[1]
            area, perim = rw * rh, 2 * (rw + rh)
            grow = area * self.unclip_ratio / max(perim, 1e-6)
            big = (rect[0], (rw + 2 * grow, rh + 2 * grow), rect[2])
            pts = _order(cv2.boxPoints(big).astype(np.float32))
            pts[:, 0] = np.clip(pts[:, 0] * sx, 0, w - 1)
            pts[:, 1] = np.clip(pts[:, 1] * sy, 0, h - 1)
            quads.append(pts)
            scores.append(score)
        if not quads:
            return empty
        return TextBoxes(np.stack(quads), np.asarray(scores, np.float32))

    @staticmethod
    def _score(prob: npt.NDArray[np.float32], contour: npt.NDArray[np.int32]) -> float:
        x, y, bw, bh = cv2.boundingRect(contour)
        local = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(local, [contour.reshape(-1, 2) - [x, y]], 1)
        region = prob[y : y + bh, x : x + bw]
        return float(region[local > 0].mean()) if local.any() else 0.0


def warp_quad(image: BGRImage, quad: npt.NDArray[np.float32]) -> BGRImage:
    """The upright crop under ``quad`` (tl, tr, br, bl), perspective-corrected."""
    w = round(float(max(np.linalg.norm(quad[1] - quad[0]), np.linalg.norm(quad[2] - quad[3]))))
    h = round(float(max(np.linalg.norm(quad[3] - quad[0]), np.linalg.norm(quad[2] - quad[1]))))
    w, h = max(w, 1), max(h, 1)
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), dst)
    out = cv2.warpPerspective(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(out, np.uint8)


class TextRecognizer:
    """PP-OCR CTC recogniser; the character list is read from the model's metadata."""

    def __init__(self, session: Any, charset: Sequence[str] | None = None) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name
        if charset is None:
            meta = session.get_modelmeta().custom_metadata_map
            if "character" not in meta:
                raise ValueError("recognition model has no 'character' metadata; pass charset")
            chars = ["<blank>", *meta["character"].splitlines()]
            # PP-OCR's own models append a space class; a plate model (0-9A-Z) has none.
            classes = session.get_outputs()[0].shape[-1]
            charset = chars if classes == len(chars) else [*chars, " "]
        self.charset = list(charset)

    def read(
        self, crops: Sequence[BGRImage], stretch: float = 1.0
    ) -> list[tuple[str, npt.NDArray[np.float32]]]:
        """Text and per-character probabilities of each crop (``""`` for unreadable crops).

        Each crop is resized to 48 px high keeping its aspect ratio, times ``stretch`` in width
        (see ``PlateRules.stretch`` for why plate rows are read wider than they are).
        """
        if stretch <= 0:
            raise ValueError(f"stretch must be positive, got {stretch}")
        out: list[tuple[str, npt.NDArray[np.float32]]] = []
        for crop in crops:
            if crop.ndim != 3 or min(crop.shape[:2]) < 2:
                out.append(("", np.zeros(0, np.float32)))
                continue
            h, w = crop.shape[:2]
            nw = int(np.clip(np.ceil(REC_HEIGHT * stretch * w / h), 16, 1280))
            x = cv2.resize(crop, (nw, REC_HEIGHT)).astype(np.float32)
            x = ((x / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
            probs = self.session.run(None, {self.input_name: x})[0][0]
            out.append(ctc_greedy(probs, self.charset))
        return out
