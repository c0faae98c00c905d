"""Synthetic plate crops for training Vigil's plate recogniser, drawn without any network.

Each sample imitates what :class:`vigil.perception.plates.PlateReader` hands a recogniser: the
text detector's box around a plate's character row, warped upright, with uneven margins (the
reader reads each line at 100 %, 65 % and 130 % of its height and on rows widened to 4.5 heights),
so the crop may cut the characters' tops or include parts of the state name, the slogan, the
border, bolts, stickers and small stacked characters. Those are distractors: the label is only
the character row, as OpenALPR's labels are.

Layouts follow the region profiles (:mod:`vigil.perception.plates.profiles`): US state plates
(dark characters on light, varied colours, no letter ``O``), EU plates (blue band with a
country code, black on white or yellow) and Hong Kong plates (black on yellow or white), plus
random strings so no position is ever certain. Fonts are the Debian packages ``fonts-dejavu-core``,
``fonts-liberation`` and ``fonts-freefont-ttf``; characters are condensed horizontally because
plate fonts are narrow. Degradations: perspective and rotation, blur (Gaussian and motion),
noise, JPEG, low light, glare, inverted (light on dark) plates; :func:`colourise` turns a
finished grey crop into a colour one (the fine-tune's ``--colour``).

Everything is drawn from a ``numpy.random.Generator``, so a seed reproduces a data set exactly
(given the same font files, Pillow and OpenCV).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEIGHT, WIDTH = 32, 128

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype/liberation"),
    Path("/usr/share/fonts/truetype/freefont"),
)
#: Bold sans and mono faces look most like plate lettering; the serif is a small share.
PLATE_FONTS = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSans.ttf",
    "DejaVuSansCondensed.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "LiberationSansNarrow-Regular.ttf",
    "LiberationMono-Bold.ttf",
    "LiberationSans-Regular.ttf",
    "FreeSansBold.ttf",
    "FreeMonoBold.ttf",
    "FreeSans.ttf",
    "DejaVuSerif-Bold.ttf",
)
DECOR_FONTS = (
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "LiberationSerif-BoldItalic.ttf",
    "FreeSerifBoldItalic.ttf",
    "LiberationSans-Italic.ttf",
    "DejaVuSerif.ttf",
)
STATES = (
    "CALIFORNIA",
    "TEXAS",
    "FLORIDA",
    "NEW YORK",
    "ILLINOIS",
    "OHIO",
    "GEORGIA",
    "VIRGINIA",
    "ARIZONA",
    "NEVADA",
    "OREGON",
    "WASHINGTON",
    "COLORADO",
    "UTAH",
    "MAINE",
    "ALASKA",
    "Pennsylvania",
    "Michigan",
    "Maryland",
    "Texas",
    "California",
    "Minnesota",
    "Kansas",
)
SLOGANS = (
    "dmv.ca.gov",
    "Sunshine State",
    "Land of Lincoln",
    "The Lone Star State",
    "EMPIRE STATE",
    "Live Free or Die",
    "Grand Canyon State",
    "visitPA.com",
    "Great Lakes",
    "2014",
    "JUN",
    "Wild Wonderful",
    "IN GOD WE TRUST",
    "Ocean State",
    "Garden State",
    "FRIENDSHIP",
)
EU_CODES = ("D", "F", "I", "E", "NL", "GB", "PL", "B", "A", "CZ", "P", "S", "IRL", "L")
L, D = "L", "D"
US_FORMATS = (
    "DLLLDDD",
    "LLLDDDD",
    "DDDLLL",
    "LLDDDDD",
    "DLLDDD",
    "LLLDDD",
    "DDDDLL",
    "LDDLLL",
    "DLLLDD",
    "LLLLDDD",
    "DDLLLD",
    "LDDDDDD",
    "DDDDDDD",
    "LLDDDLL",
)
EU_FORMATS = (
    "LLDDLLL",
    "LLLDDDD",
    "DDDDLLL",
    "LLDDDD",
    "LLLDDL",
    "DDLLLD",
    "LDDDLLL",
    "LLDDLL",
    "DDLLDD",
    "LLLDDLL",
)
HK_FORMATS = ("LLDDDD", "LLDDD", "LDDDD", "LLDD", "LLLLL", "LDDD")


@dataclass(frozen=True, slots=True)
class Sample:
    """One training image (``[HEIGHT, WIDTH]`` grey uint8) and its label (``ALPHABET`` only)."""

    image: npt.NDArray[np.uint8]
    label: str


@lru_cache(maxsize=256)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    for d in FONT_DIRS:
        if (d / name).is_file():
            return ImageFont.truetype(str(d / name), size)
    raise FileNotFoundError(
        f"font {name} not found in {', '.join(map(str, FONT_DIRS))}: install the Debian "
        "packages fonts-dejavu-core fonts-liberation fonts-freefont-ttf"
    )


def missing_fonts() -> list[str]:
    """Fonts the generator draws with that this machine lacks (reproduction needs none)."""
    return [
        n for n in (*PLATE_FONTS, *DECOR_FONTS) if not any((d / n).is_file() for d in FONT_DIRS)
    ]


def available_fonts() -> list[str]:
    """The plate fonts present on this machine (the generator needs at least one)."""
    return [n for n in PLATE_FONTS if any((d / n).is_file() for d in FONT_DIRS)]


def random_text(rng: np.random.Generator, region: str) -> str:
    """A plate string in one of ``region``'s formats (``"any"``: random, 2-8 characters)."""
    letters = ALPHABET[10:]
    if region == "us":
        letters = letters.replace("O", "")
    fmts = {"us": US_FORMATS, "eu": EU_FORMATS, "hk": HK_FORMATS}.get(region)
    if fmts is None:
        n = int(rng.integers(2, 9))
        return "".join(ALPHABET[int(i)] for i in rng.integers(0, 36, n))
    fmt = fmts[int(rng.integers(len(fmts)))]
    if rng.random() < 0.2:  # vanity / old series: any mix of the format's length
        fmt = "".join("LD"[int(b)] for b in rng.integers(0, 2, len(fmt)))
    digits = "0123456789"
    return "".join(
        (letters if c == L else digits)[int(rng.integers(len(letters if c == L else digits)))]
        for c in fmt
    )


