"""Live video tiles for the console: the latest analysed frame per camera, drawn and encoded once.

The analysis pool hands every analysed frame to :meth:`LiveVideo.observe` with what the stages
found in it (tracked persons and vehicles, plate reads, face boxes). That only stores a reference
in a one-slot-per-camera map, so a camera nobody watches costs nothing more. When a viewer asks,
the camera's :class:`TileEncoder` draws the overlays on a scaled copy and encodes one JPEG, at
most ``console.live_fps`` times a second, and every viewer of that camera gets the same bytes:
the cost grows with cameras watched, not with viewers (``bench/bench_live_tiles.py`` measures it).

What is drawn comes from Vigil's own results only, never from the picture again: person and
vehicle boxes with their track ids, the camera's zones and counting lines, plate boxes with the
read, and faces as plain boxes. A face box never carries a name or a score: the live wall is not
where identities are shown (alerts are, to people allowed to verify them, with an audited view).

Privacy masks are applied to the frame before anything else and before encoding, through
:func:`apply_privacy_masks` (the one hook the masking code plugs into).

Bounded: one scene and one JPEG per configured camera; viewer slots per camera are capped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import cv2
import numpy as np
import numpy.typing as npt

from vigil.config.console import ConsoleConfig
from vigil.core import Detections, FrameRef, ObjectClass
from vigil.recording.masks import apply_masks

Image = npt.NDArray[np.uint8]
Polygon = Sequence[Sequence[float]]
Box = tuple[float, float, float, float]

_CLASSES = list(ObjectClass)
#: Overlay colours (BGR), chosen to stand out on street scenes and to be told apart by shape and
#: label too (not by colour alone): persons orange, vehicles blue, plates magenta, faces white.
PERSON_BGR = (0, 170, 255)
VEHICLE_BGR = (255, 140, 0)
PLATE_BGR = (255, 0, 255)
FACE_BGR = (255, 255, 255)
ZONE_BGR = (80, 220, 80)
LINE_BGR = (60, 60, 255)


def apply_privacy_masks(frame_bgr: Image, polygons: Sequence[Polygon]) -> Image:
    """Black out the camera's privacy masks before the frame is drawn on or encoded.

    The recording's :func:`vigil.recording.masks.apply_masks`, the same painter playback and
    evidence exports use, so a mask hides the same pixels wherever the picture goes. Live tiles
    have no unmask: nobody sees a masked area live.
    """
    return apply_masks(frame_bgr, polygons) if polygons else frame_bgr


@dataclass(frozen=True, slots=True)
class LiveScene:
    """One analysed frame of a camera and what the stages found in it (no identities).

    Attributes:
        image: the analysed BGR frame, held by reference (decoded frames are not mutated).
        objects: tracked persons and vehicles (``tracker_id`` set), or ``None`` when the camera
            runs no people stage.
        faces: ``(N, 4)`` face boxes, plain.
        plates: plate boxes of this frame with the text read.
        seq: the camera's analysed-frame counter (a new scene has a new ``seq``).
    """

    image: Image
    ref: FrameRef
    seq: int
    objects: Detections | None = None
    faces: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    plates: tuple[tuple[Box, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CameraGeometry:
    """What the overlays draw from the configuration: zones, lines and privacy masks."""

    zones: tuple[tuple[str, tuple[tuple[float, float], ...]], ...] = ()
    lines: tuple[tuple[str, tuple[float, float], tuple[float, float]], ...] = ()
    masks: tuple[Polygon, ...] = ()


@dataclass(frozen=True, slots=True)
class Tile:
    """One encoded frame of a camera, shared by its viewers."""

    seq: int
    jpeg: bytes
    captured_at: datetime
    width: int
    height: int


def _label(img: Image, text: str, x: int, y: int, colour: tuple[int, int, int]) -> None:
    """A filled tag with dark text above (x, y), kept inside the image."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    x = max(0, min(x, img.shape[1] - tw - 4))
    y = max(th + base + 2, y)
    cv2.rectangle(img, (x, y - th - base - 2), (x + tw + 4, y), colour, cv2.FILLED)
    cv2.putText(img, text, (x + 2, y - base), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)


