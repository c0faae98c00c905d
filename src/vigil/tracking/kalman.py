"""Constant-velocity Kalman filter on ``(cx, cy, aspect, height)`` boxes, vectorised over tracks.

The state is ``[cx, cy, a, h, vcx, vcy, va, vh]`` as in SORT/ByteTrack; noise scales with the
box height so a 300-px pedestrian near the camera and a 30-px one far away are equally sure.
Every method works on stacked arrays (``(N, 8)`` means, ``(N, 8, 8)`` covariances) so one call
predicts all tracks of a camera.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

_STD_POS = 1.0 / 20
_STD_VEL = 1.0 / 160
_MOTION = np.eye(8)
_MOTION[:4, 4:] = np.eye(4)
_UPDATE = np.eye(4, 8)


def xyxy_to_xyah(boxes: npt.ArrayLike) -> F64:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    w = b[:, 2] - b[:, 0]
    h = np.maximum(b[:, 3] - b[:, 1], 1e-3)
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w / h, h], 1)


def xyah_to_xyxy(xyah: npt.ArrayLike) -> F64:
    s = np.asarray(xyah, np.float64).reshape(-1, 4)
    w = s[:, 2] * s[:, 3]
    return np.stack(
        [s[:, 0] - w / 2, s[:, 1] - s[:, 3] / 2, s[:, 0] + w / 2, s[:, 1] + s[:, 3] / 2], 1
    )


def initiate(measurements: F64) -> tuple[F64, F64]:
    """New tracks from ``(N, 4)`` xyah measurements: zero velocity, wide uncertainty."""
    n = len(measurements)
    mean = np.concatenate([measurements, np.zeros((n, 4))], 1)
    h = measurements[:, 3]
    std = np.stack(
        [
            2 * _STD_POS * h,
            2 * _STD_POS * h,
            np.full(n, 0.01),
            2 * _STD_POS * h,
            10 * _STD_VEL * h,
            10 * _STD_VEL * h,
            np.full(n, 1e-05),
            10 * _STD_VEL * h,
        ],
        1,
    )
    cov = np.einsum("ni,ij->nij", std**2, np.eye(8))
    return mean, cov


def predict(mean: F64, cov: F64) -> tuple[F64, F64]:
    """One step ahead for all tracks."""
    h = mean[:, 3]
    n = len(mean)
    std = np.stack(
        [
            _STD_POS * h,
            _STD_POS * h,
            np.full(n, 0.01),
            _STD_POS * h,
            _STD_VEL * h,
            _STD_VEL * h,
            np.full(n, 1e-05),
            _STD_VEL * h,
        ],
        1,
    )
    q = np.einsum("ni,ij->nij", std**2, np.eye(8))
    new_mean = mean @ _MOTION.T
    new_cov = _MOTION @ cov @ _MOTION.T + q
    return new_mean, new_cov


def update(mean: F64, cov: F64, measurements: F64) -> tuple[F64, F64]:
    """Correct matched tracks with their ``(N, 4)`` xyah measurements."""
    h = mean[:, 3]
    std = np.stack([_STD_POS * h, _STD_POS * h, np.full(len(h), 1e-1), _STD_POS * h], 1)
    r = np.einsum("ni,ij->nij", std**2, np.eye(4))
    s = _UPDATE @ cov @ _UPDATE.T + r
    pht = cov @ _UPDATE.T
    gain = np.linalg.solve(s, np.transpose(pht, (0, 2, 1))).transpose(0, 2, 1)
    innovation = measurements - mean @ _UPDATE.T
    new_mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    new_cov = cov - gain @ s @ np.transpose(gain, (0, 2, 1))
    return new_mean, new_cov
