"""Vigil's own plate recogniser (trained on synthetic plates) and its fusion with PP-OCRv4.

PP-OCRv4 is a general text recogniser trained mostly on Chinese lines; on plates its misses are
one-character confusions of plate fonts (``Z``/``2``, ``M``/``N``, ``L``/``1``, ``6``/``G``,
docs/plates.md). ``vigil-plate-rec`` is a compact CRNN/CTC that Vigil trains itself
(``training/plates/``) on plate-like renderings only, over the plate alphabet ``0-9A-Z``:
it cannot read a separator, a lower-case letter or a Chinese character, and it reads a row in
about a millisecond.

:class:`PlateRecognizer` has the same ``read(crops, stretch)`` interface as
:class:`~vigil.perception.plates.text.TextRecognizer`, so the reader can use either;
:class:`FusedRecognizer` reads every crop with both and combines them per character (see its
docstring for the rule and why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from vigil.perception.plates.ctc import ctc_greedy
from vigil.perception.plates.text import BGRImage, Read, Recognizer

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class PlateRecognizer:
    """The trained plate recogniser: grey crop resized to ``[32, 128]``, greedy CTC.

    The input size is fixed (the crop's aspect ratio is not kept), as in training, so
    ``stretch`` (PP-OCR's width factor) has no effect here. Crops are read in one batch.
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        inp = session.get_inputs()[0]
        self.input_name = inp.name
        self.height, self.width = int(inp.shape[2]), int(inp.shape[3])
        meta = session.get_modelmeta().custom_metadata_map
        chars = meta.get("character", "\n".join(ALPHABET)).splitlines()
        self.charset = ["<blank>", *chars]

    def read(self, crops: Sequence[BGRImage], stretch: float = 1.0) -> list[Read]:
        """Text (``0-9A-Z`` only) and per-character probabilities of each crop."""
        if stretch <= 0:
            raise ValueError(f"stretch must be positive, got {stretch}")
        ok = [i for i, c in enumerate(crops) if c.ndim == 3 and min(c.shape[:2]) >= 2]
        out: list[Read] = [("", np.zeros(0, np.float32)) for _ in crops]
        if not ok:
            return out
        batch = np.stack(
            [
                cv2.resize(
                    cv2.cvtColor(crops[i], cv2.COLOR_BGR2GRAY),
                    (self.width, self.height),
                    interpolation=cv2.INTER_AREA,
                )
                for i in ok
            ]
        ).astype(np.float32)
        x = (batch / 127.5 - 1.0)[:, None]
        probs = self.session.run(None, {self.input_name: x})[0]
        for i, p in zip(ok, probs, strict=True):
            out[i] = ctc_greedy(p, self.charset)
        return out


def _alnum(read: Read) -> Read:
    """The read's upper-case letters and digits with their probabilities (separators dropped)."""
    text, probs = read
    keep = [
        (c.upper(), float(p))
        for c, p in zip(text, probs, strict=False)
        if c.isascii() and c.isalnum()
    ]
    return "".join(c for c, _ in keep), np.asarray([p for _, p in keep], np.float32)


def fuse_reads(general: Read, plate: Read, weight: float) -> Read:
    """One read from PP-OCR's (``general``) and the plate model's (``plate``) reads of a crop.

    Reads of the same length are combined position by position: where they disagree, the
    character with the higher weighted probability wins (``weight`` for the plate model,
    ``1 - weight`` for PP-OCR). Reads of different lengths cannot be aligned safely (a dropped
    character shifts every later one), so the read with the higher weighted mean probability
    is taken whole. An empty read yields the other one.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    g, p = _alnum(general), _alnum(plate)
    if not p[0]:
        return general
    if not g[0]:
        return p
    if len(g[0]) != len(p[0]):
        gs = (1 - weight) * float(g[1].mean())
        ps = weight * float(p[1].mean())
        return p if ps > gs else general
    chars, probs = [], []
    for a, pa, b, pb in zip(g[0], g[1], p[0], p[1], strict=True):
        if a == b:
            chars.append(a)
            probs.append(max(float(pa), float(pb)))
        elif weight * pb > (1 - weight) * pa:
            chars.append(b)
            probs.append(float(pb))
        else:
            chars.append(a)
            probs.append(float(pa))
    return "".join(chars), np.asarray(probs, np.float32)


class FusedRecognizer:
    """Reads each crop with PP-OCRv4 and the plate recogniser and fuses them (:func:`fuse_reads`).

    A PP-OCR read that holds a date or a time (an overlay) is passed through unchanged, so the
    reader still recognises and drops it (the plate model cannot see separators).
    """

    def __init__(self, general: Recognizer, plate: Recognizer, weight: float = 0.5) -> None:
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.general = general
        self.plate = plate
        self.weight = weight

    def read(self, crops: Sequence[BGRImage], stretch: float = 1.0) -> list[Read]:
        from vigil.perception.plates.reader import looks_like_overlay

        general = self.general.read(crops, stretch)
        plate = self.plate.read(crops, stretch)
        return [
            g if looks_like_overlay(g[0]) else fuse_reads(g, p, self.weight)
            for g, p in zip(general, plate, strict=True)
        ]