def draw_overlays(img: Image, scene: LiveScene, geometry: CameraGeometry, scale: float) -> Image:
    """Draw zones, lines, objects with track ids, plates and plain face boxes on ``img`` (a
    copy of the scene's frame scaled by ``scale``), in place; returns it."""

    def pt(x: float, y: float) -> tuple[int, int]:
        return round(x * scale), round(y * scale)

    for name, poly in geometry.zones:
        pts = np.array([pt(x, y) for x, y in poly], np.int32)
        cv2.polylines(img, [pts], True, ZONE_BGR, 2)
        _label(img, f"zone {name}", int(pts[:, 0].min()), int(pts[:, 1].min()) + 16, ZONE_BGR)
    for name, a, b in geometry.lines:
        cv2.line(img, pt(*a), pt(*b), LINE_BGR, 2)
        _label(img, f"line {name}", *pt(*a), LINE_BGR)
    objs = scene.objects
    if objs is not None and objs.tracker_id is not None:
        for box, cls, tid in zip(objs.xyxy, objs.class_id, objs.tracker_id, strict=True):
            if tid < 0:
                continue
            kind = _CLASSES[int(cls)]
            colour = PERSON_BGR if kind is ObjectClass.PERSON else VEHICLE_BGR
            p1, p2 = pt(box[0], box[1]), pt(box[2], box[3])
            cv2.rectangle(img, p1, p2, colour, 2)
            tag = f"#{int(tid)}" if kind is ObjectClass.PERSON else f"{kind.value} #{int(tid)}"
            _label(img, tag, p1[0], p1[1], colour)
    for box, text in scene.plates:
        p1, p2 = pt(box[0], box[1]), pt(box[2], box[3])
        cv2.rectangle(img, p1, p2, PLATE_BGR, 2)
        _label(img, text, p1[0], p2[1] + 18, PLATE_BGR)
    for box in scene.faces:
        cv2.rectangle(img, pt(box[0], box[1]), pt(box[2], box[3]), FACE_BGR, 1)
    return img


class TileEncoder:
    """The one encoder of a camera: draws and encodes its latest scene at most ``fps`` times a
    second and hands the same :class:`Tile` to every viewer (see the module docstring)."""

    def __init__(self, geometry: CameraGeometry, config: ConsoleConfig) -> None:
        self.geometry = geometry
        self.config = config
        self._lock = threading.Lock()
        self._tile: Tile | None = None
        self._encoded_at = -1e9
        self.encodes = 0  # JPEGs made (the benchmark divides the CPU time by it)

    def tile(self, scene: LiveScene | None, *, overlays: bool = True) -> Tile | None:
        """The tile for ``scene``: the cached one while it is fresh (same scene, or newer than
        ``1/fps`` ago), else a new encode. Without ``overlays``: a plain (masked) encode, not
        cached (the still under a heatmap)."""
        if scene is None:
            return None
        if not overlays:
            return self._encode(scene, overlays=False)
        with self._lock:
            cached = self._tile
            fresh = time.monotonic() - self._encoded_at < 1.0 / self.config.live_fps
            if cached is not None and (cached.seq == scene.seq or fresh):
                return cached
            self._tile = self._encode(scene, overlays=True)
            self._encoded_at = time.monotonic()
            self.encodes += 1
            return self._tile

    def _encode(self, scene: LiveScene, *, overlays: bool) -> Tile:
        image = apply_privacy_masks(scene.image, self.geometry.masks)
        h, w = image.shape[:2]
        scale = min(1.0, self.config.live_max_width / w)
        if scale < 1.0:
            size = (round(w * scale), round(h * scale))
            img: Image = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(
                np.uint8, copy=False
            )
        else:
            img = image.copy()
        if overlays:
            draw_overlays(img, scene, self.geometry, scale)
        ok, buf = cv2.imencode(
            ".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, self.config.live_jpeg_quality]
        )
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 BGR image
            raise RuntimeError("JPEG encoding failed")
        return Tile(scene.seq, buf.tobytes(), scene.ref.captured_at, img.shape[1], img.shape[0])


