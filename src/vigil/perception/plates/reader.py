"""Plate reading: text lines found by PP-OCR, kept when they look like a plate, read and checked.

There is no dedicated plate detector with a clear licence in any registry package (see
../shared/MODELS.md), so plate regions are the text lines whose shape fits a plate's character
row (aspect ratio and size rules) and whose reading passes the region profile. The plate box is
estimated from the character row (a US plate is about twice as wide as high, the characters fill
most of its width). Optional ``regions`` (vehicle boxes from the object detector) restrict the
search; without them the whole image is searched (dedicated LPR cameras).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.perception.plates.profiles import US, RegionProfile
from vigil.perception.plates.text import (
    BGRImage,
    Recognizer,
    TextDetector,
    TextRecognizer,
    check_image,
    warp_quad,
)

XYXY = tuple[float, float, float, float]
#: Recognisers ``PlateReader.from_models`` can build (``plates.recogniser``).
RECOGNISERS = ("ppocr", "vigil", "fused")


@dataclass(frozen=True, slots=True)
class PlateCandidate:
    """One plate read in one image (not yet fused over a track)."""

    text: str
    confidence: float
    raw: str
    xyxy: XYXY
    text_xyxy: XYXY

    def __post_init__(self) -> None:
        if not ((self.text.isalnum() and self.text.isupper()) or self.text.isdigit()):
            raise ValueError(f"plate text must be upper-case letters/digits, got {self.text!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")


@dataclass(frozen=True, slots=True)
class PlateRules:
    """Shape rules for a text line to count as a plate's character row.

    ``min_aspect``/``max_aspect`` bound width/height of the line (a 5-8 character US plate row is
    about 2-7 times wider than high; lower admits more signs, higher more partial rows).
    ``min_height`` is in pixels: below it characters are unreadable. ``min_confidence`` is the
    mean character probability under which a read is dropped (a trade of recall for precision).
    ``variants`` are (width, height) scalings of each text box read again, the most confident
    read kept: a tighter crop drops the state name and slogan above and below the characters, a
    looser one recovers clipped end characters (each variant costs one recogniser run, ~6 ms).
    Tuned on the first 60 OpenALPR US images (exact 68% with one crop, 80% with these three).

    ``row_width`` handles the detector's commonest miss: on a plate whose row has a wide gap or
    a bolt/sticker between groups (``627 WWI``, ``59 CADI``) the DB detector often finds only
    one group. A line shorter than ``row_width`` x its height (a full US row of 5-7 characters
    is about 4-4.5 heights wide) is therefore also read on three boxes of that width on the same
    row (anchored at its left end, centred, anchored at its right end), ``row_height`` x its
    height tall; the recogniser reads the whole row and the score decides. Lines down to
    ``min_seed_aspect`` (a one- or two-character group) seed such reads, and only when the line's
    own read is missing or shorter than ``extend_below`` characters. Each extension costs three
    recogniser runs; wider boxes (5.5) picked up frame text, narrower
    (4.0) scored the same on the tuning images. ``row_width=0`` turns it off. Measured on the
    first 60 images: exact 48 -> 50 (docs/plates.md).

    ``stretch`` widens every crop before it is read. The recogniser (PP-OCRv4, trained mostly on
    Chinese lines of square characters) resizes a crop to 48 px high and emits one CTC step per 8
    px of width; a plate's characters are about half as wide as high, so each gets about three
    steps and the decoder drops or merges some (``YD6L3C`` read ``YD63C``, ``3MVV252`` read
    ``3MV252``). Widening the crop gives each character more steps; too wide and characters
    repeat (``2DA044`` read ``2DA0044``). Exact reads on the OpenALPR US set, tuning 60 /
    held-out 162: 1.0 gave 48 / 120, 1.3 48 / 132, 1.5 48 / 130 (docs/plates.md). The tuning set
    alone does not separate them; the failure analysis of the misses motivated the change.

    ``extra_stretches`` reads every crop again at these widening factors too, and the most
    confident read of all wins (as between crops). No one factor suits every plate: a row of
    narrow characters needs more steps than 1.3 gives, one with wide gaps fewer (``2DA044``
    read ``2DA0044`` at 1.3, right at 1.0). Each factor costs one more recogniser run per crop
    (with ``fused``, two). Off by default; measured in docs/plates.md (issue 21).
    """

    min_aspect: float = 1.2
    max_aspect: float = 9.0
    min_height: float = 8.0
    min_confidence: float = 0.3
    plate_aspect: float = 2.0
    row_fill: float = 0.8
    variants: tuple[tuple[float, float], ...] = ((1.0, 1.0), (1.0, 0.65), (1.2, 1.3))
    row_width: float = 4.5
    row_height: float = 1.1
    min_seed_aspect: float = 0.6
    min_seed_height: float = 12.0
    extend_below: int = 6
    stretch: float = 1.3
    extra_stretches: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.stretch <= 0 or any(s <= 0 for s in self.extra_stretches):
            raise ValueError(
                f"stretches must be positive, got {self.stretch} and {self.extra_stretches}"
            )


def _variants(
    quad: npt.NDArray[np.float32], scales: Sequence[tuple[float, float]]
) -> list[npt.NDArray[np.float32]]:
    """``quad`` scaled about its centre by (width, height) factors: re-crops to read again."""
    centre = quad.mean(axis=0)
    across = (quad[1] - quad[0] + quad[2] - quad[3]) / 2
    down = (quad[3] - quad[0] + quad[2] - quad[1]) / 2
    out = []
    for sw, sh in scales:
        a, d = across * sw / 2, down * sh / 2
        out.append(
            np.array([centre - a - d, centre + a - d, centre + a + d, centre - a + d], np.float32)
        )
    return out


def _row_extensions(
    quad: npt.NDArray[np.float32], rules: PlateRules
) -> list[npt.NDArray[np.float32]]:
    """Boxes of a full plate row's width on ``quad``'s row (see ``PlateRules.row_width``).

    Empty when the line is already that wide, too small to seed, or extension is off.
    """
    across = (quad[1] - quad[0] + quad[2] - quad[3]) / 2
    down = (quad[3] - quad[0] + quad[2] - quad[1]) / 2
    w, h = float(np.linalg.norm(across)), float(np.linalg.norm(down))
    width = rules.row_width * h
    if h < rules.min_seed_height or w >= 0.8 * width:
        return []
    unit = across / max(w, 1e-6)
    centre = quad.mean(axis=0)
    half_down = down * rules.row_height / 2
    out = []
    for start in (-w / 2, -width / 2, w / 2 - width):  # left end: line's, centred, line's right
        a, b = centre + unit * start, centre + unit * (start + width)
        out.append(
            np.array([a - half_down, b - half_down, b + half_down, a + half_down], np.float32)
        )
    return out


# Camera and dash-cam overlays print the date and time; their digits pass a plate profile (a
# US read of "2014-05-13" is "20140513") and won over the plate in three benchmark images.
# Judged on the raw read, where the separators still are. No plate format we know has them.
_OVERLAY = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{4}|\d{1,2}[:：]\d{2}"
)


def looks_like_overlay(raw: str) -> bool:
    """True when a raw read holds a date (2014-05-13, 13/05/2014) or a time (08:03)."""
    return _OVERLAY.search(raw) is not None


def plate_likeness(text: str) -> float:
    """Prior that a string is a plate rather than a sign, a dealer frame or a phone number.

    Plates mix letters and digits far more often than the other text around them: words
    (state names, dealers) are all letters, phone numbers and dates all digits and long.
    """
    letters = sum(c.isalpha() for c in text)
    digits = sum(c.isdigit() for c in text)
    if letters and digits:
        prior = 1.0
    elif digits:
        prior = 0.75 if len(text) <= 6 else 0.5
    else:
        prior = 0.45
    return prior * (1.0 if 5 <= len(text) <= 8 else 0.8)


class PlateReading(ABC):
    """Plate reading over regions of an image: ``read``/``best`` cut each region out and read
    it with :meth:`read_region`, locally (:class:`PlateReader`) or in a cluster's plate pool
    (:class:`vigil.cluster.models.PooledPlateReader`), so both give the same reads."""

    profile: RegionProfile

    @abstractmethod
    def read_region(self, crop: BGRImage, ox: int, oy: int, w: int, h: int) -> list[PlateCandidate]:
        """Plate reads in ``crop``, the region at (``ox``, ``oy``) of a ``w`` x ``h`` image, in
        that image's coordinates."""

    def read(self, image: BGRImage, regions: Sequence[XYXY] | None = None) -> list[PlateCandidate]:
        """Plate reads in ``image`` (inside ``regions`` if given), best first; ``[]`` for none."""
        if not check_image(image):
            return []
        h, w = image.shape[:2]
        found: list[PlateCandidate] = []
        boxes = [(0.0, 0.0, float(w), float(h))] if regions is None else list(regions)
        for x1, y1, x2, y2 in boxes:
            ix1, iy1 = max(0, int(x1)), max(0, int(y1))
            ix2, iy2 = min(w, int(np.ceil(x2))), min(h, int(np.ceil(y2)))
            if ix2 - ix1 < 8 or iy2 - iy1 < 8:
                continue
            crop = np.ascontiguousarray(image[iy1:iy2, ix1:ix2])
            found.extend(self.read_region(crop, ix1, iy1, w, h))
        found.sort(key=lambda c: -c.confidence)
        return found

    def best(self, image: BGRImage, regions: Sequence[XYXY] | None = None) -> PlateCandidate | None:
        """The most confident plate read, or ``None`` (a clean "no read")."""
        reads = self.read(image, regions)
        return reads[0] if reads else None


