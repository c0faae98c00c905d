"""What each kind of pool actor serves, and the camera-side clients that stand in for local models.

Server side (built inside a :class:`~vigil.cluster.inference.PoolServer` by :func:`build_model`):

* ``objects``: ``detect(frame)`` with NanoDet, the settings of the local people stage;
* ``faces``: ``detect(frame)`` with the configured face detector, ``embed(crops)`` with the
  configured embedder (a fused template when ``faces.embedder.backend`` is ``fusion``);
* ``plates``: ``read((crop, ox, oy, w, h))``, :meth:`PlateReader.read_region` on a region that
  the camera cut out (a vehicle box, or a plate camera's whole frame).

Camera side (:func:`camera_models`): :class:`PooledDetector` (objects and faces),
:class:`PooledFaceEmbedder` and :class:`PooledPlateReader` implement the same interfaces as the
local models, so the people stage, the face pipeline (alignment and quality gate stay in the
camera) and the plate stage run unchanged on top of them.

Where biometric data goes, and why none of it can be spilled to disk. Ray keeps a call's
arguments and its return value in the shared-memory object store (plasma) only when they are
larger than ``max_direct_call_object_size`` (100 KiB by default, :data:`~vigil.cluster.inference.
INLINE_LIMIT`); smaller ones travel inside the RPC and live in the caller's in-process memory
store, which Ray never spills. Only plasma objects can be spilled, when the store fills up.

* Aligned face crops (112 x 112 x 3 bytes, 36.75 KiB each) are sent two per request, so an embed
  request's argument stays under the limit; the requests of one frame are in flight together.
* Templates come back by value: a request of two crops returns ``2 x dim`` float32s (5 KiB for
  the 640-d fused template), far under the limit; :func:`inline_sized` raises (loud, never a
  silent plasma put) if a model ever answers more. The reference is dropped as soon as
  ``ray.get`` returns, so the camera's copy is the only one left: non-match templates are then
  dropped by the identifier at track close as in the embedded mode.
* Face detections (boxes, scores, five landmarks per face) are small and come back inline too.
* Frames (640 x 480 x 3 = 900 KiB) are larger and do pass through plasma, for the time of one
  call: the camera holds the only reference and drops it when the answer arrives. A frame could
  be spilled only if the store filled up while it waited. Deployments that must never write
  frames to disk start the head with ``--system-config='{"automatic_object_spilling_enabled":
  false}'`` (a full store then blocks and fails the call, which the camera counts); the
  integration test runs its cluster that way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.cluster.batching import Priority
from vigil.cluster.inference import INLINE_LIMIT, PoolClient, find_server
from vigil.config.cluster import PoolKind
from vigil.config.settings import CameraConfig, VigilConfig
from vigil.core import Detections
from vigil.errors import InputError
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.plates.reader import PlateCandidate, PlateReading
from vigil.system.embedded import CameraModels

BGRImage = npt.NDArray[np.uint8]
CROP_BYTES = 112 * 112 * 3
CROPS_PER_REQUEST = max(1, (INLINE_LIMIT - 4096) // CROP_BYTES)
"""Aligned faces per embed request: their bytes plus pickling overhead stay under the limit."""


def inline_sized(array: npt.NDArray[Any], what: str) -> npt.NDArray[Any]:
    """``array`` unchanged if Ray will pass it inline (see the module docstring), else an error."""
    if array.nbytes > INLINE_LIMIT - 4096:
        raise ValueError(
            f"{what} of {array.nbytes} bytes would go through Ray's object store (limit "
            f"{INLINE_LIMIT - 4096} bytes inline); send fewer faces per request"
        )
    return array


class Served:
    """A served model: named operations, each run on every payload of a batch in order."""

    kind: PoolKind
    providers: list[str]
    ops: dict[str, Callable[[Any], Any]]

    def run(self, op: str, payloads: list[Any]) -> list[Any]:
        try:
            fn = self.ops[op]
        except KeyError:
            raise ValueError(f"the {self.kind} pool has no operation {op!r}") from None
        return [fn(p) for p in payloads]

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "ops": sorted(self.ops)}


class ObjectsModel(Served):
    kind: PoolKind = "objects"

    def __init__(self, config: VigilConfig, providers: list[str]) -> None:
        from vigil.perception.objects import NanoDetDetector

        self.providers = providers
        self.detector = NanoDetDetector(
            config.models.dir,
            score_threshold=0.1,
            tile_grids=config.people.tile_grids,
            providers=providers,
        )
        self.ops = {"detect": self.detector.detect}


class FacesModel(Served):
    """The face detector and embedder (ONNX Runtime on the CPU: these models take no GPU
    providers yet)."""

    kind: PoolKind = "faces"

    def __init__(self, config: VigilConfig, providers: list[str]) -> None:
        self.providers = ["CPUExecutionProvider"]  # see the class docstring
        del providers
        pipeline = FacePipeline.from_config(config.faces, config.models.dir)
        self.detector, self.embedder = pipeline.detector, pipeline.embedder
        self.ops = {"detect": self.detector.detect, "embed": self._embed}

    def _embed(self, crops: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        return inline_sized(self.embedder.embed(crops), "templates")

    def info(self) -> dict[str, Any]:
        return {**super().info(), "embedder": self.embedder.name, "dim": self.embedder.dim}


class PlatesModel(Served):
    kind: PoolKind = "plates"

    def __init__(self, config: VigilConfig, providers: list[str]) -> None:
        from vigil.system.plates import plate_reader_from_config

        self.providers = ["CPUExecutionProvider"]  # PP-OCR sessions run on the CPU
        del providers
        self.reader = plate_reader_from_config(config.plates, config.models.dir)
        self.ops = {"read": self._read}

    def _read(self, region: tuple[BGRImage, int, int, int, int]) -> list[PlateCandidate]:
        return self.reader.read_region(*region)


MODELS: dict[str, Callable[[VigilConfig, list[str]], Served]] = {
    "objects": ObjectsModel,
    "faces": FacesModel,
    "plates": PlatesModel,
}


def build_model(kind: str, config: VigilConfig, providers: list[str]) -> Served:
    """The served model of one pool kind."""
    try:
        return MODELS[kind](config, providers)
    except KeyError:
        raise ValueError(f"unknown pool kind {kind!r}; known: {sorted(MODELS)}") from None


class PooledDetector(PoolClient):
    """A detector in a pool (objects or faces): ``detect(image) -> Detections``."""

    name = "pooled"

    def detect(self, image: BGRImage) -> Detections:
        result: Detections = self.ask("detect", image)
        return result


class PooledFaceEmbedder(PoolClient):
    """A :class:`~vigil.perception.faces.embedders.FaceEmbedder` in the face pool: crops go
    :data:`CROPS_PER_REQUEST` per request, all in flight together (see the module docstring)."""

    def __init__(self, *args: Any, name: str, dim: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name, self.dim = name, dim

    def embed(self, faces: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
        if faces.ndim != 4 or faces.shape[1:] != (112, 112, 3) or faces.dtype != np.uint8:
            raise InputError(
                f"faces must be (N, 112, 112, 3) uint8, got {faces.shape} {faces.dtype}"
            )
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        step = CROPS_PER_REQUEST
        chunks = [np.ascontiguousarray(faces[i : i + step]) for i in range(0, len(faces), step)]
        refs = [self.submit("embed", inline_sized(c, "face crops")) for c in chunks]
        out: npt.NDArray[np.float32] = np.concatenate(self.answers(refs), axis=0)
        return out


class PooledPlateReader(PlateReading):
    """A :class:`~vigil.perception.plates.reader.PlateReading` whose regions are read in the
    plate pool: the camera cuts each region out, so only that crop travels."""

    def __init__(self, client: PoolClient, profile: Any) -> None:
        self.client = client
        self.profile = profile

    def read_region(self, crop: BGRImage, ox: int, oy: int, w: int, h: int) -> list[PlateCandidate]:
        reads: list[PlateCandidate] = self.client.ask("read", (crop, ox, oy, w, h))
        return reads


@dataclass
class PoolClients:
    """Builds one camera's pool clients; all of them send that camera's priority now."""

    config: VigilConfig
    priority: Callable[[], Priority]

    def client(self, kind: PoolKind, camera: CameraConfig, cls: Any = PoolClient, **kw: Any) -> Any:
        server = find_server(self.config, kind, camera.id)
        return cls(camera.id, server, self.priority, self.config.cluster.pool.timeout_s, **kw)

    def objects(self, camera: CameraConfig) -> PooledDetector:
        det: PooledDetector = self.client("objects", camera, PooledDetector)
        return det

    def faces(self, camera: CameraConfig) -> FacePipeline:
        import ray

        detector = self.client("faces", camera, PooledDetector)
        info = ray.get(detector.server.info.remote(), timeout=self.config.cluster.pool.timeout_s)
        embedder = self.client(
            "faces", camera, PooledFaceEmbedder, name=info["embedder"], dim=info["dim"]
        )
        quality = self.config.faces.quality
        return FacePipeline(
            detector, embedder, min_quality=quality.min_quality, min_face_px=quality.min_face_px
        )

    def plates(self, camera: CameraConfig) -> PooledPlateReader:
        from vigil.system.plates import profile_from_config

        profile = profile_from_config(self.config.plates)
        return PooledPlateReader(self.client("plates", camera), profile)


def camera_models(kinds: Sequence[str], clients: PoolClients) -> CameraModels:
    """The model factories of a camera actor: pooled for ``kinds``, local for the rest."""
    return CameraModels(
        objects=clients.objects if "objects" in kinds else None,
        faces=clients.faces if "faces" in kinds else None,
        plates=clients.plates if "plates" in kinds else None,
    )