@dataclass
class _Camera:
    encoder: TileEncoder
    scene: LiveScene | None = None
    seq: int = 0
    viewers: int = 0
    last_at: float | None = None
    interval_ewma: float = 0.0  # seconds between analysed frames, smoothed


class LiveVideo:
    """Per camera: the latest scene, its encoder, analysed rate and viewer slots (bounded to
    the cameras given at construction; ``observe`` of any other camera is ignored)."""

    def __init__(self, geometries: dict[str, CameraGeometry], config: ConsoleConfig) -> None:
        self.config = config
        self._cams = {c: _Camera(TileEncoder(g, config)) for c, g in geometries.items()}
        self._lock = threading.Lock()

    @property
    def cameras(self) -> list[str]:
        return sorted(self._cams)

    def observe(
        self,
        camera_id: str,
        image: Image,
        ref: FrameRef,
        *,
        objects: Detections | None = None,
        faces: npt.NDArray[np.float32] | None = None,
        plates: Sequence[tuple[Box, str]] = (),
    ) -> None:
        """Keep this analysed frame as the camera's latest scene (a reference, no copy)."""
        cam = self._cams.get(camera_id)
        if cam is None:
            return
        now = time.monotonic()
        with self._lock:
            if cam.last_at is not None:  # smooth the interval, not its inverse (unbiased rate)
                dt = max(now - cam.last_at, 1e-3)
                cam.interval_ewma = (
                    dt if cam.interval_ewma == 0 else 0.8 * cam.interval_ewma + 0.2 * dt
                )
            cam.last_at = now
            cam.seq += 1
            cam.scene = LiveScene(
                image,
                ref,
                cam.seq,
                objects,
                np.zeros((0, 4), np.float32) if faces is None else faces.reshape(-1, 4),
                tuple(plates),
            )

    def tile(self, camera_id: str, *, overlays: bool = True) -> Tile | None:
        """The camera's current tile (``None``: unknown camera or no frame yet)."""
        cam = self._cams.get(camera_id)
        if cam is None:
            return None
        return cam.encoder.tile(cam.scene, overlays=overlays)

    def acquire(self, camera_id: str) -> bool:
        """Take a viewer slot of the camera; ``False`` when all ``live_max_viewers`` are taken."""
        cam = self._cams[camera_id]
        with self._lock:
            if cam.viewers >= self.config.live_max_viewers:
                return False
            cam.viewers += 1
            return True

    def release(self, camera_id: str) -> None:
        cam = self._cams[camera_id]
        with self._lock:
            cam.viewers = max(0, cam.viewers - 1)

    def status(self, camera_id: str) -> dict[str, float | int | bool | str | None]:
        """Analysed rate (frames/s, smoothed; 0 after 10 s without a frame), viewers, and the
        time of the latest frame."""
        cam = self._cams[camera_id]
        with self._lock:
            stale = cam.last_at is None or time.monotonic() - cam.last_at > 10.0
            scene = cam.scene
            return {
                "analysed_fps": 0.0
                if stale or cam.interval_ewma == 0
                else round(1.0 / cam.interval_ewma, 2),
                "viewers": cam.viewers,
                "has_frame": scene is not None,
                "frame_at": None if scene is None else scene.ref.captured_at.isoformat(),
                "encodes": cam.encoder.encodes,
            }


def geometry_of(camera: object) -> CameraGeometry:
    """Zones, lines and privacy masks of a camera's configuration (``CameraConfig``)."""
    zones = tuple(
        (z.name, tuple((float(x), float(y)) for x, y in z.polygon))
        for z in getattr(camera, "zones", ())
    )
    lines = tuple(
        (ln.name, (float(ln.a[0]), float(ln.a[1])), (float(ln.b[0]), float(ln.b[1])))
        for ln in getattr(camera, "lines", ())
    )
    masks = tuple(
        tuple((float(x), float(y)) for x, y in m.polygon)
        for m in getattr(camera, "privacy_masks", ())
    )
    return CameraGeometry(zones, lines, masks)
