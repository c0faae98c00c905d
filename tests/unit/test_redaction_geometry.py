"""The redactor's pixel operations: a blurred box stays inside the image, nothing outside the box
changes, the box itself no longer holds its detail, and privacy masks black out their polygon."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.perception.redaction import _grow, fill_polygons, obscure


@settings(max_examples=60, deadline=None)
@given(
    w=st.integers(8, 120),
    h=st.integers(8, 120),
    box=st.tuples(*(st.floats(-50, 200, allow_nan=False) for _ in range(4))),
    margin=st.floats(0, 1),
    block=st.integers(2, 16),
    seed=st.integers(0, 2**16),
)
def test_obscure_changes_only_the_grown_box(
    *,
    w: int,
    h: int,
    box: tuple[float, float, float, float],
    margin: float,
    block: int,
    seed: int,
) -> None:
    x1, y1, x2, y2 = box
    xyxy = np.array([min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)], np.float32)
    grown = _grow(xyxy, margin, w, h)
    assert 0 <= grown[0] <= grown[2] <= w and 0 <= grown[1] <= grown[3] <= h
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = img.copy()
    obscure(out, grown, block)
    mask = np.zeros((h, w), bool)
    mask[grown[1] : grown[3], grown[0] : grown[2]] = True
    assert np.array_equal(out[~mask], img[~mask])
    gx, gy = grown[2] - grown[0], grown[3] - grown[1]
    if gx >= 8 and gy >= 8:  # noise inside a real box is smoothed away
        inside, before = out[mask].astype(float), img[mask].astype(float)
        assert inside.std() < before.std()


def test_masks_black_out_their_polygon_only() -> None:
    img = np.full((100, 200, 3), 200, np.uint8)
    out = fill_polygons(img, [[(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]])
    assert (out[:45, :95] == 0).all() and (out[55:, :] == 200).all() and (out[:, 105:] == 200).all()
    assert (img == 200).all()  # the input is not changed
    assert fill_polygons(img, []) is img
