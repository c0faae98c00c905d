"""Safe image decoding for every entry point that accepts an image (CLI, API upload, eval).

Untrusted bytes go through Pillow with explicit limits: a decompression bomb (a small file that
claims 30,000 × 30,000 pixels) is refused from its header before any pixel is decoded; a
truncated JPEG is an error rather than a half-grey picture; EXIF orientation is applied so a phone
photo enrolled in a watchlist is upright; grayscale, palette, RGBA and 16-bit inputs become 8-bit
BGR. Alpha is composited onto mid-grey: dropping it onto black would darken faces, and grey is a
neutral background for detectors.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from vigil.errors import InputError

BGRImage = npt.NDArray[np.uint8]

MAX_PIXELS = 40_000_000  # 40 MP: above any CCTV frame (8K is 33 MP), below a bomb
MAX_BYTES = 25 * 1024 * 1024
MIN_SIDE = 8


def image_size(data: bytes, *, name: str = "image") -> tuple[int, int]:
    """``(width, height)`` from the image header alone, without decoding a pixel.

    Pillow's ``Image.open`` only parses the header, so this costs microseconds and a few KB
    whatever the picture claims; callers use it to bound the work of a request (count the
    pixels of every upload) before decoding any of them.
    """
    if not data:
        raise InputError(f"{name} is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError:  # Pillow refuses more than 2x its own limit outright
        raise InputError(f"{name} claims too many pixels (possible decompression bomb)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise InputError(f"{name} is not a readable image") from None
    return width, height


def decode_image(data: bytes, *, name: str = "image", max_pixels: int = MAX_PIXELS) -> BGRImage:
    """Decode untrusted image bytes into an upright 8-bit BGR array, or raise InputError."""
    if not data:
        raise InputError(f"{name} is empty (0 bytes)")
    if len(data) > MAX_BYTES:
        raise InputError(f"{name} is {len(data)} bytes; the limit is {MAX_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise InputError(
                    f"{name} is {width}x{height} pixels; the limit is {max_pixels} pixels "
                    "(possible decompression bomb)"
                )
            if min(width, height) < MIN_SIDE:
                raise InputError(
                    f"{name} is {width}x{height}; at least {MIN_SIDE} px a side needed"
                )
            img.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name} is not a readable image (or exceeds the pixel limit)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{name} is corrupt or truncated: {exc}") from None
    return _to_bgr(ImageOps.exif_transpose(img))


def _to_bgr(img: Image.Image) -> BGRImage:
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr16 = np.asarray(img, dtype=np.float32)
        scale = 255.0 / max(float(arr16.max()), 1.0)
        img = Image.fromarray((arr16 * scale).astype(np.uint8))
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def load_image(path: str | Path, *, max_pixels: int = MAX_PIXELS) -> BGRImage:
    """Read and decode an image file (same checks as :func:`decode_image`)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{p} is {size} bytes; the limit is {MAX_BYTES}")
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{p} is a folder, not an image") from None
    return decode_image(data, name=str(p), max_pixels=max_pixels)
