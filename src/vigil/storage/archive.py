"""The sighting archive index: approximate nearest-neighbour search over stored face embeddings.

Layout of one index directory:

* ``vectors.f32`` - the raw float32 vectors, row ``i`` at byte ``i * dim * 4`` for vector id
  ``i`` (a sparse file addressed by the database's ``sighting_embeddings.vector_id``). It stays on
  disk and is memory-mapped: only the rows a search re-scores are paged in. Removing an id
  overwrites its row with zeros and fsyncs at once, so purged biometrics are gone from this file.
* ``index.faiss`` - FAISS IVF-PQ (inverted lists of ``pq_m``-byte product-quantisation codes plus
  8-byte ids, about ``pq_m + 8`` bytes of RAM per vector) once at least ``train_at`` vectors exist;
  below that, search is exact over ``vectors.f32`` (``ids.npy`` lists the live ids).
* ``meta.json`` - parameters, mode and ``high_water`` (the largest id ever added), so after a crash
  the caller adds the embeddings with larger ids from the database (:func:`catch_up`).

Search runs in two stages: IVF-PQ proposes ``rerank`` candidates per query from ``nprobe`` lists,
then the candidates are re-scored exactly from ``vectors.f32``. Trade-offs: ``nprobe`` buys recall
with scan time; ``rerank`` buys recall with disk/page-cache reads (``rerank * dim * 4`` bytes per
query); ``pq_m`` buys candidate quality with RAM. Scores are inner products (cosine for unit
vectors), returned best first; missing results are id ``-1`` with score ``-inf``.

The :class:`ArchiveIndex` protocol is what callers use; :class:`ShardedArchive` spreads ids over
several indexes (by ``id % shards``) and merges their answers, the shape a cluster deployment takes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError
from vigil.storage.types import Float32

log = logging.getLogger(__name__)
Int64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SearchResult:
    """``ids`` and ``scores`` of shape ``(queries, k)``, best first; ``-1``/``-inf`` pad."""

    ids: Int64
    scores: Float32


@dataclass(frozen=True, slots=True)
class ArchiveParams:
    """Knobs of a :class:`FaissArchiveIndex` (see the module docstring for the trade-offs).

    ``train_at`` defaults to ``39 * nlist`` (FAISS's minimum sample for stable k-means).
    """

    dim: int = 512
    nlist: int = 4096
    pq_m: int = 64
    nprobe: int = 128
    rerank: int = 100
    train_at: int | None = None
    train_sample: int = 200_000

    def __post_init__(self) -> None:
        if self.dim % self.pq_m:
            raise ValidationError(f"dim ({self.dim}) must be a multiple of pq_m ({self.pq_m})")
        if not 1 <= self.nprobe <= self.nlist:
            raise ValidationError(f"nprobe must be in [1, nlist={self.nlist}], got {self.nprobe}")

    @property
    def train_threshold(self) -> int:
        return self.train_at if self.train_at is not None else 39 * self.nlist


class ArchiveIndex(Protocol):
    """What the retrospective search and the purge use; implementations may be sharded."""

    def add(self, ids: Int64, vectors: Float32) -> None: ...

    def remove(self, ids: Int64) -> int: ...

    def search(self, queries: Float32, k: int) -> SearchResult: ...

    def save(self) -> None: ...

    def __len__(self) -> int: ...


def _check(ids: npt.ArrayLike, vectors: npt.ArrayLike, dim: int) -> tuple[Int64, Float32]:
    id_arr = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    vec = np.ascontiguousarray(vectors, dtype=np.float32)
    if vec.ndim != 2 or vec.shape != (len(id_arr), dim):
        raise ValidationError(f"vectors must be ({len(id_arr)}, {dim}), got {vec.shape}")
    if len(id_arr) and (id_arr.min() < 0 or len(np.unique(id_arr)) != len(id_arr)):
        raise ValidationError("ids must be distinct and >= 0")
    if not bool(np.isfinite(vec).all()):
        raise ValidationError("vectors must be finite")
    return id_arr, vec


class _VectorFile:
    """Raw vectors on disk, row ``id`` at offset ``id * row``; memory-mapped for reads."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self.row = path, dim, dim * 4
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._map: np.memmap[Any, np.dtype[np.float32]] | None = None

    def write(self, ids: Int64, vectors: Float32) -> None:
        order = np.argsort(ids)
        ids, vectors = ids[order], vectors[order]
        # Contiguous runs of ids become one pwrite (bulk loads are one call per chunk).
        breaks = np.flatnonzero(np.diff(ids) != 1) + 1
        for run_ids, run_vecs in zip(np.split(ids, breaks), np.split(vectors, breaks), strict=True):
            if len(run_ids):
                os.pwrite(self.fd, run_vecs.astype("<f4").tobytes(), int(run_ids[0]) * self.row)
        self._map = None

    def erase(self, ids: Int64) -> None:
        zero = bytes(self.row)
        size = os.fstat(self.fd).st_size
        for i in ids.tolist():
            if i * self.row < size:
                os.pwrite(self.fd, zero, i * self.row)
        os.fsync(self.fd)
        self._map = None

    def read(self, ids: Int64) -> Float32:
        """Rows for ``ids`` (``-1`` and ids past the end read as zeros)."""
        size = os.fstat(self.fd).st_size // self.row
        if self._map is None or len(self._map) != size:
            self._map = (
                np.memmap(self.path, dtype="<f4", mode="r", shape=(size, self.dim))
                if size
                else None
            )
        if self._map is None:
            return np.zeros((*ids.shape, self.dim), np.float32)
        ok = (ids >= 0) & (ids < size)
        out = np.asarray(self._map[np.where(ok, ids, 0)], dtype=np.float32)  # one gather
        if not ok.all():
            out[~ok] = 0.0
        return out

    def sync(self) -> None:
        os.fsync(self.fd)

    def close(self) -> None:
        self._map = None
        os.close(self.fd)


def _top_k(ids: Int64, scores: Float32, k: int) -> SearchResult:
    """Best ``k`` of each row (ids ``-1`` never win), padded when fewer exist."""
    scores = np.where(ids >= 0, scores, -np.inf).astype(np.float32)
    if scores.shape[1] < k:
        pad = k - scores.shape[1]
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        ids = np.pad(ids, ((0, 0), (0, pad)), constant_values=-1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    top_ids = np.take_along_axis(ids, order, 1)
    top_scores = np.take_along_axis(scores, order, 1)
    top_ids[~np.isfinite(top_scores)] = -1
    return SearchResult(top_ids.astype(np.int64), top_scores.astype(np.float32))


class FaissArchiveIndex:
    """IVF-PQ (exact below ``train_at``) over ``vectors.f32``, persisted in one directory.

    Thread-safe: one lock serialises mutations and searches (FAISS parallelises each search
    internally with OpenMP). Example:

        >>> import tempfile
        >>> idx = FaissArchiveIndex(Path(tempfile.mkdtemp()), ArchiveParams(dim=8, pq_m=4))
        >>> v = np.eye(8, dtype=np.float32)
        >>> idx.add(np.arange(8), v)
        >>> int(idx.search(v[:1], 1).ids[0, 0])
        0
    """

    def __init__(self, directory: Path, params: ArchiveParams | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        meta_path = self.dir / "meta.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            stored = ArchiveParams(**meta["params"])
            self.params = stored if params is None else params
            if self.params.dim != stored.dim:
                raise ValidationError(f"index at {self.dir} has dim {stored.dim}, not {params}")
            self.high_water = int(meta["high_water"])
        else:
            self.params = params or ArchiveParams()
            self.high_water = -1
        self._lock = threading.RLock()
        self._vectors = _VectorFile(self.dir / "vectors.f32", self.params.dim)
        self._ivf: Any = None
        self._ids = np.zeros(0, np.int64)  # live ids while exact
        if (self.dir / "index.faiss").exists():
            import faiss

            self._ivf = faiss.read_index(str(self.dir / "index.faiss"))
            self._ivf.nprobe = self.params.nprobe
        elif (self.dir / "ids.npy").exists():
            self._ids = np.load(self.dir / "ids.npy")

    def tune(self, *, nprobe: int | None = None, rerank: int | None = None) -> None:
        """Change the search-time knobs (no rebuild); they are saved with the next :meth:`save`."""
        from dataclasses import replace

        with self._lock:
            self.params = replace(
                self.params,
                nprobe=self.params.nprobe if nprobe is None else nprobe,
                rerank=self.params.rerank if rerank is None else rerank,
            )
            if self._ivf is not None:
                self._ivf.nprobe = self.params.nprobe

    @property
    def trained(self) -> bool:
        """Whether searches go through IVF-PQ (``False``: exact search)."""
        return self._ivf is not None

    def __len__(self) -> int:
        with self._lock:
            return int(self._ivf.ntotal) if self.trained else len(self._ids)

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Add vectors under their ids (ids already present are replaced)."""
        id_arr, vec = _check(ids, vectors, self.params.dim)
        if not len(id_arr):
            return
        with self._lock:
            # Only ids up to high_water can be present; new ids skip the O(N) removal scan.
            self._remove_from_index(id_arr[id_arr <= self.high_water])
            self._vectors.write(id_arr, vec)
            if self.trained:
                self._ivf.add_with_ids(vec, id_arr)
            else:
                self._ids = np.concatenate([self._ids, id_arr])
                if len(self._ids) >= self.params.train_threshold:
                    self._train()
            self.high_water = max(self.high_water, int(id_arr.max()))

    def remove(self, ids: npt.ArrayLike, *, persist: bool = True) -> int:
        """Remove ids (purge/retention): the raw rows are zeroed and fsynced at once, and with
        ``persist`` the index file is rewritten so no code of them stays on disk. Returns how
        many of the ids were present."""
        id_arr = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        with self._lock:
            removed = self._remove_from_index(id_arr)
            self._vectors.erase(id_arr)
            if persist and removed:
                self._save_locked()
            return removed

    def _remove_from_index(self, ids: Int64) -> int:
        if not len(ids):
            return 0
        if self.trained:
            import faiss

            return int(self._ivf.remove_ids(faiss.IDSelectorBatch(ids)))
        keep = ~np.isin(self._ids, ids)
        removed = int(len(self._ids) - keep.sum())
        self._ids = self._ids[keep]
        return removed

    def _train(self) -> None:
        import faiss

        p = self.params
        rng = np.random.default_rng(0)
        sample_ids = np.sort(
            rng.choice(self._ids, size=min(p.train_sample, len(self._ids)), replace=False)
        )
        log.info("training IVF-PQ (nlist=%d, m=%d) on %d vectors", p.nlist, p.pq_m, len(sample_ids))
        quantizer = faiss.IndexFlatIP(p.dim)
        ivf = faiss.IndexIVFPQ(quantizer, p.dim, p.nlist, p.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        ivf.train(self._vectors.read(sample_ids))
        ivf.nprobe = p.nprobe
        for start in range(0, len(self._ids), 100_000):
            chunk = self._ids[start : start + 100_000]
            ivf.add_with_ids(self._vectors.read(chunk), chunk)
        self._ivf = ivf
        self._ids = np.zeros(0, np.int64)

    def search(self, queries: npt.ArrayLike, k: int = 10) -> SearchResult:
        """The ``k`` best stored vectors of each query by inner product."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q.reshape(1, -1)
        if q.ndim != 2 or q.shape[1] != self.params.dim:
            raise ValidationError(f"queries must be (N, {self.params.dim}), got {q.shape}")
        if k < 1:
            raise ValidationError(f"k must be >= 1, got {k}")
        with self._lock:
            if not self.trained:
                return self._exact(q, k)
            _, cand = self._ivf.search(q, max(k, self.params.rerank))
            scores = np.empty(cand.shape, np.float32)
            for s in range(0, len(q), 128):  # bounded temporaries: 128 * rerank rows at a time
                vecs = self._vectors.read(cand[s : s + 128])
                scores[s : s + 128] = np.matmul(vecs, q[s : s + 128, :, None])[:, :, 0]
                # A zero row is a purged vector whose index removal a crash lost: never return it.
                maybe = np.flatnonzero(scores[s : s + 128].reshape(-1) == 0.0)
                if len(maybe):
                    dead = ~vecs.reshape(-1, self.params.dim)[maybe].any(axis=1)
                    cand[s : s + 128].reshape(-1)[maybe[dead]] = -1
        return _top_k(cand, scores, k)

    def _exact(self, q: Float32, k: int) -> SearchResult:
        best = SearchResult(np.full((len(q), 0), -1, np.int64), np.zeros((len(q), 0), np.float32))
        for start in range(0, len(self._ids), 50_000):
            chunk = self._ids[start : start + 50_000]
            scores = q @ self._vectors.read(chunk).T
            ids = np.broadcast_to(chunk, scores.shape)
            part = _top_k(np.ascontiguousarray(ids), scores, min(k, len(chunk)))
            best = _top_k(
                np.concatenate([best.ids, part.ids], 1),
                np.concatenate([best.scores, part.scores], 1),
                k,
            )
        return _top_k(best.ids, best.scores, k)

    def save(self) -> None:
        """Persist the index atomically (write to a temporary file, fsync, rename)."""
        with self._lock:
            self._save_locked()

    def _save_locked(self) -> None:
        import faiss

        self._vectors.sync()
        if self.trained:
            tmp = self.dir / "index.faiss.tmp"
            faiss.write_index(self._ivf, str(tmp))
            _fsync_replace(tmp, self.dir / "index.faiss")
            (self.dir / "ids.npy").unlink(missing_ok=True)
        else:
            tmp = self.dir / "ids.tmp.npy"
            np.save(tmp, self._ids)
            _fsync_replace(tmp, self.dir / "ids.npy")
        meta = {"params": asdict(self.params), "high_water": self.high_water}
        tmp = self.dir / "meta.json.tmp"
        tmp.write_text(json.dumps(meta))
        _fsync_replace(tmp, self.dir / "meta.json")

    def memory_bytes(self) -> int:
        """RAM held by the index structures (codes, ids, centroids; not the memory-mapped rows)."""
        with self._lock:
            if not self.trained:
                return int(self._ids.nbytes)
            ivf = self._ivf
            invlists = ivf.invlists
            n = sum(invlists.list_size(i) for i in range(ivf.nlist))
            codes = n * (invlists.code_size + 8)
            centroids = ivf.nlist * ivf.d * 4
            pq = ivf.pq.M * ivf.pq.ksub * ivf.pq.dsub * 4
            return int(codes + centroids + pq)

    def close(self) -> None:
        self._vectors.close()


def _fsync_replace(tmp: Path, final: Path) -> None:
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class ShardedArchive:
    """Several archive indexes behind one interface: id ``i`` lives in shard ``i % len(shards)``;
    a search asks every shard and merges by score. Shards may be local or remote clients."""

    def __init__(self, shards: Sequence[ArchiveIndex]) -> None:
        if not shards:
            raise ValidationError("a sharded archive needs at least one shard")
        self.shards = list(shards)

    def _route(self, ids: Int64) -> list[npt.NDArray[np.bool_]]:
        return [ids % len(self.shards) == s for s in range(len(self.shards))]

    def add(self, ids: Int64, vectors: Float32) -> None:
        id_arr = np.asarray(ids, dtype=np.int64)
        for shard, mask in zip(self.shards, self._route(id_arr), strict=True):
            if mask.any():
                shard.add(id_arr[mask], np.asarray(vectors)[mask])

    def remove(self, ids: Int64) -> int:
        id_arr = np.asarray(ids, dtype=np.int64)
        return sum(
            shard.remove(id_arr[mask])
            for shard, mask in zip(self.shards, self._route(id_arr), strict=True)
        )

    def search(self, queries: Float32, k: int) -> SearchResult:
        parts = [shard.search(queries, k) for shard in self.shards]
        ids = np.concatenate([p.ids for p in parts], 1)
        scores = np.concatenate([p.scores for p in parts], 1)
        return _top_k(ids, scores, k)

    def save(self) -> None:
        for shard in self.shards:
            shard.save()

    def __len__(self) -> int:
        return sum(len(s) for s in self.shards)


def catch_up(index: ArchiveIndex, high_water: int, fetch: Any, batch: int = 10_000) -> int:
    """Add embeddings with ids above ``high_water`` (e.g. after a crash lost the unsaved tail).

    ``fetch(after_id, limit)`` returns stored embeddings in id order, e.g.
    :meth:`vigil.storage.Repository.embeddings_after`. Returns how many were added.
    """
    added = 0
    while True:
        rows = fetch(high_water, batch)
        if not rows:
            return added
        ids = np.array([r.vector_id for r in rows], np.int64)
        index.add(ids, np.stack([r.vector for r in rows]))
        high_water = int(ids.max())
        added += len(rows)
