from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vigil.core import (
    box_area,
    box_iou,
    clip_boxes,
    cxcywh_to_xyxy,
    nms,
    xywh_to_xyxy,
    xyxy_to_cxcywh,
    xyxy_to_xywh,
)
from vigil.errors import ValidationError

coord = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=32)


@st.composite
def boxes(draw: st.DrawFn, max_n: int = 8) -> np.ndarray:
    n = draw(st.integers(0, max_n))
    xy = draw(arrays(np.float32, (n, 2), elements=coord))
    wh = draw(arrays(np.float32, (n, 2), elements=st.floats(0, 1e3, width=32)))
    return np.concatenate([xy, xy + wh], axis=1)


def test_iou_known_values() -> None:
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]])
    np.testing.assert_allclose(box_iou(a, b)[0], [1.0, 1 / 3, 0.0, 0.0], rtol=1e-6)


@given(boxes(), boxes())
def test_iou_is_bounded_and_symmetric(a: np.ndarray, b: np.ndarray) -> None:
    iou = box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    assert np.all((iou >= 0) & (iou <= 1))
    np.testing.assert_allclose(iou, box_iou(b, a).T, atol=1e-6)


@given(boxes())
def test_iou_with_self_is_one_for_positive_area(a: np.ndarray) -> None:
    diag = np.diag(box_iou(a, a))
    positive = box_area(a) > 1e-3
    np.testing.assert_allclose(diag[positive], 1.0, atol=1e-4)


@given(boxes())
def test_conversions_round_trip(a: np.ndarray) -> None:
    np.testing.assert_allclose(xywh_to_xyxy(xyxy_to_xywh(a)), a, atol=1e-2)
    np.testing.assert_allclose(cxcywh_to_xyxy(xyxy_to_cxcywh(a)), a, atol=1e-2)


@given(boxes(), st.integers(1, 4000), st.integers(1, 4000))
def test_clip_stays_inside_and_is_idempotent(a: np.ndarray, w: int, h: int) -> None:
    c = clip_boxes(a, w, h)
    assert np.all(c[:, [0, 2]] >= 0) and np.all(c[:, [0, 2]] <= w)
    assert np.all(c[:, [1, 3]] >= 0) and np.all(c[:, [1, 3]] <= h)
    np.testing.assert_array_equal(clip_boxes(c, w, h), c)
    assert np.all(box_area(c) <= box_area(a) + 1e-3)


@given(boxes(max_n=12), st.floats(0.1, 0.9))
def test_nms_keeps_no_overlapping_pair(a: np.ndarray, thr: float) -> None:
    scores = np.linspace(1, 0, len(a), dtype=np.float32)
    keep = nms(a, scores, thr)
    kept = a[keep]
    iou = box_iou(kept, kept)
    np.fill_diagonal(iou, 0)
    assert np.all(iou <= thr + 1e-6)
    if len(a):
        assert keep[0] == 0  # highest score always survives


@pytest.mark.parametrize("bad", [np.zeros((3,)) + 1, np.zeros((2, 3)), np.zeros((1, 4, 1))])
def test_bad_shapes_name_expected_and_actual(bad: np.ndarray) -> None:
    with pytest.raises(ValidationError, match=r"\(N, 4\).*got"):
        box_iou(bad, np.zeros((1, 4)))


def test_clip_rejects_empty_image() -> None:
    with pytest.raises(ValidationError, match="0x5"):
        clip_boxes(np.zeros((1, 4)), 0, 5)
