"""Built-in text models for licence-plate reading: PP-OCRv4 detection and recognition.

Both ONNX files ship inside the PyPI wheel ``rapidocr-onnxruntime`` 1.4.4 (Apache-2.0) and are
used unchanged: the final file's SHA-256 equals the member's. Vigil runs them with onnxruntime
directly (:mod:`vigil.perception.plates`); the ``rapidocr`` package itself is never imported (it
wants the non-headless OpenCV build). The recognition model carries its own character list in the
ONNX metadata (key ``character``), so no separate dictionary file is needed.

Accuracy (measured, docs/plates.md): ``vigil eval plates`` on the 222 OpenALPR US benchmark
images.
"""

from __future__ import annotations

from typing import Final

from vigil.models.catalog import ModelSpec, PackageSource, register

RAPIDOCR = (
    "pypi-wheel",
    "rapidocr-onnxruntime",
    "1.4.4",
    "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf",
)

PPOCR_DET: Final = "ppocr-v4-det"
PPOCR_REC: Final = "ppocr-v4-rec"

_LICENCE = "Apache-2.0 (PaddleOCR models, RapidOCR packaging)"
_ACCURACY = "OpenALPR US end-to-end benchmark: see docs/plates.md (vigil eval plates)"

register(
    ModelSpec(
        name=PPOCR_DET,
        task="text-detection",
        version="ch-PP-OCRv4-det-rapidocr-1.4.4",
        source=PackageSource(
            *RAPIDOCR,  # type: ignore[arg-type]
            member="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
            member_sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        ),
        filename="ppocr-v4-det.onnx",
        sha256="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        licence=_LICENCE,
        description="PP-OCRv4 DB text detector (probability map, stride 1, any size that is a "
        "multiple of 32); finds plate text lines.",
        default=True,
        accuracy=_ACCURACY,
    )
)

register(
    ModelSpec(
        name=PPOCR_REC,
        task="text-recognition",
        version="ch-PP-OCRv4-rec-rapidocr-1.4.4",
        source=PackageSource(
            *RAPIDOCR,  # type: ignore[arg-type]
            member="rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
            member_sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        ),
        filename="ppocr-v4-rec.onnx",
        sha256="48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        licence=_LICENCE,
        description="PP-OCRv4 CTC text recogniser, input [N,3,48,W] BGR (x/255-0.5)/0.5; "
        "character list in the ONNX metadata.",
        default=True,
        accuracy=_ACCURACY,
    )
)

VIGIL_PLATE_REC: Final = "vigil-plate-rec"
#: Vigil's own plate recogniser, committed inside the package (its model card is
#: src/vigil/models/weights/vigil-plate-rec.model-card.md).
VIGIL_PLATE_REC_FILE = "models/weights/vigil-plate-rec.onnx"
VIGIL_PLATE_REC_SHA256 = "da46bec1fb01a8e7a38e74e590e8f88662cb882058ca307e419796efd7ce2494"

register(
    ModelSpec(
        name=VIGIL_PLATE_REC,
        task="plate-recognition",
        version="vigil-plate-rec-1",
        source=PackageSource(
            "vigil",
            "vigil",
            "1",
            VIGIL_PLATE_REC_SHA256,
            member=VIGIL_PLATE_REC_FILE,
            member_sha256=VIGIL_PLATE_REC_SHA256,
        ),
        filename="vigil-plate-rec.onnx",
        sha256=VIGIL_PLATE_REC_SHA256,
        licence="Apache-2.0 (trained by Vigil on synthetic plates; fonts: DejaVu, Liberation, "
        "GNU FreeFont)",
        description="Vigil's plate recogniser: CRNN/CTC trained from scratch on synthetic "
        "plates (training/plates/), input [N,1,32,128] grey x/127.5-1, output [N,32,37] "
        "probabilities over blank + 0-9A-Z.",
        default=True,
        accuracy="OpenALPR US end-to-end benchmark with PP-OCRv4 detection: see "
        "docs/plates.md (vigil eval plates --recogniser vigil|fused)",
    )
)

VIGIL_PLATE_OCR: Final = "vigil-plate-ocr"
#: PP-OCRv4's recogniser fine-tuned by Vigil on synthetic plates, output sliced to 0-9A-Z
#: (model card: src/vigil/models/weights/vigil-plate-ocr.model-card.md).
VIGIL_PLATE_OCR_FILE = "models/weights/vigil-plate-ocr.onnx"
VIGIL_PLATE_OCR_SHA256 = "80014dfe2e2ca3f463d3ab9c88a5970d6b8a764cd3c37aa87443daa7246ffa47"

register(
    ModelSpec(
        name=VIGIL_PLATE_OCR,
        task="plate-recognition",
        version="vigil-plate-ocr-1",
        source=PackageSource(
            "vigil",
            "vigil",
            "1",
            VIGIL_PLATE_OCR_SHA256,
            member=VIGIL_PLATE_OCR_FILE,
            member_sha256=VIGIL_PLATE_OCR_SHA256,
        ),
        filename="vigil-plate-ocr.onnx",
        sha256=VIGIL_PLATE_OCR_SHA256,
        licence="Apache-2.0 (PP-OCRv4 weights from rapidocr-onnxruntime 1.4.4, Apache-2.0, "
        "fine-tuned by Vigil on synthetic plates; fonts: DejaVu, Liberation, GNU FreeFont)",
        description="Vigil's plate reader: PP-OCRv4's CTC recogniser with its neck and output "
        "layer fine-tuned on synthetic plates (training/plates/finetune.py), input "
        "[N,3,48,W] BGR (x/255-0.5)/0.5 as PP-OCRv4, output [N,W/8,37] probabilities over "
        "blank + 0-9A-Z.",
        default=True,
        accuracy="OpenALPR US end-to-end benchmark with PP-OCRv4 detection: see "
        "docs/plates.md (vigil eval plates --recogniser vigil|fused)",
    )
)
