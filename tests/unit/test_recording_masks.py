"""Privacy masks, the encryption of segments at rest and the recording config, in isolation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError as PydanticError

from vigil.config.settings import VigilConfig
from vigil.errors import ConfigError, ValidationError
from vigil.recording.crypto import load_key, seal, unseal
from vigil.recording.masks import apply_masks
from vigil.recording.writer import parse_segment_name, segment_name

fraction = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    rect=st.tuples(fraction, fraction, fraction, fraction),
    size=st.tuples(st.integers(8, 96), st.integers(8, 96)),
)
def test_pixels_inside_a_mask_are_black_and_outside_untouched(
    rect: tuple[float, float, float, float], size: tuple[int, int]
) -> None:
    """A rectangle mask: every pixel whose centre lies inside (1 px margin) is black, every pixel
    more than 1 px outside keeps its value, and the input frame is not modified."""
    x0, x1, y0, y1 = rect
    w, h = size
    lo_x, hi_x = sorted((x0, x1))
    lo_y, hi_y = sorted((y0, y1))
    rng = np.random.default_rng(w * 97 + h)
    frame = rng.integers(1, 256, size=(h, w, 3), dtype=np.uint8)
    before = frame.copy()
    poly = [[lo_x, lo_y], [hi_x, lo_y], [hi_x, hi_y], [lo_x, hi_y]]
    out = apply_masks(frame, [poly])
    assert np.array_equal(frame, before)
    cx = (np.arange(w) + 0.5)[None, :]
    cy = (np.arange(h) + 0.5)[:, None]
    inside = (cx > lo_x * w + 1) & (cx < hi_x * w - 1) & (cy > lo_y * h + 1) & (cy < hi_y * h - 1)
    outside = (cx < lo_x * w - 1) | (cx > hi_x * w + 1) | (cy < lo_y * h - 1) | (cy > hi_y * h + 1)
    assert (out[inside] == 0).all()
    assert np.array_equal(out[outside], frame[outside])


def test_triangle_mask_from_config_objects() -> None:
    cfg = VigilConfig.model_validate(
        {
            "cameras": [
                {
                    "id": "c",
                    "url": "x.mp4",
                    "privacy_masks": [{"polygon": [[0, 0], [1, 0], [0, 1]], "name": "window"}],
                }
            ]
        }
    )
    frame = np.full((100, 100, 3), 200, np.uint8)
    out = apply_masks(frame, cfg.cameras[0].privacy_masks)
    assert out[10, 10].max() == 0  # near the corner, inside
    assert out[90, 90].min() == 200  # the far corner, outside


@pytest.mark.parametrize(
    "frame, poly",
    [
        (np.zeros((10, 10), np.uint8), [[0, 0], [1, 0], [1, 1]]),  # not 3-channel
        (np.zeros((10, 10, 3), np.float32), [[0, 0], [1, 0], [1, 1]]),  # not uint8
        (np.zeros((10, 10, 3), np.uint8), [[0, 0], [1, 0]]),  # two vertices
        (np.zeros((10, 10, 3), np.uint8), [[0, 0], [2, 0], [1, 1]]),  # not normalised
    ],
)
def test_bad_masks_and_frames_are_refused(frame: np.ndarray, poly: list[list[float]]) -> None:
    with pytest.raises(ValidationError):
        apply_masks(frame, [poly])


@pytest.mark.parametrize(
    "masks",
    [
        [{"polygon": [[0, 0], [1.5, 0], [0, 1]]}],
        [{"polygon": [[0, 0], [1, 0]]}],
        [{"polygon": [[0, 0, 0], [1, 0], [0, 1]]}],
    ],
)
def test_config_refuses_bad_mask_polygons(masks: list[dict[str, object]]) -> None:
    with pytest.raises(PydanticError):
        VigilConfig.model_validate({"cameras": [{"id": "c", "url": "x", "privacy_masks": masks}]})


def test_config_refuses_a_key_inside_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(PydanticError, match="outside the data directory"):
        VigilConfig.model_validate(
            {"system": {"data_dir": str(data)}, "recording": {"encryption_key_file": "k.key"}}
        )
    with pytest.raises(PydanticError, match="outside the data directory"):
        VigilConfig.model_validate(
            {
                "system": {"data_dir": str(data)},
                "recording": {"encryption_key_file": str(data / "keys" / "k.key")},
            }
        )
    ok = VigilConfig.model_validate(
        {
            "system": {"data_dir": str(data)},
            "recording": {"encryption_key_file": str(tmp_path / "keys" / "k.key")},
        }
    )
    assert ok.recording.encryption_key_file == tmp_path / "keys" / "k.key"


def test_config_refuses_bad_record_modes_and_segment_lengths() -> None:
    for bad in ({"record": "always"}, {"record_retention_days": 0}):
        with pytest.raises(PydanticError):
            VigilConfig.model_validate({"cameras": [{"id": "c", "url": "x", **bad}]})
    with pytest.raises(PydanticError):
        VigilConfig.model_validate({"recording": {"segment_s": 0.1}})


@pytest.mark.parametrize("form", ["raw", "hex", "base64"])
def test_keys_load_in_three_forms_and_seal_round_trips(tmp_path: Path, form: str) -> None:
    key = bytes(range(32))
    b64 = b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    text = {"raw": key, "hex": key.hex().encode(), "base64": b64}
    path = tmp_path / "k"
    path.write_bytes(text[form])
    assert load_key(path) == key
    blob = seal(key, b"segment bytes", "seg-1")
    assert b"segment bytes" not in blob
    assert unseal(key, blob, "seg-1") == b"segment bytes"


def test_sealed_segments_refuse_tampering_another_id_and_another_key() -> None:
    key = b"k" * 32
    blob = bytearray(seal(key, b"x" * 100, "seg-1"))
    with pytest.raises(ValidationError, match="another key"):
        unseal(b"j" * 32, bytes(blob), "seg-1")
    with pytest.raises(ValidationError):
        unseal(key, bytes(blob), "seg-2")  # moved under another index row
    blob[-5] ^= 1
    with pytest.raises(ValidationError):
        unseal(key, bytes(blob), "seg-1")
    with pytest.raises(ValidationError, match="not an encrypted"):
        unseal(key, b"plain mp4 bytes", "seg-1")


def test_bad_key_files_are_config_errors(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"0123")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_key(short)
    with pytest.raises(ConfigError, match="cannot read"):
        load_key(tmp_path / "missing")


@settings(max_examples=50, deadline=None)
@given(
    a=st.integers(0, 4_000_000_000_000_000),
    d=st.integers(0, 10**9),
    enc=st.booleans(),
    seg=st.text("abcdef0123456789", min_size=1, max_size=32),
)
def test_segment_names_round_trip(a: int, d: int, enc: bool, seg: str) -> None:
    from datetime import UTC, datetime

    start = datetime.fromtimestamp(a / 1e6, UTC)
    end = datetime.fromtimestamp((a + d) / 1e6, UTC)
    parsed = parse_segment_name(segment_name(seg, start, end, enc))
    assert parsed is not None
    assert parsed[0] == seg and parsed[3] == enc
    assert abs((parsed[1] - start).total_seconds()) < 1e-5
    assert abs((parsed[2] - end).total_seconds()) < 1e-5
    assert parse_segment_name("notes.txt") is None
