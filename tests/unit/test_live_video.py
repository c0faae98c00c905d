"""The live tiles' core (vigil.system.live_video): one encode shared by viewers and bounded by
rate, overlays drawn from results only, bounded state, viewer slots, and the mask hook."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.config.console import ConsoleConfig
from vigil.config.settings import CameraConfig
from vigil.core import Detections, FrameRef
from vigil.system.live_video import (
    PERSON_BGR,
    CameraGeometry,
    LiveScene,
    LiveVideo,
    TileEncoder,
    apply_privacy_masks,
    draw_overlays,
    geometry_of,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _frame(w: int = 320, h: int = 240, value: int = 90) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def _ref(i: int = 0, w: int = 320, h: int = 240) -> FrameRef:
    return FrameRef("cam", NOW, i, w, h)


def _person(x1: float = 40, y1: float = 40, x2: float = 120, y2: float = 200) -> Detections:
    return Detections(
        np.array([[x1, y1, x2, y2]], np.float32),
        np.array([0.9], np.float32),
        np.array([1]),  # ObjectClass order: face, person, ...
        tracker_id=np.array([7]),
    )


def _decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def _person_pixels(img: np.ndarray) -> int:
    diff = np.abs(img.astype(np.int16) - np.array(PERSON_BGR, np.int16))
    return int((diff.max(axis=2) < 40).sum())


def test_a_tracked_person_is_drawn_and_an_untracked_one_is_not() -> None:
    live = LiveVideo({"cam": CameraGeometry()}, ConsoleConfig())
    live.observe("cam", _frame(), _ref(), objects=_person())
    tile = live.tile("cam")
    assert tile is not None and _person_pixels(_decode(tile.jpeg)) > 200
    untracked = Detections(
        _person().xyxy, _person().confidence, _person().class_id, tracker_id=np.array([-1])
    )
    live.observe("cam", _frame(), _ref(1), objects=untracked)
    plain = live.tile("cam", overlays=False)
    assert plain is not None and _person_pixels(_decode(plain.jpeg)) == 0


def test_one_encode_serves_every_viewer_until_the_rate_allows_another() -> None:
    enc = TileEncoder(CameraGeometry(), ConsoleConfig(live_fps=0.2))  # one encode per 5 s
    scene = LiveScene(_frame(), _ref(), 1)
    first = enc.tile(scene)
    assert first is not None
    for _ in range(10):  # ten viewers asking for the same scene
        assert enc.tile(scene) is first
    newer = LiveScene(_frame(value=200), _ref(1), 2)
    assert enc.tile(newer) is first  # a new frame within 1/fps: still the cached tile
    assert enc.encodes == 1


def test_frames_are_scaled_to_the_configured_width() -> None:
    live = LiveVideo({"cam": CameraGeometry()}, ConsoleConfig(live_max_width=160))
    live.observe("cam", _frame(640, 480), _ref(0, 640, 480))
    tile = live.tile("cam")
    assert tile is not None and (tile.width, tile.height) == (160, 120)
    assert _decode(tile.jpeg).shape == (120, 160, 3)


def test_unknown_cameras_are_ignored_and_state_stays_one_scene_per_camera() -> None:
    live = LiveVideo({"cam": CameraGeometry()}, ConsoleConfig())
    for i in range(500):
        live.observe(f"other-{i}", _frame(), _ref(i))
        live.observe("cam", _frame(), _ref(i))
    assert live.cameras == ["cam"]
    assert live.tile("other-1") is None
    assert live.status("cam")["has_frame"] is True
    assert live.tile("cam") is not None


def test_no_tile_before_the_first_frame() -> None:
    live = LiveVideo({"cam": CameraGeometry()}, ConsoleConfig())
    assert live.tile("cam") is None
    assert live.status("cam")["has_frame"] is False


def test_viewer_slots_are_capped_and_released() -> None:
    live = LiveVideo({"cam": CameraGeometry()}, ConsoleConfig(live_max_viewers=2))
    assert live.acquire("cam") and live.acquire("cam")
    assert not live.acquire("cam")
    live.release("cam")
    assert live.acquire("cam")
    for _ in range(5):
        live.release("cam")
    assert live.status("cam")["viewers"] == 0


def test_a_configured_privacy_mask_is_black_on_every_tile() -> None:
    """A camera's mask from its configuration (``cameras[].privacy_masks``) is blacked out in
    the encoded tile, overlays included, and the rest of the picture is kept."""
    camera = CameraConfig.model_validate(
        {
            "id": "cam",
            "url": "rtsp://10.0.0.5/s",
            "privacy_masks": [{"name": "window", "polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}],
        }
    )
    live = LiveVideo({"cam": geometry_of(camera)}, ConsoleConfig())
    live.observe("cam", _frame(value=200), _ref())
    for overlays in (False, True):
        tile = live.tile("cam", overlays=overlays)
        assert tile is not None
        img = _decode(tile.jpeg)
        w = img.shape[1]
        assert img[:, : w // 2 - 4].max() < 20  # masked half: black
        assert img[:, w // 2 + 4 :].mean() > 150  # the other half: the picture
    assert apply_privacy_masks(_frame(), ()) is not None


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(*[st.floats(-500, 1500, allow_nan=False)] * 4), min_size=0, max_size=8
    ),
    scale=st.floats(0.1, 1.0),
)
def test_drawing_never_changes_the_image_shape_or_type(
    boxes: list[tuple[float, float, float, float]], scale: float
) -> None:
    xyxy = np.array([[min(a, c), min(b, d), max(a, c), max(b, d)] for a, b, c, d in boxes])
    n = len(xyxy)
    dets = Detections(
        xyxy.reshape(n, 4),
        np.full(n, 0.5, np.float32),
        np.ones(n, np.int64),
        tracker_id=np.arange(n),
    )
    scene = LiveScene(_frame(), _ref(), 1, dets, xyxy.reshape(n, 4).astype(np.float32))
    geometry = CameraGeometry(zones=(("z", ((0.0, 0.0), (50.0, 0.0), (50.0, 50.0))),))
    img = _frame(max(1, round(320 * scale)), max(1, round(240 * scale)))
    out = draw_overlays(img, scene, geometry, scale)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_faces_are_plain_white_boxes_without_any_label() -> None:
    live = LiveVideo({"cam": CameraGeometry()}, ConsoleConfig())
    frame = _frame(value=40)
    live.observe("cam", frame, _ref(), faces=np.array([[100, 60, 160, 130]], np.float32))
    tile = live.tile("cam")
    assert tile is not None
    img = _decode(tile.jpeg)
    white = img.min(axis=2) > 200
    assert white.sum() > 100  # the box outline
    assert not white[70:120, 110:150].any()  # nothing written inside: no name, no score
