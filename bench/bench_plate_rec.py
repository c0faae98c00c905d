"""Reading one plate row: Vigil's plate recognisers beside PP-OCRv4's, in the same run.

The crops are the labelled plate boxes of the first ``N`` OpenALPR US images (real plates, read
from ../shared/data; skipped when it is absent), each read alone as the reader reads a text
line (one crop per call). PP-OCRv4 and ``vigil-plate-ocr`` (PP-OCRv4 fine-tuned on plates, what
``plates.recogniser: vigil`` runs) read at the reader's stretch (1.3, input 48 px high and about
3x the crop's aspect wide); the CRNN ``vigil-plate-rec`` at its fixed 32 x 128 grey input. All
sessions use the same thread count. Each figure is the median over ``REPEAT`` passes of the mean
time per crop. ``fused`` is PP-OCRv4 and ``vigil-plate-ocr`` in turn plus the per-character
fusion, what ``plates.recogniser: fused`` costs per crop; ``fused_extra_stretches`` the same
at the reader's stretch and at ``EXTRA_STRETCHES`` (``plates.extra_stretches``), three reads
by each model, what that setting costs per crop.

``python -m bench --only plate_rec`` (``--quick``: 20 crops, 3 passes).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from vigil.perception.plates.text import BGRImage, Read

EXTRA_STRETCHES = (1.0, 1.6)
US_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "openalpr_benchmarks_endtoend"


def _crops(n: int) -> list[BGRImage]:
    from vigil.perception.image import load_image
    from vigil.perception.plates.benchmark import load_benchmark

    out = []
    for item in load_benchmark(US_DIR / "endtoend" / "us")[:n]:
        img = load_image(item.image)
        x1, y1, x2, y2 = (int(v) for v in item.xyxy)
        out.append(np.ascontiguousarray(img[max(0, y1) : y2, max(0, x1) : x2]))
    return out


def _median_ms(
    read: Callable[[Sequence[BGRImage]], list[Read]], crops: list[BGRImage], repeat: int
) -> float:
    for c in crops[:3]:
        read([c])  # warm-up
    passes = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for c in crops:
            read([c])
        passes.append(1000 * (time.perf_counter() - t0) / len(crops))
    return statistics.median(passes)


def run(quick: bool) -> dict[str, object]:
    if not (US_DIR / "endtoend" / "us").is_dir():
        return {"skipped": f"{US_DIR} is absent (the OpenALPR benchmark images)"}
    from vigil.models.builtin_plates import PPOCR_REC, VIGIL_PLATE_OCR, VIGIL_PLATE_REC
    from vigil.perception.plates.plate_rec import FusedRecognizer, PlateRecognizer
    from vigil.perception.plates.reader import PlateRules
    from vigil.perception.plates.text import TextRecognizer
    from vigil.perception.runtime import onnx_session

    threads = 2
    crops = _crops(20 if quick else 100)
    repeat = 3 if quick else 7
    stretch = PlateRules().stretch
    general = TextRecognizer(onnx_session(PPOCR_REC, threads=threads))
    crnn = PlateRecognizer(onnx_session(VIGIL_PLATE_REC, threads=threads))
    own = TextRecognizer(onnx_session(VIGIL_PLATE_OCR, threads=threads))
    fused = FusedRecognizer(general, own)
    pp = _median_ms(lambda c: general.read(c, stretch), crops, repeat)
    ocr = _median_ms(lambda c: own.read(c, stretch), crops, repeat)
    vg = _median_ms(lambda c: crnn.read(c, stretch), crops, repeat)
    fu = _median_ms(lambda c: fused.read(c, stretch), crops, repeat)
    every = (stretch, *EXTRA_STRETCHES)
    fx = _median_ms(lambda c: [r for s in every for r in fused.read(c, s)], crops, repeat)
    return {
        "crops": len(crops),
        "threads": threads,
        "vigil_plate_ocr_ms_per_crop": round(ocr, 3),
        "vigil_plate_rec_ms_per_crop": round(vg, 3),
        "baseline_ppocr_v4_rec_ms_per_crop": round(pp, 3),
        "fused_ms_per_crop": round(fu, 3),
        "fused_extra_stretches": list(EXTRA_STRETCHES),
        "fused_extra_stretches_ms_per_crop": round(fx, 3),
        "vigil_plate_ocr_vs_ppocr_ratio": round(pp / ocr, 2),
        "vigil_plate_rec_vs_ppocr_ratio": round(pp / vg, 2),
    }
