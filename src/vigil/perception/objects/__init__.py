"""Person and vehicle detection behind one interface: ``detect(image) -> Detections``.

Backends: :class:`NanoDetDetector` (default; NanoDet-m 416 from npm, converted by
:mod:`vigil.models.tfjs`) and :class:`HogPersonDetector` (OpenCV HOG, a documented fallback and
the speed/recall baseline of ``bench/bench_objects.py``).
"""

from vigil.perception.objects.detector import (
    COCO_TO_CLASS,
    HogPersonDetector,
    NanoDetDetector,
    ObjectDetector,
    load_nanodet_onnx,
)

__all__ = [
    "COCO_TO_CLASS",
    "HogPersonDetector",
    "NanoDetDetector",
    "ObjectDetector",
    "load_nanodet_onnx",
]
