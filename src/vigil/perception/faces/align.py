"""Face alignment: a 5-point similarity warp onto the ArcFace 112 × 112 template.

All three embedders (fr_feature, MobileFaceNet, SFace) were trained on faces aligned this way,
so one alignment serves them all. A similarity transform (rotation, uniform scale, translation)
keeps the face's proportions; a full affine would fit the points better but distorts identity
cues. The transform is estimated by least squares (Umeyama) on the five points, which is exact
to compute and has no random step (LMEDS/RANSAC would make embeddings vary run to run).
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

ARCFACE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

Float32 = npt.NDArray[np.float32]


def similarity_transform(src: Float32, dst: Float32 = ARCFACE_112) -> Float32:
    """2 × 3 matrix of the least-squares similarity mapping ``src`` points onto ``dst``."""
    src = np.asarray(src, np.float64)
    dst_ = np.asarray(dst, np.float64)
    if src.shape != dst_.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValidationError(f"landmarks must be {dst_.shape}, got {src.shape}")
    mu_s, mu_d = src.mean(0), dst_.mean(0)
    s_c, d_c = src - mu_s, dst_ - mu_d
    var_s = (s_c**2).sum() / len(src)
    if var_s < 1e-12:
        raise ValidationError("landmarks are degenerate (all points coincide)")
    cov = d_c.T @ s_c / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (sig * d).sum() / var_s
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]]).astype(np.float32)


def align_faces(
    image: npt.NDArray[np.uint8], landmarks: Float32, size: int = 112
) -> npt.NDArray[np.uint8]:
    """Warp each face to the template; returns ``(N, size, size, 3)`` BGR uint8 crops."""
    lm = np.asarray(landmarks, np.float32)
    if lm.ndim != 3 or lm.shape[1:] != (5, 2):
        raise ValidationError(f"landmarks must be (N, 5, 2), got {lm.shape}")
    template = ARCFACE_112 * (size / 112.0)
    out = np.empty((len(lm), size, size, 3), np.uint8)
    for i, pts in enumerate(lm):
        matrix = similarity_transform(pts, template)
        out[i] = cv2.warpAffine(
            image,
            matrix,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
    return out
