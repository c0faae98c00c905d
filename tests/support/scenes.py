"""The end-to-end identification scene: real footage with another photo of an enrolled person.

vtest.avi frames (every 3rd) with a face photo composited into ``face_frames`` of them, walking
right; the embedded and the cluster end-to-end tests both analyse exactly this.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vigil.perception.image import load_image

N_FRAMES = 16
FACE_FRAMES = range(3, 11)  # the composited person is in view for these sampled frames


def scene_frames(vtest_video: Path, photo: Path) -> list[np.ndarray]:
    """``N_FRAMES`` BGR frames with ``photo``'s face walking across ``FACE_FRAMES``."""
    cap = cv2.VideoCapture(str(vtest_video))
    face = cv2.resize(load_image(photo)[40:210, 40:210], (150, 150))
    out = []
    for i in range(N_FRAMES * 3):
        ok, frame = cap.read()
        assert ok
        if i % 3:
            continue
        k = len(out)
        if k in FACE_FRAMES:
            x = 520 + 6 * (k - FACE_FRAMES.start)
            frame[30:180, x : x + 150] = face
        out.append(frame)
    cap.release()
    return out