def _groups(rng: np.random.Generator, text: str) -> list[str]:
    """Split the row into groups separated by a gap, dash or symbol (or keep it whole)."""
    if len(text) < 4 or rng.random() < 0.45:
        return [text]
    cut = int(rng.integers(2, len(text) - 1))
    if len(text) >= 7 and rng.random() < 0.3:
        cut2 = int(rng.integers(cut + 1, len(text)))
        return [text[:cut], text[cut:cut2], text[cut2:]]
    return [text[:cut], text[cut:]]


def _colours(rng: np.random.Generator) -> tuple[int, int]:
    """(background, ink) grey levels; sometimes inverted (light characters on a dark plate)."""
    bg = int(rng.integers(170, 256))
    ink = int(rng.integers(0, 110))
    if rng.random() < 0.1:
        bg, ink = 255 - bg, 255 - ink
    return bg, ink


def _draw_row(
    rng: np.random.Generator, text: str, ch: int, ink: int, bg: int
) -> npt.NDArray[np.uint8]:
    """The character row as a grey image ``ch`` px cap height, condensed like plate fonts."""
    fonts = available_fonts()
    name = fonts[int(rng.integers(len(fonts)))]
    font = _font(name, int(ch * 1.38))
    groups = _groups(rng, text)
    sep_kind = rng.choice(["gap", "dash", "dot", "sticker"], p=[0.55, 0.2, 0.1, 0.15])
    spacing = int(ch * rng.uniform(0.02, 0.18))
    pieces: list[tuple[str, str]] = []
    for i, g in enumerate(groups):
        if i:
            pieces.append(("sep", str(sep_kind)))
        pieces.append(("text", g))
    widths = []
    for kind, s in pieces:
        if kind == "text":
            widths.append(sum(int(font.getlength(c)) + spacing for c in s))
        else:
            widths.append(int(ch * (rng.uniform(0.3, 0.9) if s == "gap" else 0.7)))
    total = sum(widths) + 2
    img = Image.new("L", (total, int(ch * 1.6)), bg)
    draw = ImageDraw.Draw(img)
    top = int(ch * 0.3)
    x = 0
    for (kind, s), w in zip(pieces, widths, strict=True):
        if kind == "text":
            for c in s:
                bbox = font.getbbox(c)
                draw.text(
                    (x - bbox[0], top - bbox[1] + (ch - (bbox[3] - bbox[1])) // 2),
                    c,
                    fill=ink,
                    font=font,
                )
                x += int(font.getlength(c)) + spacing
        elif s == "dash":
            draw.rectangle([x + w * 0.2, top + ch * 0.45, x + w * 0.8, top + ch * 0.55], fill=ink)
            x += w
        elif s == "dot":
            r = ch * 0.07
            draw.ellipse(
                [x + w / 2 - r, top + ch / 2 - r, x + w / 2 + r, top + ch / 2 + r], fill=ink
            )
            x += w
        elif s == "sticker":
            shade = int(rng.integers(0, 256))
            draw.rectangle([x + w * 0.1, top + ch * 0.2, x + w * 0.9, top + ch * 0.8], fill=shade)
            x += w
        else:
            x += w
    arr = np.asarray(img, np.uint8)
    # Plate lettering is narrow: condense the row to 55-100 % of the font's width.
    squash = rng.uniform(0.55, 1.0)
    return np.asarray(
        cv2.resize(
            arr, (max(8, int(arr.shape[1] * squash)), arr.shape[0]), interpolation=cv2.INTER_AREA
        ),
        np.uint8,
    )


def _decor_text(
    draw: ImageDraw.ImageDraw,
    rng: np.random.Generator,
    text: str,
    box: tuple[float, float, float, float],
    ink: int,
) -> None:
    """State names, slogans, dealer frames: text near the row that is not the plate."""
    x1, y1, x2, y2 = box
    h = max(6, int(y2 - y1))
    font = _font(DECOR_FONTS[int(rng.integers(len(DECOR_FONTS)))], h)
    w = font.getlength(text)
    x = x1 + (x2 - x1 - w) * rng.uniform(0.0, 1.0)
    draw.text((x, y1 - h * 0.15), text, fill=ink, font=font)


def render_plate(
    rng: np.random.Generator, text: str, region: str, separate: bool = False
) -> tuple[npt.NDArray[np.uint8], tuple[float, float, float, float]]:
    """A whole plate (grey) and the character row's box (x1, y1, x2, y2) in it.

    ``separate`` keeps every unlabelled mark clearly apart from the labelled row, so the
    recogniser is never taught to leave out a character that looks like part of the row: the
    small stacked characters are 0.3 of the row's height and half a row height away from its
    ends, and the row starts at least 0.3 row heights right of the EU band's country code.
    Without it (the first recipes, kept so they still reproduce) stacked characters are 0.42 of
    the row's height and may touch its ends; a model trained so learned to drop real end
    characters (``KL3B8K`` read ``L3B8K``, docs/plates.md).
    """
    ch = int(rng.integers(40, 72))
    bg, ink = _colours(rng)
    row = _draw_row(rng, text, ch, ink, bg)
    rh, rw = row.shape
    fill = rng.uniform(0.62, 0.92)
    pw = int(rw / fill)
    aspect = {"eu": rng.uniform(3.5, 4.8), "hk": rng.uniform(2.0, 4.5)}.get(
        region, rng.uniform(1.8, 2.2)
    )
    ph = max(int(pw / aspect), int(rh * 1.25))
    plate = Image.new("L", (pw, ph), bg)
    draw = ImageDraw.Draw(plate)
    left = (pw - rw) // 2 + int(rng.integers(-pw // 20, pw // 20 + 1))
    if region == "eu" and rng.random() < 0.85:
        band = int(pw * 0.09)
        left = max(left, band + (int(ch * 0.3) if separate else 2))
        draw.rectangle([0, 0, band, ph], fill=int(rng.integers(40, 120)))
        code = EU_CODES[int(rng.integers(len(EU_CODES)))]
        f = _font("DejaVuSans-Bold.ttf", max(6, band // 2))
        draw.text((band * 0.15, ph * 0.6), code, fill=230, font=f)
    top = (ph - rh) // 2 + int(rng.integers(-ph // 12, ph // 12 + 1))
    top = int(np.clip(top, 0, ph - rh))
    left = int(np.clip(left, 0, max(0, pw - rw)))
    plate.paste(Image.fromarray(row), (left, top))
    cap_top, cap_bot = top + rh * 0.3 / 1.6, top + rh * 1.3 / 1.6
    if region in ("us", "any") and rng.random() < 0.8:
        name = STATES[int(rng.integers(len(STATES)))]
        _decor_text(
            draw,
            rng,
            name,
            (pw * 0.1, max(0, cap_top - ch * 0.62), pw * 0.9, max(4, cap_top - ch * 0.12)),
            ink if rng.random() < 0.5 else int(rng.integers(0, 150)),
        )
    if region in ("us", "any") and rng.random() < 0.6:
        s = SLOGANS[int(rng.integers(len(SLOGANS)))]
        _decor_text(
            draw,
            rng,
            s,
            (pw * 0.15, cap_bot + ch * 0.1, pw * 0.85, cap_bot + ch * 0.45),
            int(rng.integers(0, 150)),
        )
    if rng.random() < 0.25:  # small stacked characters beside the row (not part of the label)
        size, gap, step = (0.3, 0.5, 0.55) if separate else (0.42, 0.05, 0.5)
        f = _font("DejaVuSans-Bold.ttf", max(6, int(ch * size)))
        sx = left - ch * (gap + size) if rng.random() < 0.5 else left + rw + ch * gap
        for k in range(2):
            c = ALPHABET[int(rng.integers(36))]
            draw.text((sx, cap_top + k * ch * step), c, fill=ink, font=f)
    if rng.random() < 0.7:
        t = int(rng.integers(1, 5))
        draw.rectangle([t, t, pw - 1 - t, ph - 1 - t], outline=ink, width=t)
    if rng.random() < 0.4:  # bolts
        r = ch * 0.08
        for bx in (pw * 0.25, pw * 0.75):
            for by in (ph * 0.12, ph * 0.88):
                draw.ellipse([bx - r, by - r, bx + r, by + r], fill=int(rng.integers(60, 200)))
    return np.asarray(plate, np.uint8), (left, cap_top, left + rw * 1.0, cap_bot)


def _in_scene(
    rng: np.random.Generator,
    plate: npt.NDArray[np.uint8],
    row: tuple[float, float, float, float],
) -> tuple[npt.NDArray[np.uint8], tuple[float, float, float, float]]:
    """The plate on a car: a textured surround and the plate's edge, so crops wider than the
    plate see what real ones do (the reader's 120 % re-crops and row extensions)."""
    ph, pw = plate.shape
    m = int(ph * rng.uniform(0.4, 1.2))
    h, w = ph + 2 * m, pw + 2 * m
    base = float(rng.integers(0, 256))
    ramp = np.linspace(0, rng.uniform(-80, 80), w, dtype=np.float32)[None, :]
    scene = base + ramp + rng.normal(0, rng.uniform(2, 25), (h, w)).astype(np.float32)
    scene = cv2.GaussianBlur(scene, (0, 0), float(rng.uniform(0.5, 3.0)))
    canvas = np.clip(scene, 0, 255).astype(np.uint8)
    canvas[m : m + ph, m : m + pw] = plate
    t = int(rng.integers(1, max(2, ph // 14)))
    edge = int(rng.integers(0, 140))
    cv2.rectangle(canvas, (m - t, m - t), (m + pw + t - 1, m + ph + t - 1), edge, t)
    x1, y1, x2, y2 = row
    return canvas, (x1 + m, y1 + m, x2 + m, y2 + m)


def _crop_row(
    rng: np.random.Generator,
    plate: npt.NDArray[np.uint8],
    row: tuple[float, float, float, float],
    wide: bool = False,
    detector_like: bool = False,
) -> npt.NDArray[np.uint8]:
    """The detector-like box around the row: uneven margins, perspective, a small rotation.

    ``wide`` (with :func:`_in_scene`) also draws margins up to 1.3 row heights a side and
    boxes up to 2.6 heights tall, past the plate's edge.

    ``detector_like`` draws the extents PP-OCRv4's detector gives on real plates (seen on the
    OpenALPR tuning crops): boxes mostly 1.35-2.0 row heights tall, so the characters fill only
    half to two thirds of the height, and side margins that may cut up to an eighth of a row
    height into the end characters, which stay in the label. Without it (the first recipes)
    boxes are mostly 0.95-1.35 heights tall and never cut the end characters, and a model
    trained so learned to drop end characters that touch a real crop's edge.
    """
    x1, y1, x2, y2 = row
    h = y2 - y1
    # Vertical extent: from cutting into the characters to including decor (reader variants).
    grow = rng.choice(
        [rng.uniform(0.6, 0.95), rng.uniform(0.95, 1.35), rng.uniform(1.35, 1.9)],
        p=[0.15, 0.6, 0.25],
    )
    if detector_like:
        grow = rng.choice(
            [rng.uniform(0.8, 1.1), rng.uniform(1.1, 1.35), rng.uniform(1.35, 2.0)],
            p=[0.1, 0.3, 0.6],
        )
    if wide and rng.random() < 0.2:
        grow = rng.uniform(1.9, 2.6)
    cy = (y1 + y2) / 2 + h * rng.uniform(-0.12, 0.12)
    ty1, ty2 = cy - h * grow / 2, cy + h * grow / 2
    reach = 1.3 if wide and rng.random() < 0.5 else 0.45
    cut = 0.12 if detector_like else 0.03
    lx = x1 - h * rng.uniform(-cut, reach)
    rx = x2 + h * rng.uniform(-cut, reach)
    src = np.array([[lx, ty1], [rx, ty1], [rx, ty2], [lx, ty2]], np.float32)
    j = h * 0.08
    src += rng.uniform(-j, j, src.shape).astype(np.float32)
    ang = np.deg2rad(rng.normal(0, 2.5))
    c = src.mean(axis=0)
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
    src = (src - c) @ rot.T + c
    ow, oh = max(8, int(rx - lx)), max(8, int(ty2 - ty1))
    dst = np.array([[0, 0], [ow, 0], [ow, oh], [0, oh]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    pad = int(rng.integers(0, 256))
    return np.asarray(
        cv2.warpPerspective(plate, m, (ow, oh), borderMode=cv2.BORDER_CONSTANT, borderValue=pad),
        np.uint8,
    )


def degrade(rng: np.random.Generator, img: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Camera effects at the crop's native size, then the recogniser's input size."""
    x = img.astype(np.float32)
    h, w = x.shape
    # Resolution: real rows are often 10-30 px high; go down and back up.
    target_h = rng.uniform(9, 48)
    if target_h < h:
        s = target_h / h
        small = cv2.resize(
            x, (max(4, int(w * s)), max(4, int(h * s))), interpolation=cv2.INTER_AREA
        )
        x = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        k = rng.uniform(0.3, 2.0) * h / 32
        x = cv2.GaussianBlur(x, (0, 0), max(0.1, k))
    if rng.random() < 0.2:
        n = int(rng.integers(3, 9))
        ker = np.zeros((n, n), np.float32)
        ker[n // 2, :] = 1.0 / n
        m = cv2.getRotationMatrix2D((n / 2, n / 2), float(rng.uniform(0, 180)), 1.0)
        ker = cv2.warpAffine(ker, m, (n, n))
        x = cv2.filter2D(x, -1, ker / max(float(ker.sum()), 1e-6))
    if rng.random() < 0.25:  # glare: a bright soft blob
        gx, gy = rng.uniform(0, w), rng.uniform(0, h)
        yy, xx = np.mgrid[0:h, 0:w]
        r = rng.uniform(0.2, 0.8) * w
        x += rng.uniform(40, 160) * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r))
    if rng.random() < 0.3:  # shadow / uneven light across the plate
        ramp = np.linspace(rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.0), w, dtype=np.float32)
        x *= ramp[None, :]
    # Contrast, brightness, night.
    contrast = rng.uniform(0.35, 1.2)
    x = (x - 128) * contrast + 128 + rng.uniform(-60, 50)
    if rng.random() < 0.15:
        x *= rng.uniform(0.15, 0.45)
    x += rng.normal(0, rng.uniform(0, 14), x.shape)
    out = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        q = int(rng.integers(15, 85))
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])
        if ok:
            out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE), np.uint8)
    return out


def colourise(rng: np.random.Generator, grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A grey crop in plate colours (BGR): its dark end one dark colour, its light end a light one.

    Real crops are colour: dark blue, black, maroon or green characters on white, cream, pale
    yellow or pale blue plates, often with a coloured band above or below the row. PP-OCRv4's
    backbone, frozen in fine-tuning, takes colour input; a grey crop gives it features no real
    plate gives, and the trained neck learns from those. (Measured: it did not help, see
    docs/plates.md, "Colour crops, longer runs and a deeper unfreeze".) Mapping the grey levels
    between two colours keeps every degradation already drawn (blur, noise, JPEG, glare) and
    only adds the colour, so the label and the geometry are unchanged. A band of another colour
    tints the crop's top or bottom in a quarter of the samples.
    """
    dark = rng.uniform(0, 90) + rng.uniform(-10, 10, 3)
    if rng.random() < 0.6:  # one channel dominant: mostly blue (BGR 0), else red or green
        dark[int(rng.choice(3, p=[0.6, 0.2, 0.2]))] += rng.uniform(15, 70)
    light = rng.uniform(170, 255) + rng.uniform(-12, 12, 3)
    if rng.random() < 0.25:  # a tinted plate (pale yellow, blue, pink)
        light[int(rng.integers(3))] -= rng.uniform(15, 50)
    g = grey.astype(np.float32)[..., None] / 255.0
    out = dark[None, None, :] + g * (light - dark)[None, None, :]
    if rng.random() < 0.25:
        h = grey.shape[0]
        rows = int(h * rng.uniform(0.1, 0.3))
        tint = rng.uniform(0, 255, 3)
        sl = slice(0, rows) if rng.random() < 0.5 else slice(h - rows, h)
        out[sl] = 0.6 * out[sl] + 0.4 * tint * g[sl]
    out += rng.normal(0, rng.uniform(0, 6), out.shape)
    return np.asarray(np.clip(out, 0, 255), np.uint8)


def to_input(grey: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The recogniser's input: the crop resized to ``HEIGHT`` x ``WIDTH`` (aspect not kept)."""
    return np.asarray(cv2.resize(grey, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA), np.uint8)


REGIONS = ("us", "us", "us", "us", "eu", "hk", "any")


def sample(rng: np.random.Generator, scene: bool = False) -> Sample:
    """One random training sample (region mix: mostly US, some EU, HK and random strings).

    ``scene``: the plate sits on a car-like surround and crops may reach past its edge
    (:func:`_in_scene`); the training script switches it on after the first steps (a
    curriculum: rows on the plate first, then the clutter around it).
    """
    region = REGIONS[int(rng.integers(len(REGIONS)))]
    text = random_text(rng, region)
    plate, row = render_plate(rng, text, region)
    if scene:
        plate, row = _in_scene(rng, plate, row)
    crop = _crop_row(rng, plate, row, wide=scene)
    return Sample(to_input(degrade(rng, crop)), text)


def batch(rng: np.random.Generator, n: int, scene: bool = False) -> list[Sample]:
    """``n`` samples drawn in order from ``rng`` (``scene``: see :func:`sample`)."""
    return [sample(rng, scene) for _ in range(n)]


def clean_crop(text: str, seed: int = 0, region: str = "us") -> npt.NDArray[np.uint8]:
    """A legible grey crop of ``text``'s character row at its drawn size: no blur, noise or
    warp, margins of a fifth of the row's height (for tests and demonstrations)."""
    rng = np.random.default_rng(seed)
    plate, (x1, y1, x2, y2) = render_plate(rng, text, region)
    m = (y2 - y1) / 5
    h, w = plate.shape
    top, bottom = max(0, int(y1 - m)), min(h, int(y2 + m))
    return np.ascontiguousarray(plate[top:bottom, max(0, int(x1 - m)) : min(w, int(x2 + m))])
