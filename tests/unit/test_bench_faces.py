"""bench/bench_faces.py imports without dlib and builds frames of the asked size with faces."""

from __future__ import annotations

import numpy as np
import pytest
from bench import bench_faces


@pytest.fixture
def backgrounds() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (576, 768, 3), dtype=np.uint8) for _ in range(2)]


@pytest.fixture
def faces() -> list[np.ndarray]:
    rng = np.random.default_rng(2)
    return [rng.integers(0, 256, (250, 250, 3), dtype=np.uint8) for _ in range(3)]


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_composite_frames_size_and_face_boxes(
    backgrounds: list[np.ndarray], faces: list[np.ndarray], size: tuple[int, int]
) -> None:
    frames = bench_faces.composite_frames(backgrounds, faces, size, faces_per_frame=4)
    assert len(frames) == len(backgrounds)
    w, h = size
    lo, hi = (v * h / 1080 for v in bench_faces.FACE_PX_1080P)
    for frame in frames:
        assert frame.image.shape == (h, w, 3)
        assert frame.image.dtype == np.uint8
        assert frame.faces.shape == (4, 4)
        heights = frame.faces[:, 3] - frame.faces[:, 1]
        assert ((heights >= lo - 1) & (heights <= hi + 1)).all()
        assert (frame.faces[:, [0, 1]] >= 0).all()
        assert (frame.faces[:, 2] <= w).all() and (frame.faces[:, 3] <= h).all()


def test_resized_scales_boxes(backgrounds: list[np.ndarray], faces: list[np.ndarray]) -> None:
    frame = bench_faces.composite_frames(backgrounds[:1], faces, (1920, 1080), seed=3)[0]
    small = frame.resized(1280, 720)
    assert small.image.shape == (720, 1280, 3)
    np.testing.assert_allclose(small.faces, frame.faces * (2 / 3), rtol=1e-5)


def test_composite_is_deterministic(backgrounds: list[np.ndarray], faces: list[np.ndarray]) -> None:
    a = bench_faces.composite_frames(backgrounds, faces, (1280, 720), seed=5)
    b = bench_faces.composite_frames(backgrounds, faces, (1280, 720), seed=5)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))


def test_recall_counts_faces_with_a_box_centred_inside() -> None:
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    found = np.array([[2, 2, 8, 8], [100, 100, 110, 110]], np.float32)
    assert bench_faces._recall(found, truth) == (1, 2)
    assert bench_faces._recall(np.zeros((0, 4), np.float32), truth) == (0, 2)
