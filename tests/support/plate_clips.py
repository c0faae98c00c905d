"""Short clips of real OpenALPR car photos seen by a virtual camera (synthetic pan, zoom, blur
and lighting; real cars, plates and backgrounds), encoded with PyAV for the camera source."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

SIZE = (640, 360)
Image = npt.NDArray[np.uint8]


def camera_pass(photo: Image, box: tuple[int, int, int, int], n: int, seed: int) -> list[Image]:
    """``n`` frames of a virtual camera panning and zooming in on the car (synthetic motion)."""
    rng = np.random.default_rng(seed)
    h_img, w_img = photo.shape[:2]
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    out = []
    for i in range(n):
        t = i / (n - 1)
        zoom = 0.9 - 0.35 * t  # the window shrinks: the car grows as if approaching
        ww, hh = w_img * zoom, h_img * zoom
        px = float(np.clip(cx - ww / 2 + (0.5 - t) * 0.25 * ww + rng.normal(0, 6), 0, w_img - ww))
        py = float(np.clip(cy - hh / 2 + rng.normal(0, 6), 0, h_img - hh))
        sx, sy = SIZE[0] / ww, SIZE[1] / hh
        m = np.float32([[sx, 0, -px * sx], [0, sy, -py * sy]])
        frame = cv2.warpAffine(photo, m, SIZE, flags=cv2.INTER_AREA)
        k = int(rng.choice([0, 0, 3, 5, 7]))
        if k:
            frame = cv2.GaussianBlur(frame, (k, k), 0)
        alpha, beta = float(rng.uniform(0.6, 1.3)), float(rng.uniform(-30, 30))
        out.append(cv2.convertScaleAbs(frame, alpha=alpha, beta=beta))
    return out


def write_clip(path: Path, frames: list[Image], fps: int = 4) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        # No B-frames and no lookahead: every packet decodes to its frame at once, as from a
        # live camera (the file source does not drain a decoder's delayed frames at the end).
        stream.options = {"crf": "18", "tune": "zerolatency", "bf": "0"}
        for image in frames:
            packet = stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24"))
            container.mux(packet)
        container.mux(stream.encode())
