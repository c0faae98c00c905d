"""Privacy masks: polygons in normalised coordinates blacked out in a frame.

Masks are stored normalised (fractions of width and height) so one mask fits every resolution a
camera streams at. Filling is done by OpenCV's scan-line ``fillPoly`` on the integer pixel
polygon; a pixel whose centre lies inside the polygon is blacked out, and the edge is rounded
outwards by the anti-alias-free fill, so nothing inside leaks at the border.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError


class HasPolygon(Protocol):
    polygon: list[list[float]]


Polygon = Sequence[Sequence[float]]


def _points(mask: HasPolygon | Polygon) -> Polygon:
    return mask.polygon if hasattr(mask, "polygon") else mask


def pixel_polygons(
    polygons: Sequence[HasPolygon | Polygon], width: int, height: int
) -> list[npt.NDArray[np.int32]]:
    """Normalised polygons as integer pixel vertex arrays for a ``width`` x ``height`` frame."""
    out = []
    for mask in polygons:
        pts = np.asarray(_points(mask), dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
            raise ValidationError(f"a mask needs >= 3 [x, y] vertices, got shape {pts.shape}")
        if not np.isfinite(pts).all() or pts.min() < 0.0 or pts.max() > 1.0:
            raise ValidationError("mask vertices must be normalised coordinates in [0, 1]")
        scale = np.array([width, height], dtype=np.float64)
        out.append(np.rint(pts * scale).astype(np.int32))
    return out


def apply_masks(
    frame_bgr: npt.NDArray[np.uint8], polygons: Sequence[HasPolygon | Polygon]
) -> npt.NDArray[np.uint8]:
    """A copy of ``frame_bgr`` (H x W x 3 uint8) with every polygon filled black.

    ``polygons``: :class:`~vigil.config.recording.PrivacyMask` objects or plain vertex lists,
    ``[[x, y], ...]`` in [0, 1]. The input frame is never modified.
    """
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValidationError(
            f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.shape} {frame_bgr.dtype}"
        )
    out = frame_bgr.copy()
    if polygons:
        h, w = frame_bgr.shape[:2]
        cv2.fillPoly(out, pixel_polygons(polygons, w, h), (0, 0, 0))
    return out
