"""Bystander redaction for evidence exports: blur every face and plate that is not the subject's.

A case's evidence shows its subject; everyone else who walked past the camera is a bystander whose
face a court, a journalist or the defence never needs. The :class:`Redactor` blurs, in each
frame of an exported clip and in each still:

* **every face** the face detector finds, except faces that match the case's subject - the
  templates of the case's alerts, compared at the calibrated identification threshold with the
  same embedder the live matcher uses. A face that cannot be embedded (too small, too blurred,
  too far from frontal: the quality gate) cannot be shown to be the subject, so it is blurred;
* **every plate** the plate reader finds whose text is not one of the case's plate reads
  (only when a plate reader is given: full-frame OCR of every frame is the slowest part);
* **privacy-mask polygons** of the camera (normalised ``[(x, y), ...]`` in 0..1), blacked out
  before anything else, by ``mask_fn`` (the recording package's ``apply_masks`` at assembly; a
  plain polygon fill here by default).

Trade-offs of the knobs: the redactor's detector runs at a *lower* score threshold than the live
pipeline (``detector`` is built for redaction: more faces found, some false ones blurred for
nothing), boxes are grown by ``margin`` (hair and a turned head stay covered), and a bystander's
box is also blurred for ``carry`` frames after it was last seen, which covers the frames where the
detector briefly loses a face. Blurring is pixelation to ``block``-pixel cells followed by a
Gaussian blur: re-running a face detector on the result finds nothing there (measured by
``tests/integration/test_evidence_redaction.py``), where a light blur would leave a findable face.
What it cannot do: hide a person's clothes, gait or a face the detector never sees (a face
smaller than the detector's minimum size, or seen from behind); the count of blurred faces and
the frames processed go into the manifest so a reviewer knows what was done.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from vigil.core import FrameRef
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.plates.reader import PlateReading

log = logging.getLogger(__name__)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # frames being redacted belong to no live stream

BGR = npt.NDArray[np.uint8]
Polygon = Sequence[tuple[float, float]]
MaskFn = Callable[[BGR, Sequence[Polygon]], BGR]


def fill_polygons(frame: BGR, polygons: Sequence[Polygon]) -> BGR:
    """Black out normalised polygons (the default privacy-mask painter)."""
    if not polygons:
        return frame
    h, w = frame.shape[:2]
    out = frame.copy()
    pts = [
        np.round(np.asarray(p, np.float64) * (w, h)).astype(np.int32).reshape(-1, 1, 2)
        for p in polygons
    ]
    cv2.fillPoly(out, pts, (0, 0, 0))
    return out


def _grow(box: npt.NDArray[np.float32], margin: float, w: int, h: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * margin, (y2 - y1) * margin
    # Clamped on both sides: a box (partly) outside the frame becomes its part inside it, or
    # an empty box at the edge.
    left, top = min(w, max(0, int(x1 - dx))), min(h, max(0, int(y1 - dy)))
    right, bottom = (
        max(left, min(w, int(np.ceil(x2 + dx)))),
        max(top, min(h, int(np.ceil(y2 + dy)))),
    )
    return left, top, right, bottom


def obscure(frame: BGR, box: tuple[int, int, int, int], block: int) -> None:
    """Pixelate then blur ``box`` of ``frame`` in place."""
    x1, y1, x2, y2 = box
    if x2 - x1 < 2 or y2 - y1 < 2:
        return
    region = frame[y1:y2, x1:x2]
    rh, rw = region.shape[:2]
    # At most ~4 cells across a face whatever its size: a large face pixelated to fixed 8-px
    # cells keeps enough structure for a detector to find it again.
    block = max(block, min(rw, rh) // 4)
    small = cv2.resize(
        region, (max(1, rw // block), max(1, rh // block)), interpolation=cv2.INTER_AREA
    )
    coarse = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)
    k = max(3, (min(rw, rh) // 2) | 1)
    frame[y1:y2, x1:x2] = cv2.GaussianBlur(coarse, (k, k), 0)


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _centred_in(box: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


@dataclass
class RedactionStats:
    """What a redaction did (goes into the evidence manifest)."""

    frames: int = 0
    faces_blurred: int = 0
    subject_faces_kept: int = 0
    plates_blurred: int = 0
    plates_kept: int = 0
    subject_frames: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "frames": self.frames,
            "faces_blurred": self.faces_blurred,
            "subject_faces_kept": self.subject_faces_kept,
            "plates_blurred": self.plates_blurred,
            "plates_kept": self.plates_kept,
            "frames_with_subject": self.subject_frames,
        }


class Redactor:
    """Blurs bystanders' faces and plates in frames, stills and videos (see the module doc).

    Args:
        faces: a face pipeline whose detector is set up for redaction (low score threshold) and
            whose embedder made ``subject`` (the same model as the live matcher).
        subject: ``(k, d)`` unit templates of the case's subject; empty: every face is blurred.
        threshold: cosine similarity at or above which a face is the subject's (the calibrated
            identification threshold).
        plates: a plate reader, or ``None`` (plates are then left as they are).
        plate_texts: the case's plates, kept readable.
    """

    def __init__(
        self,
        faces: FacePipeline,
        subject: npt.NDArray[np.float32],
        threshold: float,
        *,
        plates: PlateReading | None = None,
        plate_texts: Collection[str] = (),
        margin: float = 0.3,
        block: int = 8,
        carry: int = 3,
        mask_fn: MaskFn = fill_polygons,
    ) -> None:
        dim = faces.embedder.dim
        subject = np.asarray(subject, np.float32).reshape(-1, dim)
        norms = np.linalg.norm(subject, axis=1, keepdims=True)
        self.subject = subject / np.maximum(norms, 1e-12)
        self.faces = faces
        self.threshold = threshold
        self.plates = plates
        self.plate_texts = frozenset(plate_texts)
        self.margin = margin
        self.block = block
        self.carry = carry
        self.mask_fn = mask_fn

    def _is_subject(self, embedding: npt.NDArray[np.float32] | None) -> bool:
        if embedding is None or not len(self.subject):
            return False
        e = embedding / max(float(np.linalg.norm(embedding)), 1e-12)
        return bool(np.max(self.subject @ e) >= self.threshold)

    def frame(
        self,
        image: BGR,
        stats: RedactionStats,
        *,
        history: deque[list[tuple[int, int, int, int]]] | None = None,
        masks: Sequence[Polygon] = (),
    ) -> BGR:
        """One redacted copy of ``image``; ``history`` carries bystander boxes between frames."""
        out = self.mask_fn(image, masks) if masks else image.copy()
        h, w = out.shape[:2]
        ref = FrameRef("redaction", _EPOCH, stats.frames, w, h)
        analysis = self.faces.analyse(out, ref)
        bystanders: list[tuple[int, int, int, int]] = []
        subjects: list[tuple[int, int, int, int]] = []
        for obs in analysis.observations:
            box = _grow(obs.xyxy, self.margin, w, h)
            (subjects if self._is_subject(obs.embedding) else bystanders).append(box)
        if subjects:
            stats.subject_frames += 1
        carried = [b for past in (history or ()) for b in past]
        carried = [b for b in carried if all(_iou(b, s) < 0.3 for s in subjects)]
        # Plates are read on the frame as it came (before any blurring, which could make a
        # plate read as something else); a "face" or a text line centred on the case's own
        # plate is left alone so that plate stays readable.
        kept_plates: list[tuple[int, int, int, int]] = []
        other_plates: list[tuple[int, int, int, int]] = []
        for cand in self.plates.read(out) if self.plates is not None else []:
            box = _grow(np.asarray(cand.xyxy, np.float32), 0.1, w, h)
            (kept_plates if cand.text in self.plate_texts else other_plates).append(box)
        # Other text read on the case's own plate (a dealer frame, the state's name) is part of
        # that plate, not another vehicle's.
        other_plates = [b for b in other_plates if not any(_centred_in(b, k) for k in kept_plates)]
        faces = [b for b in bystanders + carried if not any(_centred_in(b, k) for k in kept_plates)]
        for box in faces + other_plates:
            obscure(out, box, self.block)
        stats.faces_blurred += len(bystanders)
        stats.subject_faces_kept += len(subjects)
        stats.plates_blurred += len(other_plates)
        stats.plates_kept += len(kept_plates)
        if history is not None:
            history.append(bystanders)
        stats.frames += 1
        return out

    def image(self, data: bytes, masks: Sequence[Polygon] = ()) -> tuple[bytes, RedactionStats]:
        """A redacted JPEG of a still (an alert's probe crop, a key frame)."""
        from vigil.perception.image import decode_image

        stats = RedactionStats()
        out = self.frame(decode_image(data), stats, masks=masks)
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise ValueError("could not encode the redacted still")
        return buf.tobytes(), stats

    def video(self, src: Path, dst: Path, masks: Sequence[Polygon] = ()) -> RedactionStats:
        """Decode ``src`` (any container PyAV reads), redact every frame, encode ``dst`` (MP4,
        H.264 when the PyAV build has it, else MPEG-4 Part 2) at the source's rate and size."""
        import av

        stats = RedactionStats()
        history: deque[list[tuple[int, int, int, int]]] = deque(maxlen=max(1, self.carry))
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        tmp = dst.with_name(dst.name + ".part")
        with av.open(str(src)) as inp, av.open(str(tmp), "w", format="mp4") as out:
            vin = inp.streams.video[0]
            rate = vin.average_rate or 10
            stream = cast("av.VideoStream", out.add_stream(codec, rate=rate))
            stream.width, stream.height = vin.codec_context.width, vin.codec_context.height
            stream.pix_fmt = "yuv420p"
            if codec == "libx264":
                stream.options = {"crf": "18", "preset": "veryfast"}
            else:
                stream.bit_rate = 4_000_000
            for frame in inp.decode(vin):
                img: BGR = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
                red = self.frame(img, stats, history=history, masks=masks)
                out.mux(stream.encode(av.VideoFrame.from_ndarray(red, format="bgr24")))
            out.mux(stream.encode(None))
        tmp.replace(dst)
        log.info("redacted %s: %s", src.name, stats.as_json())
        return stats
