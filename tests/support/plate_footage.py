"""Footage for the post-event plate search tests: real cars at known seconds.

Two real OpenALPR US car photos (``DH7X317`` sought, ``5LTA600`` a bystander) seen by the
virtual camera of :mod:`tests.support.plate_clips` (synthetic pan, zoom, blur and lighting over
the real photos), separated by empty grey road so each pass is its own appearance. H.264 at
4 fps with a 1 s GOP (a key frame every 4 frames), as a camera configured for recording would
send, so the key-frame pass of the scan sees one frame a second.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from tests.support.api_env import Env
from tests.support.data import shared_data
from tests.support.plate_clips import SIZE, Image, camera_pass
from tests.support.postevent import authorised_runner
from vigil.recording.index import SegmentIndex
from vigil.system.postevent import PostEventRunner

US_DIR = ("openalpr_benchmarks_endtoend", "endtoend", "us")
SOUGHT, BYSTANDER = "wts-lg-000196", "wts-lg-000041"  # DH7X317, 5LTA600
FPS = 4
PASS_S = 3  # seconds a car is in view
# (photo or None for empty road, first second, last second exclusive)
SCHEDULE: tuple[tuple[str | None, int, int], ...] = (
    (SOUGHT, 0, 3),
    (None, 3, 8),
    (BYSTANDER, 8, 11),
    (None, 11, 16),
    (SOUGHT, 16, 19),
    (None, 19, 21),
)
SECONDS = SCHEDULE[-1][2]


def plate_of(name: str) -> str:
    """The ground-truth plate text of an OpenALPR image."""
    return (shared_data(*US_DIR) / f"{name}.txt").read_text().split()[5]


def spans(name: str) -> list[tuple[int, int]]:
    """The ``(first, last exclusive)`` seconds in which ``name`` is in view."""
    return [(a, b) for n, a, b in SCHEDULE if n == name]


def plate_footage(folder: Path) -> Path:
    """Build (once per folder) the clip of :data:`SCHEDULE`; skips when the data is absent."""
    out = folder / "plate-footage.mp4"
    if out.exists():
        return out
    data = shared_data(*US_DIR)
    frames: list[Image] = []
    for seed, (name, a, b) in enumerate(SCHEDULE):
        n = (b - a) * FPS
        if name is None:
            frames += [np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)] * n
            continue
        parts = (data / f"{name}.txt").read_text().split()
        box = (int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]))
        frames += camera_pass(cv2.imread(str(data / f"{name}.jpg")), box, n, seed)
    with av.open(str(out), "w") as box_:
        stream = box_.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {
            "crf": "18",
            "tune": "zerolatency",
            "bf": "0",
            "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0",
        }
        for image in frames:
            box_.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        box_.mux(stream.encode())
    return out


def plate_runner(env: Env, index: SegmentIndex, warrant: str) -> tuple[str, PostEventRunner]:
    """:func:`tests.support.postevent.authorised_runner` with the live plate reading."""
    return authorised_runner(env, index, warrant, reason="hit and run", plates=True)
