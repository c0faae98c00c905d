"""The end-to-end identification scene: real footage with another photo of an enrolled person.

vtest.avi frames (every 3rd) with a face photo composited into ``face_frames`` of them, walking
right; the embedded and the cluster end-to-end tests both analyse exactly this.
"""

from __future__ import annotations

from pathlib import Path

import av
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


def lfw_people(lfw_dir: Path, n: int = 3) -> list[list[Path]]:
    """The photos of the first ``n`` LFW people (by folder name) with at least two photos."""
    folders = sorted(d for d in lfw_dir.iterdir() if d.is_dir())
    out = [sorted(d.glob("*.jpg")) for d in folders]
    return [p for p in out if len(p) >= 2][:n]


def scene_video(vtest_video: Path, photo: Path, out: Path) -> Path:
    """:func:`scene_frames` as an H.264 file: ``N_FRAMES`` frames at 2 fps, every one a key
    frame (so a sampling decoder loses nothing)."""
    frames = scene_frames(vtest_video, photo)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=2)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        stream.options = {"crf": "18", "g": "1"}
        for frame in frames:
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return out