class PlateReader(PlateReading):
    """Find and read licence plates: ``read(image) -> list[PlateCandidate]`` best first."""

    def __init__(
        self,
        detector: TextDetector,
        recognizer: Recognizer,
        profile: RegionProfile = US,
        rules: PlateRules | None = None,
    ) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.profile = profile
        self.rules = rules or PlateRules()

    @classmethod
    def from_models(
        cls,
        profile: RegionProfile = US,
        model_dir: Path | None = None,
        threads: int | None = None,
        recogniser: str = "ppocr",
        fusion_weight: float = 0.5,
        *,
        extra_stretches: Sequence[float] = (),
    ) -> PlateReader:
        """Open the installed models (``vigil models install`` brings them).

        ``recogniser``: ``ppocr`` (PP-OCRv4 alone), ``vigil`` (Vigil's plate recogniser alone:
        ``vigil-plate-ocr``, PP-OCRv4's recogniser fine-tuned on synthetic plates over ``0-9A-Z``,
        which reads with :class:`TextRecognizer` as PP-OCRv4 does; it replaced the CRNN
        ``vigil-plate-rec`` here, docs/plates.md) or ``fused`` (both, combined per character
        with ``fusion_weight`` for Vigil's; see
        :class:`vigil.perception.plates.plate_rec.FusedRecognizer`). Text lines are always
        found by PP-OCRv4's detector. ``extra_stretches``: see :class:`PlateRules`.
        """
        from vigil.models.builtin_plates import PPOCR_DET, PPOCR_REC, VIGIL_PLATE_OCR
        from vigil.perception.plates.plate_rec import FusedRecognizer
        from vigil.perception.runtime import onnx_session

        if recogniser not in RECOGNISERS:
            raise ValueError(f"recogniser must be one of {RECOGNISERS}, got {recogniser!r}")
        det = TextDetector(onnx_session(PPOCR_DET, model_dir, threads))
        rec: Recognizer
        if recogniser == "vigil":
            rec = TextRecognizer(onnx_session(VIGIL_PLATE_OCR, model_dir, threads))
        else:
            rec = TextRecognizer(onnx_session(PPOCR_REC, model_dir, threads))
        if recogniser == "fused":
            own = TextRecognizer(onnx_session(VIGIL_PLATE_OCR, model_dir, threads))
            rec = FusedRecognizer(rec, own, fusion_weight)
        return cls(det, rec, profile, PlateRules(extra_stretches=tuple(extra_stretches)))

    def read_region(self, crop: BGRImage, ox: int, oy: int, w: int, h: int) -> list[PlateCandidate]:
        out: list[PlateCandidate] = []
        for q in self.detector.detect(crop).quads:
            best = self._read_line(crop, q)
            if best is None:
                continue
            conf, raw, text, row = best
            tx1, ty1 = float(row[:, 0].min()) + ox, float(row[:, 1].min()) + oy
            tx2, ty2 = float(row[:, 0].max()) + ox, float(row[:, 1].max()) + oy
            out.append(
                PlateCandidate(
                    text=text,
                    confidence=conf,
                    raw=raw,
                    xyxy=self._plate_box((tx1, ty1, tx2, ty2), w, h),
                    text_xyxy=(tx1, ty1, tx2, ty2),
                )
            )
        return out

    def _line_crops(
        self, q: npt.NDArray[np.float32]
    ) -> tuple[list[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]]]:
        """Boxes read for one detected line: its re-crops, and its row extensions.

        Re-crops only for row-shaped lines; extensions only for lines short enough to be part of
        a split row (``_row_extensions``). Both empty for lines too small or too long.
        """
        r = self.rules
        qw = float(np.linalg.norm(q[1] - q[0]))
        qh = float(np.linalg.norm(q[3] - q[0]))
        aspect = qw / max(qh, 1e-6)
        if qh < r.min_height or aspect > r.max_aspect:
            return [], []
        crops = _variants(q, r.variants) if aspect >= r.min_aspect else []
        extend = aspect >= r.min_seed_aspect and r.row_width > 0
        return crops, _row_extensions(q, r) if extend else []

    def _best_read(
        self, crop: BGRImage, boxes: Sequence[npt.NDArray[np.float32]]
    ) -> tuple[float, str, str, int] | None:
        """(confidence, raw, plate text, box index) of the most confident valid read."""
        best: tuple[float, str, str, int] | None = None
        stretches = (self.rules.stretch, *self.rules.extra_stretches)
        for i, box in enumerate(boxes):
            row = warp_quad(crop, box)
            for stretch in stretches:
                raw, probs = self.recognizer.read([row], stretch)[0]
                text = self.profile.normalise(raw)
                if text is None or not probs.size or looks_like_overlay(raw):
                    continue
                conf = self._confidence(raw, probs)
                if best is None or (conf, raw, text) > best[:3]:
                    best = (conf, raw, text, i)
        return best

    def _read_line(
        self, crop: BGRImage, q: npt.NDArray[np.float32]
    ) -> tuple[float, str, str, npt.NDArray[np.float32]] | None:
        """Most confident read of one line and the character row it read, or ``None``.

        Row extensions are read only when the line itself gave no read or one shorter than
        ``extend_below`` characters (a split row's group): a full read needs no extension, and
        that keeps the cost to the few lines that can gain from it. An extension that reads the
        same string keeps the detected line as the row (its box is the tighter plate estimate).
        """
        crops, extensions = self._line_crops(q)
        best = self._best_read(crop, crops)
        row = q
        if extensions and (best is None or len(best[2]) < self.rules.extend_below):
            wide = self._best_read(crop, extensions)
            if wide is not None and (best is None or wide[:3] > best[:3]):
                if best is None or wide[2] != best[2]:
                    row = extensions[wide[3]]
                best = wide
        if best is None or best[0] < self.rules.min_confidence:
            return None
        return best[0], best[1], best[2], row

    def _confidence(self, raw: str, probs: npt.NDArray[np.float32]) -> float:
        """Mean probability of the kept characters, discounted for what the profile dropped."""
        kept = [p for c, p in zip(raw.upper(), probs, strict=False) if c.isalnum() and c.isascii()]
        base = float(np.mean(kept)) if kept else 0.0
        dropped = len(raw.replace(" ", "").replace("-", "")) - len(kept)
        # Judged before the region's folds: "NEWYORK" must not become a mixed "NEWY0RK".
        unfolded = "".join(c for c in raw.upper() if c.isascii() and c.isalnum())
        return float(np.clip(base * plate_likeness(unfolded) * (0.85**dropped), 0, 1))

    def _plate_box(self, t: XYXY, w: int, h: int) -> XYXY:
        """The plate's box from its character row: same centre, row fills ``row_fill`` of it."""
        cx, cy = (t[0] + t[2]) / 2, (t[1] + t[3]) / 2
        pw = (t[2] - t[0]) / self.rules.row_fill
        ph = max(pw / self.rules.plate_aspect, t[3] - t[1])
        return (
            max(0.0, cx - pw / 2),
            max(0.0, cy - ph / 2),
            min(float(w), cx + pw / 2),
            min(float(h), cy + ph / 2),
        )
