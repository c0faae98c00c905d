"""Turn a folder of face images into templates with the product's own face pipeline.

``vigil eval`` measures the pipeline users run, not a separate research script: each image goes
through the configured detector, the 5-point alignment, the quality assessment and the embedder.
For benchmark folders such as LFW, where each image is centred on the labelled person, the face
whose box centre is nearest the image centre is taken (the LFW convention); an image where no
face is found is a *failure to acquire*, counted and reported, never silently dropped.

Two caches under ``~/.cache/vigil/eval`` (or ``$VIGIL_EVAL_CACHE``): aligned crops per (file list,
detector settings), and templates per (crops, embedder). Detection runs once; each embedder, the
fusion and the verification, identification and calibration commands reuse it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.errors import InputError
from vigil.perception.faces.align import align_faces
from vigil.perception.faces.detectors import FaceDetector
from vigil.perception.faces.embedders import FaceEmbedder
from vigil.perception.faces.quality import assess
from vigil.perception.image import load_image

log = logging.getLogger(__name__)
BATCH = 64
Progress = Callable[[int], None]


@dataclass(frozen=True)
class FaceSet:
    """The central face of each image, aligned; rows with ``found`` False hold zeros."""

    key: str
    paths: list[str]
    perm: npt.NDArray[np.intp]  # row i is row perm[i] of the cache's canonical (sorted) order
    crops: npt.NDArray[np.uint8]
    found: npt.NDArray[np.bool_]
    quality: npt.NDArray[np.float32]
    detector: str

    @property
    def failures(self) -> int:
        return int((~self.found).sum())


def eval_cache_dir() -> Path:
    env = os.environ.get("VIGIL_EVAL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "vigil" / "eval"


def centre_face(boxes: npt.NDArray[np.float32], width: int, height: int) -> int:
    """Index of the face whose box centre is nearest the image centre."""
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    dist = np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)
    return int(np.argmin(dist))


def _key(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:24]


def _save(path: Path, **arrays: npt.NDArray[np.generic]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npy")
    with tmp.open("wb") as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)


def extract_faces(
    paths: Sequence[str | Path],
    detector: FaceDetector,
    *,
    settings: str = "",
    progress: Progress | None = None,
) -> FaceSet:
    """Detect and align the central face of every image (cached on disk).

    The cache is keyed on the *set* of paths (stored in sorted order), so the same images listed
    in another order reuse it.
    """
    str_paths = [str(p) for p in paths]
    canon = sorted(str_paths)
    position = {p: i for i, p in enumerate(canon)}
    perm = np.array([position[p] for p in str_paths], np.intp)
    key = _key(detector.name, settings, *canon)
    cache = eval_cache_dir() / f"faces-{key}.npz"
    if cache.is_file():
        data = np.load(cache)
        if progress:
            progress(len(str_paths))
        return FaceSet(
            key,
            str_paths,
            perm,
            data["crops"][perm],
            data["found"][perm],
            data["quality"][perm],
            detector.name,
        )
    crops = np.zeros((len(str_paths), 112, 112, 3), np.uint8)
    found = np.zeros(len(str_paths), bool)
    quality = np.zeros(len(str_paths), np.float32)
    for i, path in enumerate(str_paths):
        try:
            image = load_image(path)
        except InputError as exc:
            log.warning("skipping unreadable image: %s", exc)
            continue
        dets = detector.detect(image)
        if len(dets) and dets.landmarks is not None:
            j = centre_face(dets.xyxy, image.shape[1], image.shape[0])
            crops[i] = align_faces(image, dets.landmarks[j : j + 1])[0]
            quality[i] = assess(dets.landmarks[j], crops[i]).score
            found[i] = True
        if progress:
            progress(1)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm))
    _save(cache, crops=crops[inverse], found=found[inverse], quality=quality[inverse])
    return FaceSet(key, str_paths, perm, crops, found, quality, detector.name)


def embed_faces(
    faces: FaceSet, embedder: FaceEmbedder, *, tag: str = "", progress: Progress | None = None
) -> npt.NDArray[np.float32]:
    """Templates of a :class:`FaceSet` (zeros where no face was found), cached on disk."""
    cache = eval_cache_dir() / f"templates-{_key(faces.key, embedder.name, tag)}.npy"
    if cache.is_file():
        if progress:
            progress(len(faces.paths))
        out: npt.NDArray[np.float32] = np.load(cache)[faces.perm]
        return out
    emb = np.zeros((len(faces.paths), embedder.dim), np.float32)
    idx = np.nonzero(faces.found)[0]
    for start in range(0, len(idx), BATCH):
        chunk = idx[start : start + BATCH]
        emb[chunk] = embedder.embed(faces.crops[chunk])
        if progress:
            progress(len(chunk))
    if progress:
        progress(len(faces.paths) - len(idx))
    cache.parent.mkdir(parents=True, exist_ok=True)
    canonical = np.empty_like(emb)
    canonical[faces.perm] = emb
    tmp = cache.with_name(cache.stem + ".tmp.npy")
    np.save(tmp, canonical)
    os.replace(tmp, cache)
    return emb
