"""Face quality: one score in [0, 1] from size, pose, sharpness and exposure.

Why: matching a tiny, blurred or profile face against a watchlist is how wrongful leads happen.
The quality score gates which faces are embedded and matched at all, and picks the best shot of a
track (the face that is embedded and searched, instead of every frame).

The rule (each part is in [0, 1]):

* **size** — inter-ocular distance ``d`` in source pixels divided by 35 (the eye distance of the
  112 × 112 embedder template), capped at 1: below native resolution the embedder sees upsampled
  blur.
* **pose** — from the five landmarks, in the frame of the eye line: *yaw* is the nose's sideways
  offset from the eye midpoint over ``d`` (0 frontal, ~0.5 near profile), scored
  ``1 - |yaw| / 0.45``; *pitch* is where the nose sits between the eye line and the mouth line
  (≈ 0.5 frontal), scored ``1 - |r - 0.5| / 0.4``; pose is the smaller of the two.
* **sharpness** — variance of the Laplacian of the aligned grey crop, mapped by ``v / (v + 60)``.
* **exposure** — mean brightness of the aligned crop's centre penalised outside [50, 205], times
  one minus the fraction of clipped (≤ 5 or ≥ 250) pixels.

The score is the weighted geometric mean ``size^.3 · pose^.3 · sharp^.2 · exposure^.2``: any part at
zero vetoes the face, and no single good part can hide a bad one. The weights and the knee points
are engineering choices, checked on LFW (see docs/faces.md), not learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

NATIVE_EYE_DISTANCE = 35.0
WEIGHTS = {"size": 0.3, "pose": 0.3, "sharpness": 0.2, "exposure": 0.2}


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """Quality parts of one face and their combination."""

    score: float
    size: float
    pose: float
    sharpness: float
    exposure: float
    eye_distance_px: float


def _pose(lm: npt.NDArray[np.float32]) -> tuple[float, float]:
    left_eye, right_eye, nose, mouth_l, mouth_r = lm.astype(np.float64)
    eye_mid = (left_eye + right_eye) / 2
    axis = right_eye - left_eye
    d = float(np.hypot(*axis))
    if d < 1e-6:
        return 0.0, 0.0
    ux = axis / d
    uy = np.array([-ux[1], ux[0]])
    yaw = float(np.dot(nose - eye_mid, ux)) / d
    mouth_mid = (mouth_l + mouth_r) / 2
    eye_to_mouth = float(np.dot(mouth_mid - eye_mid, uy))
    if eye_to_mouth <= 1e-6:
        return 0.0, 0.0
    r = float(np.dot(nose - eye_mid, uy)) / eye_to_mouth
    return float(np.clip(1 - abs(yaw) / 0.45, 0, 1)), float(np.clip(1 - abs(r - 0.5) / 0.4, 0, 1))


def assess(landmarks: npt.ArrayLike, aligned: npt.NDArray[np.uint8]) -> FaceQuality:
    """Quality of one face from its source-image landmarks and its aligned 112 × 112 BGR crop."""
    lm = np.asarray(landmarks, np.float32)
    if lm.shape != (5, 2):
        raise ValidationError(f"landmarks must be (5, 2), got {lm.shape}")
    if aligned.ndim != 3 or aligned.shape[2] != 3:
        raise ValidationError(f"aligned crop must be (H, W, 3), got {aligned.shape}")
    eye_d = float(np.hypot(*(lm[1] - lm[0])))
    size = min(1.0, eye_d / NATIVE_EYE_DISTANCE)
    yaw_s, pitch_s = _pose(lm)
    pose = min(yaw_s, pitch_s)
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    h, w = grey.shape
    centre = grey[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    lap_var = float(cv2.Laplacian(centre, cv2.CV_64F).var())
    sharpness = lap_var / (lap_var + 60.0)
    mean = float(centre.mean())
    brightness = 1.0 - float(np.clip(max(50 - mean, mean - 205, 0) / 50, 0, 1))
    clipped = float(((centre <= 5) | (centre >= 250)).mean())
    exposure = brightness * (1 - clipped)
    parts = {"size": size, "pose": pose, "sharpness": sharpness, "exposure": exposure}
    if min(parts.values()) <= 0:
        score = 0.0
    else:
        score = float(np.exp(sum(WEIGHTS[k] * np.log(v) for k, v in parts.items())))
    return FaceQuality(round(score, 6), size, pose, sharpness, exposure, eye_d)


def face_size_px(landmarks: npt.ArrayLike) -> float:
    """Face size estimated from the eyes (≈ 2.5 × inter-ocular distance), robust to box style."""
    lm = np.asarray(landmarks, np.float32).reshape(5, 2)
    return float(np.hypot(*(lm[1] - lm[0]))) * 2.5
