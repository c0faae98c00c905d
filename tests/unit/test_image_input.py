"""Bad image input: each case is a clear InputError or is handled, never a crash or a hang."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vigil.errors import InputError
from vigil.perception.image import decode_image, load_image


def _encode(img: Image.Image, fmt: str = "JPEG", **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_plain_jpeg_becomes_bgr() -> None:
    rgb = Image.new("RGB", (64, 48), (255, 0, 0))
    out = decode_image(_encode(rgb, "PNG"))
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    assert tuple(out[0, 0]) == (0, 0, 255)  # red in BGR


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not an image at all" * 10, "not a readable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not a readable image|corrupt"),
    ],
)
def test_non_images(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        decode_image(data)


def test_truncated_jpeg() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(noise))
    with pytest.raises(InputError, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2])


def test_zero_and_tiny_images() -> None:
    # A PNG header claiming 0 x 0 is refused by Pillow; a 1 x 1 image by our minimum side.
    with pytest.raises(InputError):
        decode_image(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x00\x00\x00\x00\x00"
            b"\x08\x02\x00\x00\x00"
        )
    with pytest.raises(InputError, match="1x1"):
        decode_image(_encode(Image.new("RGB", (1, 1)), "PNG"))


def test_decompression_bomb_refused_from_header() -> None:
    # A 30,000 x 30,000 PNG of one colour compresses to a few hundred kB but would need 2.7 GB
    # decoded; it must be refused before decoding.
    big = Image.new("1", (30_000, 30_000))
    data = _encode(big, "PNG", optimize=True)
    assert len(data) < 5_000_000
    with pytest.raises(InputError, match=r"30000x30000|pixel limit"):
        decode_image(data)


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA", "I;16", "CMYK"])
def test_modes_are_converted(mode: str) -> None:
    img = Image.new("RGB", (40, 30), (10, 200, 30)).convert(mode)
    out = decode_image(_encode(img, "PNG" if mode != "CMYK" else "JPEG"))
    assert out.shape == (30, 40, 3) and out.dtype == np.uint8


def test_exif_rotation_applied() -> None:
    img = Image.new("RGB", (80, 40), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    out = decode_image(_encode(img, "JPEG", exif=exif))
    assert out.shape[:2] == (80, 40)


def test_load_image_file_errors(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    with pytest.raises(InputError, match="does not exist"):
        load_image(base / "missing.jpg")
    with pytest.raises(InputError, match="folder"):
        load_image(base)


def test_image_size_reads_the_header_only() -> None:
    import tracemalloc

    from tests.support.api_env import jpeg_claiming
    from vigil.perception.image import image_size

    data = jpeg_claiming(6000, 6600)
    assert len(data) < 2000
    tracemalloc.start()
    assert image_size(data) == (6000, 6600)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * 2**20  # a decoded 6000x6600 RGB image would be 119 MB
    with pytest.raises(InputError, match="not a readable image"):
        image_size(b"GIF89a nonsense")
    with pytest.raises(InputError, match="empty"):
        image_size(b"")
