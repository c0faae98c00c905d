"""The first-run demo: real footage with real faces in it, analysed by the real pipeline.

Nothing here injects results. The demo builder only makes a *video*: frames of a real pedestrian
clip (OpenCV's ``vtest.avi``, from ``../shared/data``, Debian's ``opencv-doc`` package, or a file
the user names) with real face photos (the test photos that ship in PyPI's ``face_recognition``
sdist, installed and checksummed like models) composited into them, drifting across the scene.
The system then ingests that video as a looping camera and everything downstream — detection,
alignment, quality, embedding — runs for real on it.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import InputError
from vigil.models.installer import model_path
from vigil.perception.faces.detectors import FaceDetector
from vigil.perception.image import load_image

log = logging.getLogger(__name__)

FOOTAGE_CANDIDATES = (
    Path("../shared/data/opencv_vtest/vtest.avi"),
    Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi"),
)
DEMO_FACES = ("demo-obama2", "demo-biden", "demo-obama3")
ENROL_PHOTO = "demo-obama"


def find_footage(explicit: Path | None = None) -> Path:
    """The demo's background video: ``explicit``, else the first candidate that exists."""
    if explicit is not None:
        if not explicit.is_file():
            raise InputError(f"demo video {explicit} does not exist")
        return explicit
    for candidate in FOOTAGE_CANDIDATES:
        if candidate.is_file():
            return candidate.resolve()
    raise InputError(
        "no demo footage found",
        hint="install Debian's opencv-doc (apt-get install opencv-doc, which ships vtest.avi) "
        "or pass --video FILE",
    )


def face_patch(image: npt.NDArray[np.uint8], detector: FaceDetector) -> npt.NDArray[np.uint8]:
    """The head-and-shoulders region around the largest face of a photo."""
    dets = detector.detect(image)
    if not len(dets):
        raise InputError("demo photo has no detectable face")
    x1, y1, x2, y2 = dets.xyxy[int(np.argmax(dets.area))]
    w, h = x2 - x1, y2 - y1
    ih, iw = image.shape[:2]
    box = (
        max(0, int(x1 - 0.35 * w)),
        max(0, int(y1 - 0.45 * h)),
        min(iw, int(x2 + 0.35 * w)),
        min(ih, int(y2 + 0.5 * h)),
    )
    return np.ascontiguousarray(image[box[1] : box[3], box[0] : box[2]])


def _paste(
    frame: npt.NDArray[np.uint8], patch: npt.NDArray[np.uint8], cx: int, cy: int, width: int
) -> None:
    scale = width / patch.shape[1]
    small = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = small.shape[:2]
    x0, y0 = max(0, cx - w // 2), max(0, cy - h // 2)
    x1, y1 = min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    frame[y0:y1, x0:x1] = small[: y1 - y0, : x1 - x0]


def build_demo_video(
    footage: Path,
    out: Path,
    detector: FaceDetector,
    model_dir: Path | None = None,
    seconds: float = 40.0,
) -> Path:
    """Write ``out`` (MPEG-4): the footage with the demo faces drifting through it."""
    import av

    patches = [face_patch(load_image(model_path(n, model_dir)), detector) for n in DEMO_FACES]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(footage)) as src, av.open(str(tmp), "w") as dst:
        vin = src.streams.video[0]
        fps = round(float(vin.average_rate or 10))
        stream = dst.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = vin.codec_context.width, vin.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        total = int(seconds * fps)
        for i, frame in enumerate(src.decode(vin)):
            if i >= total:
                break
            img: npt.NDArray[np.uint8] = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
            h, w = img.shape[:2]
            for k, patch in enumerate(patches):
                phase = (i / total + k / len(patches)) % 1.0
                cx = int(w * (0.15 + 0.7 * phase))
                cy = int(h * (0.3 + 0.1 * math.sin(2 * math.pi * phase + k)))
                _paste(img, patch, cx, cy, width=int(w * 0.16))
            packet = stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24"))
            dst.mux(packet)
        dst.mux(stream.encode(None))
    tmp.replace(out)
    log.info("demo video written to %s", out)
    return out


def demo_config_text(video: Path, data_dir: Path) -> str:
    """A config for the demo: one looping camera with face analysis on the demo video."""
    return f"""# Written by `vigil demo`; edit freely or point a camera at your own RTSP URL.
system:
  data_dir: {data_dir}
cameras:
  - id: demo-street
    name: Demo street (real footage, real faces composited)
    url: "{video}"
    loop: true
    analytics: [faces, persons]
    fps: 4
"""
